"""The pieces of io's one-line errors (:class:`~vidfill.errors.VidfillError`): a path that must
exist, the system's reason for a failure, a size as the user sees it."""

from __future__ import annotations

from pathlib import Path

import av

from vidfill.errors import VidfillError


def require(path: Path) -> None:
    """A VidfillError naming ``path`` unless it exists."""
    if not path.exists():
        raise VidfillError(f"{path}: no such file or folder")


def reason(exc: OSError | av.FFmpegError) -> str:
    """Why ``exc`` failed, as the system says it (``No space left on device``)."""
    return str(exc.strerror or exc)


def wxh(shape: tuple[int, ...]) -> str:
    """``(H, W, ...)`` as ``WxH``."""
    return f"{shape[1]}x{shape[0]}"
