"""One clip from files to file: read lazily, fill in windows, write as windows finish.

Used by ``vidfill INPUT MASKS -o OUTPUT`` and by every clip of ``vidfill batch`` (also as a
Ray task: a :class:`Job` is a frozen, picklable description of the work). The library's entry
point is ``run_job(Job(...))``, importable from here. The rooms:

- :mod:`vidfill.job.spec`: what a job is, :class:`Job`, and the checks of its values.
- :mod:`vidfill.job.ranges`: which frames are read and written (``--frames``, ``--handles``)
  and the numbers the user calls them by.
- :mod:`vidfill.job.inputs`: the job's clip opened, its masks, painted frames and overlay image.
- :mod:`vidfill.job.run`: the run, the fill and the writing of its outputs (and the work
  directory of ``--resume``); the keyframes a run would paint.
- :mod:`vidfill.job.profile`: ``--profile``, where a run's time and memory went (a table and
  a JSON file; ``benchmarks/stage_profile.py`` uses it too).
"""

from vidfill.job.run import run_job
from vidfill.job.spec import Job

__all__ = ["Job", "run_job"]
