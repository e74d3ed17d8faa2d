"""Values are checked where they are final, and bad inputs fail with one line before any work
(issue 29): the dilated and proxy-scaled hole, dilation, frame rates, frames smaller than the
flow estimators take, non-finite pixels of float plates, sequences of mixed bit depths, and
messages that stay one line whatever a path holds."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import write_pngs
from test_float import H, W, hdr_clip, read_exr, write_exr
from test_safety import DIS, clip, frame_folder, no_fill, refused, run  # noqa: F401 (fixtures)
from vidfill.cli import batch
from vidfill.cli.demo import make_clip
from vidfill.config import FlowConfig, MaskConfig, PipelineConfig
from vidfill.errors import ConfigError
from vidfill import io
from vidfill.job import Job
from vidfill.stages.flow import estimate_flow
from vidfill.stages.holes import dilate_holes

QUICK = ("--edges", "none", "--refine", "0", "--no-download")
"""Fewer stages for runs that only need to finish."""


def _images(folder: Path) -> list[Path]:
    """The frames of an output folder, in order (not its hidden files)."""
    return sorted(f for f in folder.iterdir() if not f.name.startswith("."))


def _read_folder(folder: Path) -> np.ndarray:
    """(T, H, W, C) of the images of an output folder, as stored (RGB)."""
    return np.stack([cv2.imread(str(f), cv2.IMREAD_UNCHANGED)[..., ::-1]
                     for f in _images(folder)])


# --- 1, 2. dilation: the final hole is checked, and its size is bounded -------------------------

def test_a_dilation_that_grows_the_hole_over_whole_frames_is_refused(clip, tmp_path, capsys,
                                                                    no_fill):
    video, masks = clip  # 48x64; grown by 40 px, the hole covers frames 2..5
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--dilate", 40, *DIS)
    refused(code, err, "frame(s) 2, 3, 4, 5 are entirely hole", "--dilate 40")
    assert not (tmp_path / "o.mp4").exists()


def test_the_hole_checked_is_the_one_at_the_proxy_size(clip, tmp_path, capsys, no_fill):
    # grown by 24 px no 48x64 frame is all hole; reduced to 24x32 (where any pixel under a
    # hole pixel is one) and grown by the 12 px that --dilate 24 is there, frame 4 is
    video, masks = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--dilate", 24, "--proxy", 0.5,
                    *DIS)
    refused(code, err, "frame(s) 4 are entirely hole", "--dilate 12 scaled to --proxy 0.5")


@pytest.mark.parametrize("args,needles", [
    (["--dilate", "100000"], ["mask.dilate must be <= 1024", "100000"]),
    (["--dilate", "64"], ["--dilate 64", "64x48"]),
    (["--dilate", "64", "--proxy", "0.5"], ["--dilate 32 scaled to --proxy 0.5", "32x24"]),
])
def test_a_dilation_larger_than_the_frame_is_refused_before_any_work(clip, tmp_path, capsys, no_fill,
                                                                    args, needles):
    video, masks = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", *args, *DIS)
    refused(code, err, *needles)
    with pytest.raises(ConfigError, match="mask.dilate must be <= 1024"):
        MaskConfig(dilate=100000)


def test_a_large_dilation_costs_no_more_than_a_small_one():
    mask = torch.zeros(1, 1, 540, 960, dtype=torch.bool)
    mask[0, 0, 100, 200] = True
    start = time.perf_counter()
    grown = dilate_holes(mask, 500)[0, 0]
    assert time.perf_counter() - start < 5  # the elliptic kernel took minutes
    y, x = np.mgrid[:540, :960]
    disk = (y - 100) ** 2 + (x - 200) ** 2 <= 500 ** 2
    assert (grown.numpy() != disk).sum() < 0.001 * disk.sum()  # the disk, to its edge pixels
    small = dilate_holes(mask, 3)[0, 0].numpy().astype(np.uint8)  # OpenCV's ellipse, as before
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    assert np.array_equal(small, cv2.dilate(mask[0, 0].numpy().astype(np.uint8), kernel))


def test_a_large_dilation_on_the_device_matches_the_host(device):
    mask = torch.zeros(2, 1, 200, 300, dtype=torch.bool)
    mask[0, 0, 50, 60] = mask[1, 0, 150:160, 10:20] = True
    for radius in (3, 120):
        assert torch.equal(dilate_holes(mask.to(device), radius).cpu(), dilate_holes(mask, radius))


# --- 3. frame rates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fps", ["1e-9", "1e12", "1/1000003", "1000.5", "2000000001/80000000"])
def test_a_frame_rate_no_video_can_hold_is_refused_before_any_work(frame_folder, tmp_path, capsys,
                                                                  no_fill, fps):
    folder, masks = frame_folder
    code, err = run(capsys, folder, masks, "-o", tmp_path / "o.mp4", "--fps", fps, *DIS)
    refused(code, err, "--fps", "1/1000..1000")
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(ConfigError, match="--fps"):
        Job(input=folder, masks=masks, output=tmp_path / "o.mp4", cfg=PipelineConfig(),
            fps=Fraction(fps))


def test_a_float_frame_rate_is_taken_as_written(tmp_path):
    job = Job(input=tmp_path, masks=tmp_path, output=tmp_path / "o.mp4", cfg=PipelineConfig(),
              fps=29.97)  # not its binary expansion, whose terms no video holds
    assert job.fps == Fraction(2997, 100)
    with pytest.raises(ConfigError, match="--fps must be a positive number, got nan"):
        Job(input=tmp_path, masks=tmp_path, output=tmp_path / "o.mp4", cfg=PipelineConfig(),
            fps=float("nan"))


def test_the_default_frame_rate_of_a_frame_folder_is_checked_too(frame_folder, tmp_path, capsys,
                                                                 no_fill, monkeypatch):
    folder, masks = frame_folder
    monkeypatch.setattr(io, "DEFAULT_FPS", Fraction(10 ** 12))
    code, err = run(capsys, folder, masks, "-o", tmp_path / "o.mp4", *DIS)
    refused(code, err, str(folder), "1000000000000", "--fps")


def test_the_extreme_rates_in_range_are_written(frame_folder, tmp_path, capsys):
    folder, masks = frame_folder
    for fps, suffix in [("1/1000", ".avi"), ("1000", ".mov")]:
        out = tmp_path / f"o{suffix}"
        code, err = run(capsys, folder, masks, "-o", out, "--fps", fps, *DIS, *QUICK)
        assert code == 0, err
        assert io.open_clip(out).info.fps == Fraction(fps)


# --- 4. frames smaller than the flow estimators take ------------------------------------------------

def _small_clip(parent: Path, size: tuple[int, int]) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A PNG folder of 6 frames of ``size`` and one mask with a hole of a quarter of each side."""
    h, w = size
    _, frames, _ = make_clip(6, size=size, seed=2)
    hole = np.zeros((h, w), bool)
    hole[h // 4: h // 4 + max(1, h // 4), w // 2: w // 2 + max(1, w // 4)] = True
    folder = write_pngs(parent / "small", frames, "f{:03d}.png")
    cv2.imwrite(str(parent / "m.png"), hole.astype(np.uint8) * 255)
    return folder, parent / "m.png", frames, hole


# [] = the default: RAFT (DIS without its weights), the flow-edge network, refinement passes
@pytest.mark.parametrize("flow", [["--flow", "dis"], []])
@pytest.mark.parametrize("size", [(16, 4000), (8, 10)])
def test_frames_smaller_than_the_flow_estimators_take_are_filled(tmp_path, capsys, size, flow):
    folder, mask, frames, hole = _small_clip(tmp_path, size)
    code, err = run(capsys, folder, mask, "-o", tmp_path / "out", *flow, "-q", "--no-download")
    assert code == 0, err
    out = _read_folder(tmp_path / "out")
    assert out.shape == frames.shape
    assert np.array_equal(out[:, ~hole], frames[:, ~hole])


@pytest.mark.parametrize("flow", [["--flow", "dis"], []])
def test_a_proxy_smaller_than_the_flow_estimators_take_is_filled(clip, tmp_path, capsys, flow):
    video, masks = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "out", "--proxy", 0.1, *flow, "-q",
                    "--no-download")
    assert code == 0, err
    assert _read_folder(tmp_path / "out").shape[1:3] == (4, 6)


