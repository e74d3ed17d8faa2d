"""``--profile FILE.json``: where a run's time went and how much memory it took, as a table on
stderr and a JSON file. One source for the figures: the command line and
``benchmarks/stage_profile.py`` both use :func:`build_profile` and :func:`profile_table`.

The file (one object; seconds as floats, ``null`` where a figure does not apply)::

    {"vidfill_profile": 1, "vidfill": "0.1.0", "commit": "<git HEAD of a checkout, else null>",
     "date": "2026-12-07T07:30:00+00:00", "device": "cpu", "gpu": null, "torch": "2.5.1",
     "threads": 2, "input": ..., "output": ..., "preset": "default", "settings": {...},
     "frames": 10, "frames_written": 10, "width": 160, "height": 96,
     "total_s": 3.2, "s_per_frame": 0.32, "peak_rss_gb": 0.91, "peak_cuda_gb": null,
     "stages_s": {"flow": 1.2, ...}, "other_s": 0.4}

``stages_s``: the seconds of each stage (:meth:`vidfill.progress.Reporter.stage`), summed over
the windows, slowest first; ``other_s``: the rest of the total (opening the clip, building the
networks, decoding, encoding). Peak RSS is the process's own (``getrusage``), since it started;
peak CUDA memory is :func:`torch.cuda.max_memory_allocated` during the run. GB are 2**30 bytes,
as the benchmark tables have always had them.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import torch

from vidfill.errors import VidfillError
from vidfill.io import safety

MARK = "vidfill_profile"
"""Key (value 1) that makes a JSON file vidfill's profile: a later run may replace it."""
GB = 2 ** 30
_REPO = Path(__file__).resolve().parents[2]
"""The checkout vidfill runs from, when it runs from one (a commit is then cheap to know)."""


def peak_rss_gb() -> float | None:
    """Peak resident memory of this process so far, in GB (None where getrusage is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak * (1 if sys.platform == "darwin" else 1024) / GB


def peak_cuda_gb(device: torch.device) -> float | None:
    """Most CUDA memory allocated on ``device`` since its peak was last reset, in GB; None off CUDA."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / GB


def _version() -> str | None:
    try:
        return metadata.version("vidfill")
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    """HEAD of the git checkout vidfill runs from; None for an installed copy (or without git)."""
    if not (_REPO / ".git").exists():
        return None
    try:
        return subprocess.run(["git", "-C", str(_REPO), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def build_profile(timings: Mapping[str, float], total_s: float, frames: int,
                  size: tuple[int, int], device: torch.device | str, *, written: int | None = None,
                  **context) -> dict:
    """The profile of a run: ``timings`` (stage name -> seconds, summed over windows) of a run that
    took ``total_s`` seconds to fill ``frames`` frames of ``size`` (H, W) on ``device``, of which
    it wrote ``written`` (None: all), with the peak memory now; ``context``: more fields (input,
    preset, ...), placed before the figures. Seconds are kept to the microsecond."""
    device = torch.device(device)
    stages = {name: round(s, 6) for name, s in sorted(timings.items(), key=lambda kv: -kv[1])}
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    rss, cuda = peak_rss_gb(), peak_cuda_gb(device)
    h, w = size
    return {MARK: 1, "vidfill": _version(), "commit": _commit(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "device": str(device), "gpu": gpu, "torch": torch.__version__,
            "threads": torch.get_num_threads(), **context,
            "frames": frames, "frames_written": frames if written is None else written,
            "width": w, "height": h, "total_s": round(total_s, 6),
            "s_per_frame": round(total_s / frames, 6) if frames else None,
            "peak_rss_gb": None if rss is None else round(rss, 4),
            "peak_cuda_gb": None if cuda is None else round(cuda, 4),
            "stages_s": stages, "other_s": round(max(0.0, total_s - sum(timings.values())), 6)}


def profile_table(profile: Mapping) -> list[str]:
    """The lines of the table a profile is shown as: one per stage (seconds, s/frame, share of
    the total), the rest, the total, the peak memory."""
    total, frames = profile["total_s"], profile["frames"]
    where = f"{profile['device']}" + (f" ({profile['gpu']})" if profile.get("gpu") else "")
    preset = f", --pipeline {profile['preset']}" if profile.get("preset") else ""
    lines = [f"profile: {frames} frame(s) at {profile['width']}x{profile['height']} on {where}, "
             f"{profile['threads']} thread(s){preset}",
             f"  {'stage':<14}{'s':>9}{'s/frame':>9}{'share':>7}"]
    rows = [*profile["stages_s"].items(), ("other", profile["other_s"]), ("total", total)]
    for name, seconds in rows:
        per_frame = f"{seconds / frames:9.3f}" if frames else f"{'-':>9}"
        share = f"{seconds / total:7.0%}" if total > 0 else f"{'-':>7}"
        lines.append(f"  {name:<14}{seconds:9.2f}{per_frame}{share}")
    memory = [f"peak RSS {_gb(profile['peak_rss_gb'])}"]
    if profile.get("peak_cuda_gb") is not None:
        memory.append(f"peak CUDA memory {_gb(profile['peak_cuda_gb'])}")
    lines.append("  " + ", ".join(memory))
    return lines


def _gb(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f} GB"


# --- the file ------------------------------------------------------------------------------------

def _is_profile(path: Path) -> bool:
    """Whether ``path`` is a plain file holding a profile vidfill wrote."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get(MARK) == 1


def check_profile_target(path: Path, overwrite: bool = False) -> None:
    """VidfillError unless the profile can be written at ``path``: a ``.json`` name that is not a
    folder, and new or an earlier profile (anything else only with ``overwrite``)."""
    if path.suffix.lower() != ".json":
        raise VidfillError(f"{path}: --profile is written as JSON; give a name ending in .json")
    if path.is_dir():
        raise VidfillError(f"{path}: --profile is a folder; give a file name ending in .json")
    if (path.exists() or path.is_symlink()) and not overwrite and not _is_profile(path):
        raise VidfillError(f"{path}: --profile exists and is not a vidfill profile; give another "
                           "name, or --overwrite to replace it")


def write_profile(path: Path, profile: Mapping, overwrite: bool = False,
                  reads: tuple[tuple[str, Path], ...] = ()) -> None:
    """Write ``profile`` as JSON to ``path``, through a private temporary file renamed into place,
    after the checks of :func:`check_profile_target` and that it is none of ``reads`` (made again:
    the paths may have changed during the run)."""
    check_profile_target(path, overwrite)
    safety.check_apart(reads, [("--profile", path)])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with safety.staging_file(path) as (handle, tmp):
            handle.write((json.dumps(profile, indent=1, default=str) + "\n").encode())
            safety.place_file(handle, tmp, path.absolute())
    except OSError as exc:
        raise VidfillError(f"{path}: cannot write the profile ({exc.strerror or exc})") from exc
