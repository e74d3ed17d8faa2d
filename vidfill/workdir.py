"""The work directory of a resumable run: each finished window's frames and a small JSON state.

Layout (default ``OUTPUT.vidfill-work/`` next to the output)::

    state.json        {"key": {...what the run is...}, "finished": N}
    frames/000123.png the finished frames, lossless, named by frame number

``key`` names the input and masks (path, size and modification time), the frame count and
size, a hash of the settings, the flow method and the window plan; a work directory whose key
differs belongs to another run and is refused. ``finished`` is written after a window's frames,
so that a run killed at any moment restarts from the last window that was completely recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from vidfill import io
from vidfill.config import PipelineConfig
from vidfill.errors import VidfillError

STATE = "state.json"


def default_location(output: Path) -> Path:
    """``OUTPUT.vidfill-work`` next to the output."""
    return output.with_name(output.name + ".vidfill-work")


def config_hash(cfg: PipelineConfig) -> str:
    """sha256 of every setting (hex, first 16 digits)."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(path: Path) -> list:
    """``[resolved path, size, mtime_ns]`` of a file; for a folder, the newest and summed entries."""
    stats = [path.stat()] if path.is_file() else [p.stat() for p in path.iterdir()]
    return [str(path.resolve()), sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats),
                                                                       default=0)]


class WorkDir:
    """The finished windows of one run (see the module docstring).

    Opening an existing directory with the same ``key`` resumes it; with another key is a
    VidfillError naming the directory.
    """

    def __init__(self, path: Path, key: dict[str, Any]):
        self.path = path
        self.key = json.loads(json.dumps(key))  # as it reads back from JSON
        state_file = path / STATE
        if state_file.is_file():
            try:
                state = json.loads(state_file.read_text())
                stored, self.finished = state["key"], int(state["finished"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise VidfillError(f"{state_file}: unreadable work state ({exc}); delete "
                                   f"{path} to start over") from exc
            if stored != self.key:
                changed = sorted(k for k in self.key.keys() | stored.keys()
                                 if self.key.get(k) != stored.get(k))
                raise VidfillError(f"{path}: holds another run (differs in {', '.join(changed)}); "
                                   "delete it or give another --work-dir")
        else:
            self.finished = 0
            try:
                (path / "frames").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise VidfillError(f"{path}: cannot create the work directory "
                                   f"({exc.strerror or exc})") from exc
            self._write_state()

    def _file(self, frame: int) -> Path:
        return self.path / "frames" / f"{frame:06d}.png"

    def _write_state(self) -> None:
        tmp = self.path / f".{STATE}.tmp"
        tmp.write_text(json.dumps({"key": self.key, "finished": self.finished}, indent=1))
        os.replace(tmp, self.path / STATE)

    def save(self, window: int, frames: range, images: torch.Tensor) -> None:
        """Record window number ``window`` as finished: its new ``frames`` (their numbers) and
        ``images`` ``(len(frames), 3, H, W)`` uint8. Windows must be saved in order."""
        if window != self.finished:
            raise ValueError(f"window {window} saved after {self.finished} finished windows")
        try:
            for frame, image in zip(frames, images):
                io.write_png(self._file(frame), image)
            self.finished = window + 1
            self._write_state()
        except OSError as exc:
            raise VidfillError(f"{self.path}: cannot record window {window} "
                               f"({exc.strerror or exc})") from exc

    def load(self, frames: range) -> torch.Tensor:
        """``(len(frames), 3, H, W)`` uint8: recorded frames, by number."""
        return torch.stack([io.read_png(self._file(frame)) for frame in frames])

    def remove(self) -> None:
        """Delete the directory (the run is complete)."""
        shutil.rmtree(self.path, ignore_errors=True)
