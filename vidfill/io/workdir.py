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

``key`` names everything that shapes the output: the input (each frame file's name, size and
modification time), the masks' and painted frames' contents, the networks' weights, the frame
count and size, a hash of the settings and the window plan; a work directory whose key differs
belongs to another run and is refused, naming what changed (unless it finished no window yet:
then nothing is lost and it is taken over; or ``restart``: it is emptied and the run starts
over). ``finished`` is written after a window's frames, so that a run
killed at any moment restarts from the last window that was completely recorded.

Safety: vidfill uses only a new folder, an empty one or one holding its own ``state.json``;
never one that is, contains or lies inside anything the run reads or writes; and it deletes only
the files it wrote there (the folder itself only if it created it). Frames and state are written
in private temporary files and renamed into place, and the lock is opened without following a
link, so that nothing planted in the folder is written through. A second run on the same
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

from vidfill.io import safety
from vidfill.io.images import read_image, write_image
from vidfill.config import PipelineConfig
from vidfill.errors import VidfillError

STATE = "state.json"
LOCK = "lock"
MARK = "vidfill_work_dir"
"""The field of ``state.json`` that says vidfill wrote it (its value: the layout version)."""
_FRAME = re.compile(r"\d{6}(\.keyfill)?\.(png|exr)")


def default_location(output: Path) -> Path:
    """``OUTPUT.vidfill-work`` next to the output (also for an output named ``.``)."""
    output = output.resolve() if output.name in ("", "..") else output
    return output.with_name(output.name + ".vidfill-work")


def config_hash(cfg: PipelineConfig) -> str:
    """sha256 of every setting (hex, first 16 digits)."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(path: Path, files: tuple[Path, ...] | None = None, contents: bool = False) -> list:
    """``[resolved path, digest]`` of a file, or of a folder's ``files`` (the images vidfill reads
    from it; default: its entries): the sha256 of each file's name, size and modification time,
    or with ``contents`` of its bytes (for masks: small, and a repainted mask may keep its size
    and be given back its time)."""
    entries = [path] if path.is_file() else sorted(files if files is not None else path.iterdir())
    digest = hashlib.sha256()
    for entry in entries:
        try:
            stat = entry.stat()
            item = safety.sha256(entry) if contents else f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError as exc:
            raise VidfillError(f"{entry}: cannot read ({exc.strerror or exc}"
                               f"{'; a broken link' if entry.is_symlink() else ''})") from exc
        digest.update(f"{entry.name}\0{item}\0".encode())
    return [str(path.resolve()), digest.hexdigest()[:32]]


def weights_hash(models: Any) -> str:
    """sha256 (hex, first 16 digits) of the weights of the networks a run uses (RAFT, the
    flow-edge network, the gated inpainter), and of which of them are absent (their fallbacks)."""
    digest = hashlib.sha256()
    inpainter = getattr(models.inpainter, "model", None)
    for name, network in (("flow", models.flow), ("edges", models.edges), ("inpainter", inpainter)):
        digest.update(f"{name}:{network is None}\0".encode())
        for key, tensor in (network.state_dict().items() if network is not None else ()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


class WorkDir:
    """The finished windows of one run (see the module docstring).

    Opening an existing directory with the same ``key`` resumes it; with another key is a
    VidfillError naming the directory and what changed (unless no window was finished, or
    ``restart``: then it is emptied of what vidfill wrote and taken over). ``protected``:
    ``(what, path)`` of the run's inputs and outputs, which the directory must not be, hold or
    lie inside. The directory is locked until :meth:`remove` or :meth:`release` (or the
    process ends).
    """

    def __init__(self, path: Path, key: dict[str, Any],
                 protected: tuple[tuple[str, Path], ...] = (), restart: bool = False):
        self.path = path
        self.key = json.loads(json.dumps(key))  # as it reads back from JSON
        safety.check_apart(protected, [("the work directory", path)])
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
            if state["key"] != self.key and self.finished and not restart:
                self.release()
                changed = sorted(k for k in self.key.keys() | state["key"].keys()
                                 if self.key.get(k) != state["key"].get(k))
                raise VidfillError(f"{path}: holds {self.finished} finished window(s) of another "
                                   f"run (it differs in {', '.join(changed)}); give --restart to "
                                   "start over, or another --work-dir")
            if state["key"] != self.key:
                self._remove_frames()  # none finished, or --restart: take it over
                self.finished = 0
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
        text = json.dumps({MARK: 1, "key": self.key, "finished": self.finished,
                           "created": self.created}, indent=1)
        with safety.staging_file(self.path / STATE) as (handle, tmp):
            handle.write(text.encode())
            safety.place_file(handle, tmp, self.path / STATE)

    def save(self, window: int, frames: range, images: torch.Tensor,
             keyfill: torch.Tensor | None = None) -> None:
        """Record window number ``window`` as finished: its new ``frames`` (their numbers),
        ``images`` ``(len(frames), 3, H, W)`` uint8 (or float16) and ``keyfill``
        ``(len(frames), 1, H, W)`` bool, their pixels filled from keyframes (None: none).
        Windows must be saved in order."""
        if window != self.finished:
            raise ValueError(f"window {window} saved after {self.finished} finished windows")
        try:
            with safety.staging_folder(self.path / "frames") as tmp:  # private: nothing planted
                for index, (frame, image) in enumerate(zip(frames, images)):
                    name = self._file(frame, ".png" if image.dtype == torch.uint8 else ".exr").name
                    write_image(tmp / name, image)
                    if keyfill is not None and bool(keyfill[index].any()):
                        write_image(tmp / self._file(frame, ".keyfill.png").name,
                                       keyfill[index].expand(3, -1, -1).to(torch.uint8) * 255)
                for file in sorted(tmp.iterdir()):
                    os.replace(file, self.path / "frames" / file.name)  # replaces a link there
                tmp.rmdir()
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
        images = torch.stack([read_image(file) for file in files])
        keyfill = torch.zeros(len(files), 1, *images.shape[-2:], dtype=torch.bool)
        for index, frame in enumerate(frames):
            file = self._file(frame, ".keyfill.png")
            if file.exists():
                keyfill[index] = read_image(file)[:1] > 127
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
        for name in (STATE, LOCK):
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
    try:  # never through a link planted at its name
        handle = os.fdopen(os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644), "r+")
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