@pytest.mark.parametrize("size", [(8, 10), (8, 512), (4, 6), (2, 2)])
def test_flow_of_tiny_frames_is_estimated_by_both_methods(size):
    from torchvision.models.optical_flow import raft_small

    frames = torch.randint(0, 256, (3, 3, *size), dtype=torch.uint8)
    for model in (None, raft_small(weights=None).eval()):
        result = estimate_flow(frames, FlowConfig(), model)
        assert tuple(result.fwd.shape[-2:]) == result.working_size
        assert torch.isfinite(result.fwd).all() and torch.isfinite(result.bwd).all()


def test_the_edge_network_takes_crops_smaller_than_its_levels():
    from vidfill.config import EdgeConfig
    from vidfill.models.flow_edges import EdgeGenerator
    from vidfill.stages.edges import complete_edges

    flow = torch.randn(1, 2, 8, 512)
    hole = torch.zeros(1, 1, 8, 512, dtype=torch.bool)
    hole[..., 2:6, 200:220] = True
    edges = torch.zeros_like(hole)
    out = complete_edges(EdgeGenerator().eval(), flow, edges, hole, EdgeConfig(context=2))
    assert out.shape == hole.shape


# --- 5. non-finite pixels of float plates -----------------------------------------------------------

def _float_plate(parent: Path, kind: str) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """``hdr_clip`` as an EXR (half) or float TIFF sequence, and a static mask: folder, mask,
    frames (T, H, W, 3), hole (H, W) bool."""
    frames = hdr_clip().astype(np.float32 if kind == "tif" else np.float16)
    folder = parent / "plate"
    folder.mkdir()
    hole = np.zeros((H, W), bool)
    hole[16:32, 20:40] = True
    cv2.imwrite(str(parent / "m.png"), hole.astype(np.uint8) * 255)
    return folder, parent / "m.png", frames, hole


