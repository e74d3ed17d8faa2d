"""A range re-render (``--frames A:B --handles N``) splices with the full render (issue 32): the
frames it writes differ from the same frames of a full render with the same settings by at most
the tolerance docs/usage.md states for the handles (benchmarks/ranges.py measures it)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import translating_clip, write_pngs
from vidfill import load_preset
from vidfill import io
from vidfill.job import Job, run_job

HANDLES = 1
"""The handles the stated tolerance is for (any >= 1: they are rounded out to windows)."""
SEAM_MAX, SEAM_MEAN = 2, 0.1
"""With :data:`HANDLES`: the largest and the mean absolute difference inside the hole (8-bit
levels) on any frame of the range, its seam frames included, to the full render's."""
SMALL_WINDOWS = {"length": 12, "overlap": 3, "lookahead": 3}
"""Windows short enough that a short clip is cut into several (the default's are 60 frames)."""


def moving_hole(num_frames: int, h: int, w: int, radius: int) -> np.ndarray:
    """(T, H, W) bool: a disc crossing the frame."""
    masks = np.zeros((num_frames, h, w), np.uint8)
    for t in range(num_frames):
        cx = int(radius + (w - 2 * radius) * t / max(1, num_frames - 1))
        cv2.circle(masks[t], (cx, h // 2 + int(h / 6 * np.sin(t / 4))), radius, 1, -1)
    return masks.astype(bool)


def renders(tmp_path: Path, frames: np.ndarray, masks: np.ndarray, first: int, last: int,
            handles: int, window: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The full render's frames ``first..last`` and the range re-render's, (N, 3, H, W) uint8."""
    folder = write_pngs(tmp_path / "frames", frames, "f.{}.png", 1001)
    mask_folder = write_pngs(tmp_path / "masks", masks, "m.{}.png", 1001)
    cfg = load_preset("default").replace(flow={"method": "dis"}, window=window or {})
    out = {}
    for name, fields in (("full", {}), ("range", {"frames": (1001 + first, 1001 + last),
                                                  "handles": handles})):
        run_job(Job(folder, mask_folder, tmp_path / name, cfg, download=False, **fields))
        out[name], _ = io.read_frames(tmp_path / name)
    return out["full"][first:last + 1], out["range"]


def hole_differences(full: torch.Tensor, part: torch.Tensor, holes: np.ndarray) -> list[tuple[int, float]]:
    """Per frame, the max and mean absolute difference inside the hole, 8-bit levels."""
    assert full.shape == part.shape
    rows = []
    for a, b, hole in zip(full, part, torch.from_numpy(holes)):
        d = (a.int() - b.int()).abs()[:, hole]
        rows.append((int(d.max()), float(d.float().mean())))
    return rows


def test_handles_are_rounded_out_to_the_full_runs_windows():
    """From the start of the window before the one that finishes the range's first frame to the
    stop of the one that finishes its last; a clip of one window is read whole."""
    from vidfill.job.ranges import _on_windows

    cfg = load_preset("default")
    small = cfg.replace(window={"length": 16, "overlap": 4, "lookahead": 4})
    # windows of 16 on 40 frames: 0-15, 8-23, 16-31, 24-39 (frames 20-27 finished by 16-31)
    assert _on_windows(40, small, (16, 32), (20, 28)) == (8, 32)
    assert _on_windows(40, small, (12, 36), (20, 28)) == (8, 40)
    assert _on_windows(40, cfg, (15, 25), (16, 24)) == (0, 40)
    # default windows on 300 frames: 0-59, 35-94, 70-129, 105-164, ...
    assert _on_windows(300, cfg, (99, 131), (100, 130)) == (35, 165)


@pytest.mark.slow
def test_a_range_in_the_first_windows_is_the_full_render_exactly(tmp_path):
    """Handles that round out to the clip's start: the range re-render fills what the full
    render fills, the same frames (one window: the whole clip is read)."""
    frames = translating_clip(16, h=48, w=64).permute(0, 2, 3, 1).numpy()
    masks = moving_hole(16, 48, 64, 7)
    full, part = renders(tmp_path, frames, masks, 6, 9, handles=1)
    assert torch.equal(full, part)


@pytest.mark.slow
def test_a_range_with_the_stated_handles_is_within_the_stated_tolerance(tmp_path):
    """A range in the middle of a clip, HANDLES frames of context each side, the clip longer on
    both sides: its frames, the seam frames first, differ from the full render's by at most the
    tolerance docs/usage.md states."""
    num_frames, first, last = 36, 20, 23  # windows 0-11, 6-17, 12-23, 18-29, 24-35
    frames = translating_clip(num_frames, h=64, w=96, dx=3, dy=1, seed=2).permute(0, 2, 3, 1).numpy()
    masks = moving_hole(num_frames, 64, 96, 9)
    full, part = renders(tmp_path, frames, masks, first, last, HANDLES, SMALL_WINDOWS)
    rows = hole_differences(full, part, masks[first:last + 1])
    seams = (rows[0], rows[-1])
    assert all(m <= SEAM_MAX and mean <= SEAM_MEAN for m, mean in seams), seams
    assert all(m <= SEAM_MAX and mean <= SEAM_MEAN for m, mean in rows), rows


@pytest.mark.slow
@pytest.mark.shared
def test_a_range_of_a_shared_clip_splices_with_the_full_render(shared, tmp_path):
    """Tennis (40 frames at 432x240, a moving blob), DIS, windows of 16: frames 20..27 with
    HANDLES handles (read from 8 to 31) against the full render, inside the hole, the seam frames first
    (benchmarks/ranges.py measures 40 frames and more handles)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from completion import blob_holes, load_clip

    clip = shared / "data" / "clips" / "davis480p_tennis"
    frames = load_clip(clip, 40)
    masks = blob_holes(len(frames), moving=True, seed=3)[:, 0].numpy()
    first, last = 20, 27  # windows 0-15, 8-23, 16-31, 24-39 (as benchmarks/ranges.py --set ...)
    full, part = renders(tmp_path, frames.permute(0, 2, 3, 1).numpy(), masks, first, last, HANDLES,
                         {"length": 16, "overlap": 4, "lookahead": 4})
    rows = hole_differences(full, part, masks[first:last + 1])
    seams = (rows[0], rows[-1])
    assert all(m <= SEAM_MAX and mean <= SEAM_MEAN for m, mean in seams), seams
    assert all(m <= SEAM_MAX and mean <= SEAM_MEAN for m, mean in rows), rows


@pytest.mark.slow
def test_a_range_under_a_still_overlay_estimates_it_from_the_clips_start(tmp_path):
    """Overlay recovery estimates the overlay from the clip's first frames in a range re-render
    too (not from the first frames it reads), so that a logo removed in a range splices with the
    full render: identical frames where recovery leaves no hole."""
    num_frames, first, last = 36, 26, 29  # windows of 12: the range reads from frame 12 on
    scene = translating_clip(num_frames, h=64, w=96, dx=3, dy=1, seed=4)
    alpha = torch.zeros(1, 64, 96)
    alpha[:, 6:20, 50:90] = 0.5  # a grey box at 0.5, top right
    shown = (alpha * 0.9 * 255 + (1 - alpha) * scene.float()).round().to(torch.uint8)
    masks = np.broadcast_to((alpha[0] > 0).numpy(), (num_frames, 64, 96)).copy()
    full, part = renders(tmp_path, shown.permute(0, 2, 3, 1).numpy(), masks, first, last, HANDLES,
                         SMALL_WINDOWS)
    rows = hole_differences(full, part, masks[first:last + 1])
    assert all(m <= SEAM_MAX and mean <= SEAM_MEAN for m, mean in rows), rows
