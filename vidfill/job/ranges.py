"""Which frames a job reads and writes (``--frames`` with its ``--handles``), and the numbers
the user calls frames by (an image sequence's own, a video's index)."""

from __future__ import annotations

from vidfill import io
from vidfill.config import PipelineConfig
from vidfill.errors import VidfillError
from vidfill.job.spec import Job
from vidfill.windows import plan_windows


def frame_range(job: Job, clip: io.ClipSource) -> tuple[tuple[int, int], tuple[int, int]]:
    """Indices ``(lo, hi)`` of the frames read (the range with its handles) and ``(first, stop)``
    of those written, for ``job.frames`` (all frames when None)."""
    if job.frames is None:
        return (0, clip.num_frames), (0, clip.num_frames)
    what = f"--frames {job.frames[0]}:{job.frames[1]}"
    first, stop = (frame_index(clip, n, what) for n in job.frames)
    stop += 1
    lo, hi = max(0, first - job.handles), min(clip.num_frames, stop + job.handles)
    if job.handles:
        lo, hi = _on_windows(clip.num_frames, job.cfg, (lo, hi), (first, stop))
    return (lo, hi), (first, stop)


def _on_windows(num_frames: int, cfg: PipelineConfig, read: tuple[int, int],
                written: tuple[int, int]) -> tuple[int, int]:
    """The frames ``read`` (a range with its handles) rounded out to the windows a full run
    cuts the clip into (:func:`vidfill.windows.plan_windows`), so that the range's frames are
    filled by the windows, with the context, that fill them in a full run: out to the start of
    the window before the one that finishes the range's first frame (or an earlier one that
    holds the first handle), which fills the frames it hands over, and to the stop of the
    window that finishes the range's last frame (or a later one). Only that first window's own
    handover is missing, so the frames match the full render's within a level or so, exactly
    when the first window is the clip's (docs/usage.md, --handles).
    ``read`` unchanged where the windows of the frames read would be cut otherwise."""
    plan = plan_windows(num_frames, cfg.window)
    (lo, hi), (first, stop) = read, written
    finishing = [w for w in plan if w.new.start < stop and first < w.finish]
    before = plan[max(0, plan.index(finishing[0]) - 1)]  # fills what it hands over
    lo = min(before.start, max(w.start for w in plan if w.start <= lo))
    hi = max(finishing[-1].stop, min((w.stop for w in plan if w.stop >= hi), default=num_frames))
    full = {(w.start, w.stop) for w in plan}
    if all((lo + w.start, lo + w.stop) in full for w in plan_windows(hi - lo, cfg.window)
           if lo + w.new.start < stop and first < lo + w.finish):
        return lo, hi
    return read


def frame_number(clip: io.ClipSource, index: int) -> int:
    """The number the user gives frame ``index`` of ``clip`` by: an image sequence's frame
    number (1001 in ``plate.1001.png``), a video's index."""
    return clip.info.numbers[index] if clip.info.numbers is not None else index


def frame_index(clip: io.ClipSource, number: int, what: str) -> int:
    """The index of the frame the user calls ``number`` (:func:`frame_number`); a VidfillError
    starting with ``what`` (the option) if there is none."""
    numbers = clip.info.numbers if clip.info.numbers is not None else range(clip.num_frames)
    if number not in numbers:
        kind = "frame numbers" if clip.info.numbers is not None else "frame indices (from 0)"
        raise VidfillError(f"{what}: {clip.info.source} has no frame {number} (its {kind} are "
                           f"{numbers[0]}..{numbers[-1]})")
    return numbers.index(number)

