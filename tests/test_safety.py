"""Nothing a user owns is lost or silently degraded: work directories, outputs, batch
collisions, settings checked before any work, odd media, and failures that say what happened.

Each test is one case of misuse or odd media; every refusal is one line, exit status 2, and
leaves the user's files as they were.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from conftest import deep_plate, demo_clip, write_pngs
from vidfill import io, windows
from vidfill.cli.main import main
from vidfill.config import FlowConfig, MaskConfig, PipelineConfig
from vidfill.cli.demo import check_demo_place, make_clip, write_clip
from vidfill.errors import ConfigError, VidfillError
from vidfill.job import Job
from vidfill.io import images
from vidfill.io.safety import MANIFEST
from vidfill.io.workdir import WorkDir

T = 6
SIZE = (48, 64)


@pytest.fixture
def clip(tmp_path: Path) -> tuple[Path, Path]:
    """A small mp4 and its mask folder."""
    return demo_clip(tmp_path, T, SIZE, 3)


@pytest.fixture
def frame_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of PNG frames and its mask folder."""
    _, frames, masks = make_clip(T, size=SIZE, seed=4)
    return (write_pngs(tmp_path / "frames", frames, "f{:03d}.png"),
            write_pngs(tmp_path / "fmasks", masks, "m{}.png"))


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def refused(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("vidfill: error: "), (code, err)
    for needle in needles:
        assert needle in lines[0], (needle, err)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def no_fill(monkeypatch):
    """Fail the test if any window is filled: for refusals that must come before any work."""
    def fill(*_args, **_kwargs):
        raise AssertionError("a window was filled before the refusal")
    monkeypatch.setattr(windows, "inpaint_video", fill)


DIS = ("--flow", "dis", "-q")


# --- 1. work directories -------------------------------------------------------------------------

def test_work_dir_containing_the_output_is_refused_and_nothing_is_deleted(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    code, err = run(capsys, video, masks, "-o", tmp_path / "out.mp4", "--resume", "--work-dir",
                    tmp_path, *DIS)
    refused(code, err, "the work directory of this run holds", "must not write")
    assert snapshot(tmp_path) == before


def test_work_dir_equal_to_the_input_frames_is_refused(frame_folder, tmp_path, capsys, no_fill):
    folder, masks = frame_folder
    before = snapshot(folder)
    code, err = run(capsys, folder, masks, "-o", tmp_path / "out.mp4", "--resume", "--work-dir",
                    folder, *DIS)
    refused(code, err, str(folder), "the work directory of this run is the input")
    assert snapshot(folder) == before


def test_work_dir_inside_the_masks_is_refused(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--resume", "--work-dir",
                    masks / "work", *DIS)
    refused(code, err, "the work directory of this run lies inside the masks")
    assert not (masks / "work").exists()


def test_work_dir_holding_other_files_is_refused(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    work = tmp_path / "work"
    work.mkdir()
    (work / "plate.exr").write_text("precious")
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--resume", "--work-dir", work, *DIS)
    refused(code, err, "not a vidfill work directory", "plate.exr")
    assert snapshot(work) == {"plate.exr": b"precious"}


def test_an_empty_work_dir_given_by_the_user_is_kept_and_emptied(clip, tmp_path, capsys):
    video, masks = clip
    work = tmp_path / "work"
    work.mkdir()
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--resume", "--work-dir", work, *DIS)
    assert code == 0, err
    assert work.is_dir() and list(work.iterdir()) == []  # vidfill did not create it: it stays
    code, err = run(capsys, video, masks, "-o", tmp_path / "p.mp4", "--resume", *DIS)
    assert code == 0 and not (tmp_path / "p.mp4.vidfill-work").exists()  # its own: removed


def test_removal_deletes_only_what_vidfill_wrote(tmp_path):
    work = WorkDir(tmp_path / "work", {"a": 1})
    work.save(0, range(2), torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
              torch.ones(2, 1, 4, 4, dtype=torch.bool))
    (work.path / "frames" / "keep.txt").write_text("someone else's")
    work.remove()
    assert snapshot(tmp_path) == {"work/frames/keep.txt": b"someone else's"}


def test_a_second_run_on_a_locked_work_dir_is_refused_at_once(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    work = tmp_path / "work"
    holder = WorkDir(work, {"another": "run"})  # a run in progress holds the lock
    try:
        code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--resume", "--work-dir",
                        work, *DIS)
        refused(code, err, "another vidfill run", str(os.getpid()))
    finally:
        holder.release()
    assert (work / "state.json").is_file()  # the holder's state is untouched


def test_a_run_that_fails_before_its_first_window_leaves_nothing_that_blocks_a_rerun(
        clip, tmp_path, capsys, monkeypatch):
    video, masks = clip
    out = tmp_path / "o.mp4"
    original = windows.inpaint_video

    def broken(*_args, **_kwargs):
        raise VidfillError("simulated failure in the first window")

    monkeypatch.setattr(windows, "inpaint_video", broken)
    code, err = run(capsys, video, masks, "-o", out, "--resume", *DIS)
    refused(code, err, "simulated failure")
    assert not (tmp_path / "o.mp4.vidfill-work").exists() and not out.exists()
    monkeypatch.setattr(windows, "inpaint_video", original)
    code, err = run(capsys, video, masks, "-o", out, "--resume", "--dilate", "2", *DIS)  # other settings
    assert code == 0 and out.is_file(), err


# --- 2. PNG-sequence outputs ---------------------------------------------------------------------

def test_a_png_sequence_replaces_a_longer_earlier_one_whole(clip, tmp_path, capsys):
    video, masks = clip
    out = tmp_path / "seq"
    earlier_run(out, 20)
    code, err = run(capsys, video, masks, "-o", out, *DIS)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST] + [f"{i:04d}.png" for i in range(T)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_png_folder_with_other_files_is_refused_unless_overwrite(clip, tmp_path, capsys, monkeypatch):
    video, masks = clip
    out = tmp_path / "seq"
    earlier_run(out, 20)
    (out / "edit.nk").write_text("nuke script")
    before = snapshot(out)
    with monkeypatch.context() as patch:
        patch.setattr(windows, "inpaint_video", lambda *a, **k: pytest.fail("filled before refusing"))
        code, err = run(capsys, video, masks, "-o", out, *DIS)
    refused(code, err, "edit.nk", "--overwrite")
    assert snapshot(out) == before
    code, err = run(capsys, video, masks, "-o", out, "--overwrite", *DIS)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST] + [f"{i:04d}.png" for i in range(T)] \
        + ["edit.nk"]  # the earlier run's frames 6..19 were vidfill's own: removed
    assert (out / "edit.nk").read_text() == "nuke script"


def earlier_run(folder: Path, num_frames: int) -> None:
    """What an earlier vidfill run wrote into ``folder``: a sequence of ``num_frames`` frames."""
    info = io.VideoInfo(source=folder, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
    io.write_output(folder, torch.zeros(num_frames, 3, 4, 4, dtype=torch.uint8), info)


def foreign_video(path: Path) -> Path:
    """An mp4 that another program wrote: it has no vidfill mark."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        for _ in range(3):
            image = np.full((*SIZE, 3), 99, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    return path


def test_a_video_that_vidfill_did_not_write_is_refused_unless_overwrite(clip, tmp_path, capsys,
                                                                       monkeypatch):
    video, masks = clip
    out = foreign_video(tmp_path / "take2.mp4")
    before = out.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(windows, "inpaint_video", lambda *a, **k: pytest.fail("filled before refusing"))
        code, err = run(capsys, video, masks, "-o", out, *DIS)
    refused(code, err, "take2.mp4", "not written by vidfill", "--overwrite")
    assert out.read_bytes() == before
    code, err = run(capsys, video, masks, "-o", out, "--overwrite", *DIS)
    assert code == 0, err
    assert out.read_bytes() != before and io.written_by_vidfill(out)


def test_a_file_that_is_no_video_at_the_output_is_refused(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    (tmp_path / "notes.mp4").write_text("not a video, but mine")
    code, err = run(capsys, video, masks, "-o", tmp_path / "notes.mp4", *DIS)
    refused(code, err, "notes.mp4", "not written by vidfill")
    assert (tmp_path / "notes.mp4").read_text() == "not a video, but mine"


def test_a_rerun_replaces_its_own_earlier_video(clip, tmp_path, capsys):
    video, masks = clip
    out = tmp_path / "clean.mp4"
    code, err = run(capsys, video, masks, "-o", out, *DIS)
    assert code == 0, err
    first = out.stat().st_mtime_ns
    code, err = run(capsys, video, masks, "-o", out, *DIS)
    assert code == 0, err
    assert out.stat().st_mtime_ns != first and io.written_by_vidfill(out)


def test_a_preview_path_holding_another_video_is_refused_before_the_fill(clip, tmp_path, capsys,
                                                                        no_fill):
    video, masks = clip
    preview = foreign_video(tmp_path / "look.mp4")
    before = preview.read_bytes()
    code, err = run(capsys, video, masks, "-o", tmp_path / "out.mp4", "--preview", preview, *DIS)
    refused(code, err, "look.mp4", "not written by vidfill")
    assert preview.read_bytes() == before and not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"])
def test_every_container_carries_the_mark(tmp_path, suffix):
    info = io.VideoInfo(source=tmp_path, fps=Fraction(25), time_base=None, pts=None,
                        has_audio=False)
    out = tmp_path / f"out{suffix}"
    io.write_output(out, torch.zeros(2, 3, *SIZE, dtype=torch.uint8), info)
    assert io.written_by_vidfill(out)
    assert not io.written_by_vidfill(foreign_video(tmp_path / "other.mp4"))


def test_a_video_that_appears_at_the_output_while_writing_is_kept(tmp_path):
    """The check is made again just before the finished video is renamed into place."""
    info = io.VideoInfo(source=tmp_path, fps=Fraction(25), time_base=None, pts=None,
                        has_audio=False)
    out = tmp_path / "out.mp4"

    def frames():
        yield torch.zeros(3, *SIZE, dtype=torch.uint8)
        foreign_video(out)  # another program writes there meanwhile
        yield torch.zeros(3, *SIZE, dtype=torch.uint8)

    with pytest.raises(VidfillError, match="not written by vidfill"):
        io.write_stream(out, frames(), 2, info)
    assert out.is_file() and not io.written_by_vidfill(out)  # the other program's, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary left


def test_a_file_where_the_png_folder_would_go_is_refused_before_the_fill(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    (tmp_path / "out").write_text("a file without extension")
    code, err = run(capsys, video, masks, "-o", tmp_path / "out", *DIS)
    refused(code, err, "exists and is not a folder")
    assert (tmp_path / "out").read_text() == "a file without extension"


def test_an_unwritable_output_folder_is_refused_before_the_fill(clip, tmp_path, capsys, no_fill,
                                                                 monkeypatch):
    video, masks = clip
    out = tmp_path / "seq"
    out.mkdir()
    real = os.access  # root may write anywhere: ask the check as a user without permission would
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == out else real(p, mode))
    code, err = run(capsys, video, masks, "-o", out, *DIS)
    refused(code, err, "no read and write permission")


# --- 3. batch --------------------------------------------------------------------------------------

def test_batch_outputs_that_collide_are_refused_before_any_work(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a.mp4", "a.mov"):
        (clips / name).write_bytes(video.read_bytes())
    (clips / "a_mask.png").write_bytes((masks / "m0.png").read_bytes())
    code, err = run(capsys, "batch", clips, "-o", tmp_path / "out", "--ext", ".mkv", *DIS)
    refused(code, err, "more than one clip", "a.mkv", "a.mp4", "a.mov")
    assert not (tmp_path / "out").exists()
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"clip,masks,output\n{video},{masks},same.mp4\n{video},{masks},./same.mp4\n")
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "same.mp4")


def test_a_batch_output_that_is_another_clips_input_is_refused(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    other = tmp_path / "other.mp4"
    other.write_bytes(video.read_bytes())
    before = other.read_bytes()
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"clip,masks,output\n{video},{masks},other.mp4\n{other},{masks},b.mp4\n")
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "would overwrite", "other.mp4")
    assert other.read_bytes() == before


def test_a_batch_extension_without_its_dot_is_refused(clip, tmp_path, capsys, no_fill):
    video, _ = clip
    code, err = run(capsys, "batch", tmp_path, "-o", tmp_path / "out", "--ext", "mkv", *DIS)
    refused(code, err, "--ext mkv", ".mkv")


# --- 4. settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args,needles", [
    (["--crf", "99"], ["--crf", "0..63", "99"]),
    (["--crf", "55"], ["--crf 55", "libx264 takes 0..51"]),
    (["--crf", "-5"], ["--crf", "0..63", "-5"]),
    (["--codec", "libvpx-vp9", "--crf", "64"], ["--crf", "0..63", "64"]),
    (["--dilate", "-3"], ["mask.dilate must be >= 0"]),
    (["--mask-threshold", "5"], ["mask.threshold must be < 1"]),
    (["--device", "tpu9"], ["--device tpu9", "not a torch device"]),
    (["--set", "fusion.method=colur"], ["--set", "fusion.method", "did you mean 'colour'"]),
    (["--set", "flow.max_side=0"], ["flow.max_side must be >= 64"]),
    (["--set", "mask.dilat=2"], ["unknown setting mask.dilat", "did you mean mask.dilate"]),
    (["--set", "detail.still_px=3"], ["unknown setting detail.still_px",
                                      "did you mean leftover.still_px"]),  # a key of another section
    (["--set", "flow.method"], ["expected SECTION.KEY=VALUE"]),
])
def test_bad_settings_are_refused_before_any_work(clip, tmp_path, capsys, no_fill, args, needles):
    video, masks = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", *args, *DIS)
    refused(code, err, *needles)
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("fps", ["-25", "0", "1/0", "abc"])
def test_a_bad_frame_rate_is_refused_by_the_parser(frame_folder, tmp_path, capsys, fps):
    folder, masks = frame_folder
    with pytest.raises(SystemExit) as stop:
        main([str(folder), str(masks), "-o", str(tmp_path / "o.mp4"), f"--fps={fps}", "-q"])
    assert stop.value.code == 2 and "--fps" in capsys.readouterr().err


def test_cuda_without_cuda_is_refused(clip, tmp_path, capsys, no_fill):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    video, masks = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--device", "cuda", *DIS)
    refused(code, err, "--device cuda: CUDA is not available")


@pytest.mark.parametrize("text,needles", [
    ('[flow]\nmethod = "dsi"\n', ["flow.method must be one of", "did you mean 'dis'"]),
    ("[flow]\nmax_side = 0\n", ["flow.max_side must be >= 64"]),
    ("[mask]\ndilate = -3\n", ["mask.dilate must be >= 0"]),
    ("[mask]\nthreshold = 5.0\n", ["mask.threshold must be < 1"]),
    ('[fusion]\nmethod = "colur"\n', ["fusion.method must be one of"]),
    ("[patchmatch]\npatch_size = 6\n", ["patchmatch.patch_size must be odd"]),
    ("[edges]\ncanny_low = 0.9\ncanny_high = 0.5\n", ["canny_low <= canny_high"]),
])
def test_bad_presets_are_refused_before_any_work(clip, tmp_path, capsys, no_fill, text, needles):
    video, masks = clip
    preset = tmp_path / "mine.toml"
    preset.write_text(text)
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--pipeline", preset, *DIS)
    refused(code, err, str(preset), *needles)


def test_python_callers_get_the_same_checks_as_value_errors():
    with pytest.raises(ValueError, match="mask.threshold must be < 1"):
        MaskConfig(threshold=5.0)
    with pytest.raises(ConfigError, match="flow.method must be one of"):
        FlowConfig(method="dsi")
    with pytest.raises(ConfigError, match="mask.dilate must be int"):
        PipelineConfig().replace(mask={"dilate": 2.5})
    base = dict(input=Path("a.mp4"), masks=Path("m"), output=Path("o.mp4"), cfg=PipelineConfig())
    for bad, message in [({"crf": 99}, "--crf"), ({"fps": 0}, "--fps must be positive"),
                         ({"device": "tpu9"}, "not a torch device")]:
        with pytest.raises(ConfigError, match=message):
            Job(**base, **bad)
    assert MaskConfig(threshold=0).threshold == 0.0 and isinstance(MaskConfig(threshold=0).threshold, float)


def test_an_internal_error_is_one_line_with_a_report(clip, tmp_path, capsys, monkeypatch):
    video, masks = clip
    monkeypatch.setenv("TMPDIR", str(tmp_path / "reports"))
    (tmp_path / "reports").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)

    def bug(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(windows, "inpaint_video", bug)
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", *DIS)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith("vidfill: internal error: ZeroDivisionError: division by zero")
    report = next((tmp_path / "reports").iterdir())
    assert str(report) in lines[0] and "Traceback" in report.read_text()
    assert not (tmp_path / "o.mp4").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- 5. media fidelity -----------------------------------------------------------------------------

def _rotated_clip(path: Path, rotation: int, frames: np.ndarray) -> None:
    """An mp4 whose stored frames are ``frames`` turned back by ``rotation`` (counter-clockwise
    degrees), with that display matrix: it displays as ``frames``."""
    stored = [np.ascontiguousarray(np.rot90(f, -rotation // 90)) for f in frames]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264rgb", rate=25, options={"crf": "0"})
        stream.height, stream.width = stored[0].shape[:2]
        stream.pix_fmt = "rgb24"
        stream.set_display_rotation(rotation)
        for image in stored:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())


def test_a_rotated_clip_is_read_as_displayed_and_keeps_its_rotation(tmp_path, capsys):
    _, frames, masks = make_clip(T, size=(64, 48), seed=5)  # portrait as displayed
    video, mask_dir = tmp_path / "phone.mp4", tmp_path / "masks"
    _rotated_clip(video, -90, frames)
    mask_dir.mkdir()
    for t, mask in enumerate(masks):  # drawn the way the clip is displayed
        cv2.imwrite(str(mask_dir / f"m{t}.png"), mask.astype(np.uint8) * 255)
    out = tmp_path / "clean.mp4"
    code, err = run(capsys, video, mask_dir, "-o", out, "--flow", "dis", "--codec", "libx264rgb",
                    "--crf", "0", "--set", "mask.grow_objects=0")  # exact masks, to compare
    assert code == 0 and "turned by 90 degrees" in err, err
    with av.open(str(out)) as container:
        first = next(container.decode(video=0))
        assert first.rotation == -90 and (first.height, first.width) == (48, 64)
    result, _ = io.read_frames(out)
    assert tuple(result.shape[2:]) == (64, 48)
    outside = ~torch.from_numpy(masks)[:, None].expand_as(result)
    source = torch.from_numpy(frames).permute(0, 3, 1, 2)
    assert torch.equal(result[outside], source[outside])  # the mask lined up with the picture


def test_a_mask_turned_by_a_quarter_is_refused(tmp_path, capsys, no_fill):
    _, frames, masks = make_clip(T, size=(64, 48), seed=5)
    video = tmp_path / "phone.mp4"
    _rotated_clip(video, -90, frames)
    mask = tmp_path / "stored_way.png"
    cv2.imwrite(str(mask), np.rot90(masks[0].astype(np.uint8) * 255, 1).copy())
    code, err = run(capsys, video, mask, "-o", tmp_path / "o.mp4", *DIS)
    refused(code, err, "48x64", "turned by a quarter")


def test_streams_the_output_cannot_keep_are_named(tmp_path, capsys):
    _, frames, masks = make_clip(T, size=SIZE, seed=6)
    video = tmp_path / "two.mkv"
    with av.open(str(video), "w") as out:
        streams = [out.add_stream("libx264", rate=25) for _ in range(2)]
        for stream in streams:
            stream.height, stream.width = SIZE
            stream.pix_fmt = "yuv420p"
        for image in frames:
            for stream in streams:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        for stream in streams:
            out.mux(stream.encode())
    mask = tmp_path / "m.png"
    cv2.imwrite(str(mask), masks[0].astype(np.uint8) * 255)
    code, err = run(capsys, video, mask, "-o", tmp_path / "o.mkv", "--flow", "dis")
    assert code == 0 and "1 other video stream not kept" in err, err


def test_uneven_timing_into_avi_is_named(tmp_path, capsys):
    _, frames, masks = make_clip(T, size=SIZE, seed=7)
    video = tmp_path / "vfr.mkv"
    with av.open(str(video), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for t, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t * 40 + (15 if t % 2 else 0), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    mask = tmp_path / "m.png"
    cv2.imwrite(str(mask), masks[0].astype(np.uint8) * 255)
    code, err = run(capsys, video, mask, "-o", tmp_path / "o.avi", "--flow", "dis")
    assert code == 0 and "stores no timestamps" in err, err


# --- 6. failures say what happened -----------------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path: Path):
    """A 256 KiB tmpfs that fills up (needs root and mount; skipped where not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["clean.mkv", "seq"])
def test_disk_full_says_so_and_names_the_output(tmp_path, capsys, full_disk, name):
    _, frames, masks = make_clip(12, size=(240, 320), seed=8)
    video, mask = tmp_path / "big.mkv", tmp_path / "m.png"
    with av.open(str(video), "w") as out:  # lossless, so that the output cannot fit in 256 KiB
        stream = out.add_stream("ffv1", rate=25)
        stream.height, stream.width = 240, 320
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    cv2.imwrite(str(mask), masks[0].astype(np.uint8) * 255)
    target = full_disk / name
    code, err = run(capsys, video, mask, "-o", target, "--codec", "ffv1", "--flow", "dis", "-q")
    refused(code, err, str(target), "No space left on device")
    assert list(full_disk.iterdir()) == []  # the partial output was removed


def test_disk_full_while_writing_frames_says_so(clip, tmp_path, capsys, monkeypatch):
    video, masks = clip

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(images, "open", full, raising=False)  # what write_image writes through
    code, err = run(capsys, video, masks, "-o", tmp_path / "seq", *DIS)
    refused(code, err, str(tmp_path / "seq"), "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "masks"]


def test_sigterm_removes_the_temporary_output(clip, tmp_path):
    video, masks = clip
    out = tmp_path / "o.mp4"
    script = textwrap.dedent(f"""
        import sys, time
        from vidfill import windows
        from vidfill.cli.main import main
        def slow(*args, **kwargs):
            print("filling", flush=True)
            time.sleep(60)
        windows.inpaint_video = slow
        sys.exit(main([{str(video)!r}, {str(masks)!r}, "-o", {str(out)!r}, "--flow", "dis", "-q"]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "filling"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip() == "vidfill: terminated; no partial output was left"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "masks"]


def test_a_broken_link_in_the_mask_folder_is_one_line(clip, tmp_path, capsys):
    video, masks = clip
    (masks / "m3.png").unlink()
    (masks / "m3.png").symlink_to(tmp_path / "gone.png")
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--resume", *DIS)
    refused(code, err, "m3.png", "broken link")


def test_16_bit_frames_stay_16_bit_and_exact_outside_the_hole(tmp_path, capsys):
    folder, mask, deep, hole = deep_plate(tmp_path, T, SIZE)
    out = tmp_path / "clean16"
    code, err = run(capsys, folder, mask, "-o", out, *DIS)
    assert code == 0, err
    files = sorted(out.glob("*.png"))
    written = np.stack([cv2.imread(str(f), cv2.IMREAD_UNCHANGED)[..., ::-1] for f in files])
    assert written.dtype == np.uint16 and len(files) == T
    outside = ~hole
    assert np.array_equal(written[:, outside], deep[:, outside])  # bit-exact at 16 bits
    assert not np.array_equal(written[:, hole], deep[:, hole])  # the hole was filled
    code, err = run(capsys, folder, mask, "-o", tmp_path / "o.mp4", "--flow", "dis")
    assert code == 0 and "keeps 10 bits of the 16-bit source" in err, err


@pytest.mark.parametrize("codec,suffix", [("ffv1", ".mkv"), ("prores_ks", ".mov")])
def test_10_bit_video_gives_10_bit_video(tmp_path, capsys, codec, suffix):
    _, frames, masks = make_clip(T, size=SIZE, seed=10)
    video = tmp_path / f"ten{suffix}"
    with av.open(str(video), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.height, stream.width = SIZE
        stream.pix_fmt = "yuv422p10le"
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    mask = tmp_path / "m.png"
    cv2.imwrite(str(mask), masks[0].astype(np.uint8) * 255)
    target = tmp_path / f"clean{suffix}"
    code, err = run(capsys, video, mask, "-o", target, "--codec", codec, *DIS)
    assert code == 0, err
    with av.open(str(target)) as container:
        first = next(container.decode(video=0))
        bits = max(c.bits for c in first.format.components)
    assert bits == (16 if codec == "ffv1" else 10), first.format.name  # lossless: all it decodes to
    source = io.open_clip(video)
    assert source.info.depth == 10 and io.open_clip(target).info.depth == bits
    result = io.open_clip(target)
    if codec == "ffv1":  # lossless: outside the hole, the 10-bit source comes back exactly
        a = np.stack([f.numpy() for f in io.iter_frames(source, deep=True)])
        b = np.stack([f.numpy() for f in io.iter_frames(result, deep=True)])
        outside = ~masks[0]
        assert np.array_equal(a[:, :, outside], b[:, :, outside])


def test_an_fps_that_a_video_input_ignores_is_named(clip, tmp_path, capsys):
    video, masks = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--fps", "30", "--flow", "dis")
    assert code == 0 and "--fps is ignored" in err, err


def test_an_alpha_channel_the_output_drops_is_named(tmp_path, capsys):
    _, frames, masks = make_clip(T, size=SIZE, seed=11)
    folder, mask = tmp_path / "rgba", tmp_path / "m.png"
    folder.mkdir()
    for t, image in enumerate(frames):
        cv2.imwrite(str(folder / f"{t}.png"), np.dstack([image[..., ::-1], np.full(SIZE, 200, np.uint8)]))
    cv2.imwrite(str(mask), masks[0].astype(np.uint8) * 255)
    code, err = run(capsys, folder, mask, "-o", tmp_path / "o", "--flow", "dis")
    assert code == 0 and "the alpha channel not kept" in err, err


def test_a_work_dir_implies_resume(clip, tmp_path, capsys, monkeypatch):
    video, masks = clip
    work = tmp_path / "work"
    seen = []
    original = WorkDir.save
    monkeypatch.setattr(WorkDir, "save", lambda self, *a: (seen.append(self.path), original(self, *a)))
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--work-dir", work, *DIS)
    assert code == 0 and seen == [work] and not work.exists(), err


def test_a_png_output_through_a_symlinked_folder_lands_in_its_target(clip, tmp_path, capsys):
    video, masks = clip
    target = tmp_path / "shots" / "seq"
    target.parent.mkdir()
    earlier_run(target, 9)  # an earlier, longer sequence
    link = tmp_path / "seq_link"
    link.symlink_to(target)
    code, err = run(capsys, video, masks, "-o", link, *DIS)
    assert code == 0, err
    assert link.is_symlink() and sorted(p.name for p in target.iterdir()) == \
        [MANIFEST] + [f"{i:04d}.png" for i in range(T)]


def test_the_demo_replaces_only_its_own_example(tmp_path, capsys):
    clip, masks = tmp_path / "clip.mp4", tmp_path / "masks"
    check_demo_place(clip, masks)  # a new place
    write_clip(clip, make_clip(2, size=SIZE, seed=0)[1])
    masks.mkdir()
    cv2.imwrite(str(masks / "00000.png"), np.zeros((4, 4), np.uint8))
    check_demo_place(clip, masks)  # an earlier demo's: a rerun replaces it
    (masks / "notes.txt").write_text("mine")
    with pytest.raises(VidfillError, match="notes.txt"):
        check_demo_place(clip, masks)
    foreign_video(clip)
    before = clip.read_bytes()
    code, err = run(capsys, "demo", "--dir", tmp_path)
    refused(code, err, "clip.mp4", "not written by vidfill demo")
    assert clip.read_bytes() == before and (masks / "notes.txt").read_text() == "mine"
