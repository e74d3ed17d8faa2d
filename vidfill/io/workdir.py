"""The work directory of a resumable run: each finished window's frames and a small JSON state.

Layout (default ``OUTPUT.vidfill-work/`` next to the output)::

    state.json        {"vidfill_work_dir": 1, "key": {...what the run is...}, "finished": N,
                       "created": true if vidfill made the folder}
    lock              held (flock) by the run using the directory; holds its pid
    frames/000123.png the finished frames, lossless, named by frame number (.exr, half float:
                      the float frames of a deep source)
    frames/000123.keyfill.png
                      where that frame was filled from keyframes (white), which the next
                      window's handover needs (:mod:`vidfill.windows`)

``key`` names the input and masks (path, size and modification time), the frame count and
size, a hash of the settings, the flow method and the window plan; a work directory whose key
differs belongs to another run and is refused (unless it finished no window yet: then nothing
is lost and it is taken over). ``finished`` is written after a window's frames, so that a run
killed at any moment restarts from the last window that was completely recorded.

Safety: vidfill uses only a new folder, an empty one or one holding its own ``state.json``;
never one that is, contains or lies inside the run's input, masks or output; and it deletes only
the files it wrote there (the folder itself only if it created it). A second run on the same
directory is refused at once while the first holds the lock.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from vidfill.io import media as io
from vidfill.config import PipelineConfig
from vidfill.errors import VidfillError

STATE = "state.json"
LOCK = "lock"
MARK = "vidfill_work_dir"
"""The field of ``state.json`` that says vidfill wrote it (its value: the layout version)."""
_FRAME = re.compile(r"\d{6}(\.keyfill)?\.(png|exr)")


def default_location(output: Path) -> Path:
    """``OUTPUT.vidfill-work`` next to the output."""
    return output.with_name(output.name + ".vidfill-work")


def config_hash(cfg: PipelineConfig) -> str:
    """sha256 of every setting (hex, first 16 digits)."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(path: Path, files: tuple[Path, ...] | None = None) -> list:
    """``[resolved path, size, mtime_ns]`` of a file; for a folder, summed over ``files`` (the
    images vidfill reads from it; default: its entries), with the newest mtime."""
    entries = [path] if path.is_file() else list(files if files is not None else path.iterdir())
    stats = []
    for entry in entries:
        try:
            stats.append(entry.stat())
        except OSError as exc:
            raise VidfillError(f"{entry}: cannot read ({exc.strerror or exc}"
                               f"{'; a broken link' if entry.is_symlink() else ''})") from exc
    return [str(path.resolve()), sum(s.st_size for s in stats),
            max((s.st_mtime_ns for s in stats), default=0)]