def _write_plate(folder: Path, frames: np.ndarray, kind: str) -> None:
    for t, frame in enumerate(frames):
        if kind == "exr":
            write_exr(folder / f"plate.{1001 + t}.exr", frame)
        else:
            cv2.imwrite(str(folder / f"plate.{1001 + t}.tif"), frame[..., ::-1],
                        [cv2.IMWRITE_TIFF_COMPRESSION, 8])


@pytest.mark.parametrize("kind", ["exr", "tif"])
def test_non_finite_pixels_are_named_filled_and_never_spread(tmp_path, capsys, kind):
    folder, mask, frames, hole = _float_plate(tmp_path, kind)
    bad = frames.copy()
    bad[2, 20, 40, 1] = np.nan  # next to the hole
    bad[5, 31, 19, :] = np.inf
    bad[5, 0, 0, 0] = -np.inf  # far from it
    _write_plate(folder, bad, kind)
    code, err = run(capsys, folder, mask, "-o", tmp_path / "clean", "--flow", "dis", *QUICK)
    assert code == 0, err
    lines = [line for line in err.splitlines() if "not finite" in line]
    assert len(lines) == 1 and "3 pixel(s)" in lines[0] and "1003, 1006" in lines[0], err
    files = _images(tmp_path / "clean")
    out = np.stack([read_exr(f) if kind == "exr" else cv2.imread(str(f), cv2.IMREAD_UNCHANGED)[..., ::-1]
                    for f in files]).astype(np.float32)
    assert np.isfinite(out).all()
    known = np.isfinite(bad).all(-1) & ~hole
    assert np.array_equal(out[known], bad[known].astype(np.float32))  # untouched elsewhere
    # the hole is filled from the other frames as without the bad pixels, not from them
    inside = out[:, hole]
    truth = frames[:, hole].astype(np.float32)
    assert np.abs(np.abs(inside) ** (1 / 2.2) - truth ** (1 / 2.2)).mean() < 0.03


