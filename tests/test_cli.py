"""The command line: a real run, and a one-line error with exit status 2 for each bad input."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import visible
import torch

from vidfill import io
from vidfill.cli.main import main
from vidfill.cli.demo import make_clip, write_clip

T = 10


@pytest.fixture
def clip(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """A small mp4 with audio, its mask folder, and the masks."""
    _, frames, masks = make_clip(T, size=(96, 160), seed=1)
    video, mask_dir = tmp_path / "clip.mp4", tmp_path / "masks"
    write_clip(video, frames)
    mask_dir.mkdir()
    for t, mask in enumerate(masks):
        cv2.imwrite(str(mask_dir / f"m{t}.png"), mask.astype(np.uint8) * 255)
    return video, mask_dir, masks


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidfill: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


@pytest.mark.slow
def test_video_to_video_keeps_audio_and_frame_count(clip, tmp_path, capsys):
    video, masks, _ = clip
    out = tmp_path / "clean.mkv"
    code, err = run(capsys, video, masks, "-o", out, "--flow", "dis")
    assert code == 0, err
    assert "flow" in err and "propagation" in err  # per-stage progress lines
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert container.streams.video[0].frames in (0, T) and sum(1 for _ in container.decode(video=0)) == T
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_png_output_is_exact_outside_the_mask(clip, tmp_path, capsys):
    video, masks, hole = clip
    out = tmp_path / "frames_out"
    code, err = run(capsys, video, masks, "-o", out, "--flow", "dis", "--dilate", "0", "--quiet")
    assert code == 0 and err == ""
    source, _ = io.read_frames(video)
    result, _ = io.read_frames(out)
    assert sorted(p.name for p in visible(out))[0] == "0000.png" and len(result) == T
    outside = ~torch.from_numpy(hole)[:, None].expand_as(source)
    assert torch.equal(result[outside], source[outside])
    assert not torch.equal(result, source)


def test_missing_input(tmp_path, capsys):
    code, err = run(capsys, tmp_path / "nope.mp4", tmp_path / "masks", "-o", tmp_path / "out.mp4")
    assert code == 2
    one_line_error(err, "nope.mp4")


def test_mask_count_mismatch(clip, tmp_path, capsys):
    video, masks, _ = clip
    (masks / "m3.png").unlink()
    code, err = run(capsys, video, masks, "-o", tmp_path / "out.mp4")
    assert code == 2
    one_line_error(err, str(masks), str(T), str(T - 1))
    assert not (tmp_path / "out.mp4").exists()


def test_masks_without_hole_copy_through(clip, tmp_path, capsys):
    video, _, _ = clip
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((96, 160), np.uint8))
    out = tmp_path / "copy"
    code, err = run(capsys, video, empty, "-o", out)
    assert code == 0 and "no hole in any frame" in err
    assert torch.equal(io.read_frames(out)[0], io.read_frames(video)[0])


def test_frame_that_is_all_hole(clip, tmp_path, capsys):
    video, masks, _ = clip
    cv2.imwrite(str(masks / "m4.png"), np.full((96, 160), 255, np.uint8))
    code, err = run(capsys, video, masks, "-o", tmp_path / "out.mp4")
    assert code == 2
    one_line_error(err, str(masks), "4", "entirely hole")


def test_output_equal_to_input(clip, capsys):
    video, masks, _ = clip
    before = video.read_bytes()
    code, err = run(capsys, video, masks, "-o", video)
    assert code == 2
    one_line_error(err, "the output of this run is the input")
    assert video.read_bytes() == before


def test_unwritable_output(clip, tmp_path, capsys):
    video, masks, _ = clip
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, err = run(capsys, video, masks, "-o", blocker / "out.mp4")
    assert code == 2
    one_line_error(err, "out.mp4", "not a folder")


def test_unknown_preset_and_bad_dilate(clip, tmp_path, capsys):
    video, masks, _ = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--pipeline", "nope")
    assert code == 2
    one_line_error(err, "no such preset", "default")
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--dilate", "-1")
    assert code == 2
    one_line_error(err, "--dilate")


@pytest.mark.slow
def test_refine_option(clip, tmp_path, capsys):
    video, masks, _ = clip
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--refine", "-1")
    assert code == 2
    one_line_error(err, "--refine: flow.refine_passes must be >= 0, got -1")
    code, err = run(capsys, video, masks, "-o", tmp_path / "o.mp4", "--flow", "dis", "--refine", "1")
    assert code == 0 and "refinement passes need RAFT" in err, err
    code, err = run(capsys, video, masks, "-o", tmp_path / "p.mp4", "--flow", "dis", "--refine", "0")
    assert code == 0 and "refinement" not in err, err


def test_output_problems_are_found_before_the_work(clip, tmp_path, capsys):
    video, masks, _ = clip
    for output, extra, message in [(tmp_path / "o.gif", [], "unknown output type"),
                                   (tmp_path / "o.mp4", ["--codec", "nope"], "no encoder named"),
                                   (tmp_path / "o.webm", [], "cannot hold the aac audio")]:
        code, err = run(capsys, video, masks, "-o", output, *extra)
        assert code == 2
        one_line_error(err, message)
        assert "flow" not in err  # refused before any stage ran
        assert not output.exists()


@pytest.fixture
def static_clip(tmp_path: Path):
    """A static-camera PNG sequence, one static mask and frame 3 painted by hand (test_pipeline)."""
    from test_pipeline import painted_static_case

    frames, masks, painted = painted_static_case()
    folder = tmp_path / "frames"
    folder.mkdir()
    damaged = torch.where(masks, torch.zeros_like(frames), frames)
    for t, frame in enumerate(damaged):
        cv2.imwrite(str(folder / f"f{t}.png"), frame.permute(1, 2, 0).numpy()[..., ::-1])
    mask = tmp_path / "mask.png"
    cv2.imwrite(str(mask), masks[0, 0].numpy().astype(np.uint8) * 255)
    painted_file = tmp_path / "painted.png"
    cv2.imwrite(str(painted_file), painted.permute(1, 2, 0).numpy()[..., ::-1])
    return folder, mask, painted_file, masks, painted


def test_reference_frame_is_carried_through_the_clip(static_clip, tmp_path, capsys):
    folder, mask, painted_file, masks, painted = static_clip
    out = tmp_path / "out"
    code, err = run(capsys, folder, mask, "-o", out, "--flow", "dis", "--reference", f"3={painted_file}")
    assert code == 0, err
    assert "painted reference frame(s) 3" in err and "filled by" not in err
    result, _ = io.read_frames(out)
    inside = masks.expand_as(result)
    for t in range(len(result)):
        assert int((result[t].int() - painted.int()).abs()[inside[t]].max()) <= 1, t


def test_bad_references(static_clip, tmp_path, capsys):
    folder, mask, painted_file, _, _ = static_clip
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((30, 40, 3), np.uint8))
    out = tmp_path / "out"
    (folder.parent / "paintings").mkdir()
    for value, needles in [(f"3={tmp_path / 'nope.png'}", ["nope.png", "no such file"]),
                           (f"x={painted_file}", ["'x'", "not an integer"]),
                           (f"8={painted_file}", ["has no frame 8", "frame numbers are 0..7"]),
                           (f"-1={painted_file}", ["has no frame -1"]),
                           (f"2={small}", ["small.png", "40x30", "80x64"]),
                           (str(painted_file), ["expected N=FILE"]),
                           (f"2={folder.parent / 'paintings'}", ["a folder, not a painted frame"])]:
        code, err = run(capsys, folder, mask, "-o", out, "--flow", "dis", f"--reference={value}")
        assert code == 2, value
        one_line_error(err, *needles)
        assert not out.exists()
    code, err = run(capsys, folder, mask, "-o", out, "--reference", f"2={painted_file}",
                    "--reference", f"2={painted_file}")
    assert code == 2
    one_line_error(err, "frame 2 is given twice")


@pytest.mark.slow
def test_inpainter_option(static_clip, tmp_path, capsys, monkeypatch):
    from vidfill.models import weights

    folder, mask, _, _, _ = static_clip
    code, err = run(capsys, folder, mask, "-o", tmp_path / "pm", "--flow", "dis", "--inpainter", "patchmatch")
    assert code == 0 and "1 keyframe(s) filled by patchmatch" in err, err
    code, err = run(capsys, folder, mask, "-o", tmp_path / "o", "--inpainter", "nope")
    assert code == 2
    one_line_error(err, "--inpainter: leftover.method", "'nope'", "patchmatch", "gated")
    code, err = run(capsys, folder, mask, "-o", tmp_path / "o", "--inpainter-weights", tmp_path / "w.pth")
    assert code == 2
    one_line_error(err, "w.pth", "only the gated inpainter")
    # gated without weights: one line saying so, then the harmonic fill
    monkeypatch.setattr(weights, "checkpoint_dirs", lambda: [tmp_path / "empty"])
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    code, err = run(capsys, folder, mask, "-o", tmp_path / "g", "--flow", "dis", "--inpainter", "gated")
    assert code == 0, err
    assert [line for line in err.splitlines() if "gated_inpainter" in line][0].endswith(
        "leftovers are filled by harmonic instead")
    assert "keyframe(s) filled by harmonic" in err
    code, err = run(capsys, folder, mask, "-o", tmp_path / "o", "--inpainter", "gated",
                    "--inpainter-weights", tmp_path / "w.pth")
    assert code == 2
    one_line_error(err, "w.pth", "weights file not found")


def test_a_bad_frame_found_while_streaming_leaves_nothing(clip, tmp_path, capsys):
    """Frames are read as the windows need them: a broken frame late in the clip is found after
    the first window was written, and the partial output is removed."""
    video, masks, _ = clip
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(io.read_frames(video)[0]):
        io.write_image(folder / f"f{t}.png", frame)
    (folder / f"f{T - 1}.png").write_bytes(b"not a png")
    preset = tmp_path / "short.toml"
    preset.write_text('[flow]\nmethod = "dis"\n[window]\nlength = 4\noverlap = 1\nlookahead = 1\nstretch = 0\n')
    for out in (tmp_path / "out.mp4", tmp_path / "out_frames"):
        code, err = run(capsys, folder, masks, "-o", out, "--pipeline", preset, "-q")
        assert code == 2
        one_line_error(err, f"f{T - 1}.png", "cannot read image")
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "clip.mp4", "frames", "masks", "short.toml"]


@pytest.mark.slow
def test_fill_is_a_sub_command_and_a_folder_named_like_one_is_not_taken_for_it(clip, tmp_path, capsys,
                                                                                monkeypatch):
    video, masks, _ = clip
    code, err = run(capsys, "fill", video, masks, "-o", tmp_path / "a.mp4", "--flow", "dis", "-q")
    assert code == 0 and (tmp_path / "a.mp4").is_file(), err
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()
    code, err = run(capsys, "demo", masks, "-o", tmp_path / "b.mp4")
    one_line_error(err, "demo: both a sub-command and a file or folder here", "./demo")
    assert code == 2 and not (tmp_path / "vidfill-demo").exists()


@pytest.mark.slow
def test_an_inverted_matte_with_invert_mask(clip, tmp_path, capsys):
    video, masks, hole = clip
    keep = tmp_path / "keep"
    keep.mkdir()
    for t, mask in enumerate(hole):  # white where the picture is kept
        cv2.imwrite(str(keep / f"k{t}.png"), (~mask).astype(np.uint8) * 255)
    out = tmp_path / "inv"
    code, err = run(capsys, video, keep, "-o", out, "--invert-mask", "--flow", "dis", "-q")
    assert code == 0, err
    source, _ = io.read_frames(video)
    result, _ = io.read_frames(out)
    outside = ~torch.from_numpy(hole)[:, None].expand_as(source)
    assert torch.equal(result[outside], source[outside]) and not torch.equal(result, source)