class WorkDir:
    """The finished windows of one run (see the module docstring).

    Opening an existing directory with the same ``key`` resumes it; with another key is a
    VidfillError naming the directory (unless no window was finished). ``protected``: the run's
    input, masks and output, which the directory must not be, contain or lie inside. The
    directory is locked until :meth:`remove` or :meth:`release` (or the process ends).
    """

    def __init__(self, path: Path, key: dict[str, Any], protected: tuple[Path, ...] = ()):
        self.path = path
        self.key = json.loads(json.dumps(key))  # as it reads back from JSON
        _check_apart(path, protected)
        created = not path.exists()
        if not created:
            _check_adoptable(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VidfillError(f"{path}: cannot create the work directory "
                               f"({exc.strerror or exc})") from exc
        self._lock = _acquire(path)
        state = _read_state(path)
        if state is None:
            self.finished, self.created = 0, created
        else:
            self.finished, self.created = int(state["finished"]), bool(state.get("created"))
            if state["key"] != self.key and self.finished:
                self.release()
                changed = sorted(k for k in self.key.keys() | state["key"].keys()
                                 if self.key.get(k) != state["key"].get(k))
                raise VidfillError(f"{path}: holds {self.finished} finished window(s) of another "
                                   f"run (differs in {', '.join(changed)}); delete it or give "
                                   "another --work-dir")
            if state["key"] != self.key:
                self._remove_frames()  # none finished: nothing to lose, take it over
        try:
            self._write_state()
            (path / "frames").mkdir(exist_ok=True)
        except OSError as exc:
            self.release()
            raise VidfillError(f"{path}: cannot write the work directory "
                               f"({exc.strerror or exc})") from exc

    def _file(self, frame: int, suffix: str = ".png") -> Path:
        return self.path / "frames" / f"{frame:06d}{suffix}"

    def _write_state(self) -> None:
        tmp = self.path / f".{STATE}.tmp"
        tmp.write_text(json.dumps({MARK: 1, "key": self.key, "finished": self.finished,
                                   "created": self.created}, indent=1))
        os.replace(tmp, self.path / STATE)

    def save(self, window: int, frames: range, images: torch.Tensor,
             keyfill: torch.Tensor | None = None) -> None:
        """Record window number ``window`` as finished: its new ``frames`` (their numbers),
        ``images`` ``(len(frames), 3, H, W)`` uint8 (or float16) and ``keyfill``
        ``(len(frames), 1, H, W)`` bool, their pixels filled from keyframes (None: none).
        Windows must be saved in order."""
        if window != self.finished:
            raise ValueError(f"window {window} saved after {self.finished} finished windows")
        try:
            for index, (frame, image) in enumerate(zip(frames, images)):
                io.write_image(self._file(frame, ".png" if image.dtype == torch.uint8 else ".exr"),
                               image)
                if keyfill is not None and bool(keyfill[index].any()):
                    io.write_image(self._file(frame, ".keyfill.png"),
                                   keyfill[index].expand(3, -1, -1).to(torch.uint8) * 255)
            self.finished = window + 1
            self._write_state()
        except OSError as exc:
            raise VidfillError(f"{self.path}: cannot record window {window} "
                               f"({exc.strerror or exc})") from exc

    def load(self, frames: range) -> tuple[torch.Tensor, torch.Tensor]:
        """Recorded frames, by number: ``(len(frames), 3, H, W)`` uint8 (or float16) images and
        ``(len(frames), 1, H, W)`` bool keyframe fill, as :meth:`save` was given them."""
        files = [self._file(frame, ".exr") for frame in frames]
        files = [f if f.exists() else f.with_suffix(".png") for f in files]
        images = torch.stack([io.read_image(file) for file in files])
        keyfill = torch.zeros(len(files), 1, *images.shape[-2:], dtype=torch.bool)
        for index, frame in enumerate(frames):
            file = self._file(frame, ".keyfill.png")
            if file.exists():
                keyfill[index] = io.read_image(file)[:1] > 127
        return images, keyfill

    def _remove_frames(self) -> None:
        folder = self.path / "frames"
        if folder.is_dir():
            for file in folder.iterdir():
                if _FRAME.fullmatch(file.name) and file.is_file():
                    file.unlink()

    def remove(self) -> None:
        """Delete what vidfill wrote here (the run is complete, or finished no window): the
        recorded frames, the state and the lock, then the folders if they are empty and vidfill
        created them. Anything else that appeared in them is left alone."""
        self._remove_frames()
        for name in (STATE, f".{STATE}.tmp", LOCK):
            (self.path / name).unlink(missing_ok=True)
        self.release()
        for folder in [self.path / "frames"] + ([self.path] if self.created else []):
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: someone else's files are there

    def release(self) -> None:
        """Let another run use the directory."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _check_apart(path: Path, protected: tuple[Path, ...]) -> None:
    work = path.resolve()
    for other in protected:
        target = other.resolve()
        if work == target or work.is_relative_to(target) or target.is_relative_to(work):
            raise VidfillError(f"--work-dir {path}: must not be, contain or lie inside {other} "
                               "(an input or output of this run)")


def _check_adoptable(path: Path) -> None:
    """VidfillError unless ``path`` is an empty folder or vidfill's own work directory."""
    if not path.is_dir():
        raise VidfillError(f"--work-dir {path}: exists and is not a folder")
    if _read_state(path) is not None:
        return
    try:
        others = sorted(p.name for p in path.iterdir() if p.name != LOCK)
    except OSError as exc:
        raise VidfillError(f"--work-dir {path}: cannot list it ({exc.strerror or exc})") from exc
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise VidfillError(f"--work-dir {path}: not a vidfill work directory (it holds {shown}); "
                           "give a new or empty folder")


def _read_state(path: Path) -> dict[str, Any] | None:
    """The state of vidfill's work directory ``path``, or None if it has none."""
    file = path / STATE
    if not file.is_file():
        return None
    try:
        state = json.loads(file.read_text())
        if not isinstance(state, dict) or state.get(MARK) != 1:
            return None
        int(state["finished"]), dict(state["key"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VidfillError(f"{file}: unreadable work state ({exc}); delete {path} to start over") \
            from exc
    return state


def _acquire(path: Path):
    """Hold the lock of ``path`` (an open file), or a VidfillError if another run holds it."""
    try:
        handle = open(path / LOCK, "a+")
    except OSError as exc:
        raise VidfillError(f"--work-dir {path}: cannot write its lock ({exc.strerror or exc})") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "unknown"
        handle.close()
        raise VidfillError(f"--work-dir {path}: another vidfill run (pid {pid}) is using it; wait "
                           "for it to finish or give another --work-dir") from None
    except OSError as exc:  # e.g. a file system without locks
        handle.close()
        raise VidfillError(f"--work-dir {path}: cannot lock it ({exc.strerror or exc}); give a "
                           "folder on a local disk") from exc
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