def test_non_finite_pixels_at_a_proxy_are_part_of_its_hole(tmp_path, capsys):
    folder, mask, frames, hole = _float_plate(tmp_path, "exr")
    bad = frames.copy()
    bad[1, 10, 10, :] = np.nan
    _write_plate(folder, bad, "exr")
    code, err = run(capsys, folder, mask, "-o", tmp_path / "clean", "--proxy", 0.5, *DIS, *QUICK)
    assert code == 0, err
    out = np.stack([read_exr(f) for f in _images(tmp_path / "clean")])
    assert out.shape[1:3] == (H // 2, W // 2) and np.isfinite(out).all()


def test_a_frame_that_is_not_finite_anywhere_is_refused(tmp_path, capsys, no_fill):
    folder, mask, frames, _ = _float_plate(tmp_path, "exr")
    bad = frames.copy()
    bad[3] = np.nan
    _write_plate(folder, bad, "exr")
    code, err = run(capsys, folder, mask, "-o", tmp_path / "clean", *DIS)
    refused(code, err, "frame(s) 1004 are entirely hole", "not finite")
    assert not (tmp_path / "clean").exists()


# --- 6. mixed bit depths --------------------------------------------------------------------------

def test_a_sequence_of_mixed_bit_depths_is_read_at_the_deepest_and_says_so(tmp_path, capsys):
    _, frames, masks = make_clip(6, size=(48, 64), seed=4)
    rng = np.random.default_rng(0)
    deep = frames.astype(np.uint16) * 257 + rng.integers(0, 257, frames.shape, dtype=np.uint16)
    folder = tmp_path / "mixed"
    folder.mkdir()
    for t in range(6):  # the first three 8-bit, the rest 16-bit
        image = frames[t] if t < 3 else deep[t]
        cv2.imwrite(str(folder / f"f{t:03d}.png"), image[..., ::-1])
    cv2.imwrite(str(tmp_path / "m.png"), masks[0].astype(np.uint8) * 255)
    code, err = run(capsys, folder, tmp_path / "m.png", "-o", tmp_path / "out", "--flow", "dis",
                    *QUICK)
    assert code == 0, err
    lines = [line for line in err.splitlines() if "mixed types" in line]
    assert len(lines) == 1 and "8-bit" in lines[0] and "16-bit" in lines[0], err
    out = _read_folder(tmp_path / "out")
    assert out.dtype == np.uint16
    outside = ~masks[0]
    assert np.array_equal(out[3:, outside], deep[3:, outside])  # the 16-bit frames kept exactly
    assert np.array_equal(out[:3, outside], frames[:3, outside].astype(np.uint16) * 257)


# --- 7. one line, whatever a path holds -------------------------------------------------------------

@pytest.mark.parametrize("name", ["new\nline.mp4", "esc\x1b[2Jape.mp4", "caf\u00e9\rx.mp4"])
def test_an_error_naming_a_path_with_control_characters_stays_one_line(tmp_path, capsys, name):
    code, err = run(capsys, tmp_path / name, tmp_path / "m.png", "-o", tmp_path / "o.mp4", *DIS)
    escaped = name.encode("unicode_escape").decode("ascii").replace("\\xe9", "\u00e9")
    refused(code, err, escaped, "no such file or folder")
    assert "\x1b" not in err and "\r" not in err


def test_a_warning_naming_a_path_with_a_newline_stays_one_line(clip, tmp_path, capsys):
    video, masks = clip
    odd = tmp_path / "two\nlines.mp4"
    odd.write_bytes(video.read_bytes())
    code, err = run(capsys, odd, masks, "-o", tmp_path / "o.mp4", "--fps", 30, "--flow", "dis",
                    *QUICK)
    assert code == 0, err
    assert "two\\nlines.mp4 keeps its own rate" in err and "two\nlines" not in err


def test_batch_summary_lines_stay_one_line():
    outcomes = [batch.Outcome("a\nb", "failed", "x.mp4: no such\nfile"),
                batch.Outcome("c", "ok", "c\r.mp4", 1.0)]
    lines = batch.summary(outcomes).splitlines()
    assert len(lines) == 3 and "a\\nb: x.mp4: no such\\nfile" in lines[0] and "c\\r.mp4" in lines[1]
