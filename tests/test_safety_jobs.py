"""Nothing a user owns is lost, continued: job files as people make them, batch outputs inside
the batch's inputs, the demo run again, alpha-only EXR mattes.

Every refusal is one line, exit status 2, before any work, and leaves the user's files as they were.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from test_safety import DIS, clip, frame_folder, no_fill, refused, run, snapshot  # noqa: F401
from vidfill.cli import demo
from vidfill.cli.batch import from_job_file
from vidfill.cli.main import main
from vidfill import io

T = 6


# --- job files --------------------------------------------------------------------------------------

def test_a_csv_saved_by_a_spreadsheet_is_read(frame_folder, tmp_path, capsys):
    # byte-order mark, CRLF, spaces after the commas, headers in another case and padded, empty rows
    jobs = tmp_path / "jobs.csv"
    jobs.write_bytes("\ufeff Clip ,MASKS, Output,Preset\r\nframes, fmasks, out/a, fast\r\n,,,\r\n\r\n"
                     .encode())
    (entry,) = from_job_file(jobs)
    assert (entry.clip, entry.masks, entry.output, entry.preset) == (
        tmp_path / "frames", tmp_path / "fmasks", tmp_path / "out/a", "fast")
    code, err = run(capsys, "batch", jobs, *DIS)
    assert code == 0, err
    assert len(list((tmp_path / "out" / "a").glob("*.png"))) == T


def test_a_csv_with_semicolons_as_a_european_spreadsheet_saves_it_is_read(tmp_path):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("clip;masks;output\na, b.mp4;m;o.mp4\n")
    (entry,) = from_job_file(jobs)
    assert (entry.clip, entry.masks, entry.output) == (tmp_path / "a, b.mp4", tmp_path / "m",
                                                       tmp_path / "o.mp4")


@pytest.mark.parametrize("line, needles", [
    ("a.mp4,m,o.mp4,fast,extra", ["row 3", "5 fields", "4"]),
    ("a.mp4,m", ["row 3", "2 fields", "4"]),
])
def test_csv_rows_with_too_many_or_too_few_fields_are_refused(clip, tmp_path, capsys, no_fill,
                                                              line, needles):
    video, masks = clip
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"clip,masks,output,preset\n{video},{masks},x.mp4,\n{line}\n")
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "jobs.csv", *needles)
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("header, needles", [
    ("a.mp4,m,o.mp4", ["unknown column", "a.mp4", "clip, masks, output"]),  # no header row
    ("clip,masks,output,pipeline", ["unknown column", "pipeline"]),  # a preset silently dropped
    ("clip,masks,output,clip", ["clip", "twice"]),
])
def test_a_csv_header_that_is_not_the_fields_is_refused(clip, tmp_path, capsys, no_fill, header,
                                                        needles):
    video, masks = clip
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"{header}\n{video},{masks},x.mp4,{video}\n")
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "jobs.csv", *needles)


@pytest.mark.parametrize("field, value", [
    ("clip", "5"), ("masks", '["m"]'), ("output", "true"), ("preset", "3"), ("output", "{a = 1}")])
def test_a_toml_job_with_a_value_that_is_no_path_is_refused(clip, tmp_path, capsys, no_fill, field,
                                                            value):
    video, masks = clip
    job = {"clip": f'"{video}"', "masks": f'"{masks}"', "output": '"x.mp4"', field: value}
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(f'[[job]]\nclip = "{video}"\nmasks = "{masks}"\noutput = "y.mp4"\n\n[[job]]\n'
                    + "".join(f"{k} = {v}\n" for k, v in job.items()))
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "jobs.toml", "job 2", field)
    assert not (tmp_path / "y.mp4").exists()


def test_an_unknown_toml_field_is_refused(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(f'[[job]]\nclip = "{video}"\nmask = "{masks}"\noutput = "y.mp4"\n')
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "jobs.toml", "job 1", "unknown field mask")


def test_every_path_of_a_job_file_is_relative_to_it_a_preset_file_too(frame_folder, tmp_path,
                                                                       capsys, monkeypatch):
    (tmp_path / "my.toml").write_text('[flow]\nmethod = "dis"\n')
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("clip,masks,output,preset\nframes,fmasks,out/a,my.toml\nframes,fmasks,out/b,fast\n")
    a, b = from_job_file(jobs)
    assert (a.preset, b.preset) == (str(tmp_path / "my.toml"), "fast")  # names stay names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, err = run(capsys, "batch", Path("..") / "jobs.csv", "-q")
    assert code == 0, (err, capsys.readouterr().out)
    assert len(list((tmp_path / "out" / "a").glob("*.png"))) == T
    assert not list(elsewhere.iterdir())


def test_a_job_file_that_is_not_utf8_is_refused(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    jobs = tmp_path / "jobs.csv"
    jobs.write_bytes(f"clip,masks,output\n{video},{masks},caf\u00e9.mp4\n".encode("latin-1"))
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "jobs.csv", "UTF-8")


@pytest.mark.parametrize("name, text", [
    ("jobs.csv", "clip,masks,output\na\0b.mp4,m,o.mp4\n"),
    ("jobs.toml", '[[job]]\nclip = "a"\nmasks = "m"\noutput = "o\\u0000.mp4"\n'),
])
def test_a_nul_character_in_a_job_file_is_refused(tmp_path, capsys, no_fill, name, text):
    (tmp_path / name).write_text(text)
    code, err = run(capsys, "batch", tmp_path / name, *DIS)
    refused(code, err, name, "NUL")


def test_a_toml_job_file_with_tables_other_than_jobs_is_refused(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(f'[[job]]\nclip = "{video}"\nmasks = "{masks}"\noutput = "a.mp4"\n\n'
                    f'[[jobs]]\nclip = "{video}"\nmasks = "{masks}"\noutput = "b.mp4"\n')
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "jobs.toml", "unknown key or table jobs")
    assert not (tmp_path / "a.mp4").exists()


def test_output_options_with_a_job_file_are_refused_not_ignored(clip, tmp_path, capsys, no_fill):
    video, masks = clip
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"clip,masks,output\n{video},{masks},x.mp4\n")
    code, err = run(capsys, "batch", jobs, "-o", tmp_path / "out", *DIS)
    refused(code, err, "jobs.csv", "-o", "job file")
    code, err = run(capsys, "batch", jobs, "--ext", ".mkv", *DIS)
    refused(code, err, "jobs.csv", "--ext", "job file")
    assert not (tmp_path / "x.mp4").exists()


# --- batch outputs inside the batch's inputs --------------------------------------------------------

def _clips_folder(tmp_path: Path, clip: tuple[Path, Path], frame_folder: tuple[Path, Path]) -> Path:
    """clips/ with a frame folder a/ (a_mask/) and a video b.mp4 (b_mask/)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copytree(frame_folder[0], clips / "a")
    shutil.copytree(frame_folder[1], clips / "a_mask")
    shutil.copy(clip[0], clips / "b.mp4")
    shutil.copytree(clip[1], clips / "b_mask")
    return clips


def test_a_batch_output_folder_that_is_one_of_its_clips_is_refused(clip, frame_folder, tmp_path,
                                                                   capsys, no_fill):
    clips = _clips_folder(tmp_path, clip, frame_folder)
    before = snapshot(clips)
    for out in (clips / "a", clips / "a_mask", clips / "a" / "out"):
        code, err = run(capsys, "batch", clips, "-o", out, *DIS)
        refused(code, err, str(clips / "a"), "input of this batch")
        assert snapshot(clips) == before
    code, err = run(capsys, "batch", clips, "-o", clips / "b.mp4", *DIS)
    refused(code, err, "b.mp4", "not a folder")
    assert snapshot(clips) == before


def test_an_output_folder_inside_the_batch_folder_is_not_a_clip(clip, frame_folder, tmp_path, capsys):
    clips = _clips_folder(tmp_path, clip, frame_folder)
    (clips / "out").mkdir()
    code, err = run(capsys, "batch", clips, "-o", clips / "out", *DIS)
    assert code == 0, err
    assert sorted(p.name for p in (clips / "out").iterdir()) == ["a", "b.mp4"]
    assert main(["batch", str(clips), "-o", str(clips / "out"), *DIS]) == 0  # earlier outputs only
    assert capsys.readouterr().out.strip().endswith("0 ok, 0 failed, 2 skipped")


def test_a_job_output_folder_holding_an_input_is_refused(frame_folder, tmp_path, capsys, no_fill):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("clip,masks,output\nframes,fmasks,.\n")
    before = snapshot(tmp_path)
    code, err = run(capsys, "batch", jobs, *DIS)
    refused(code, err, "frames", "input of this batch")
    assert snapshot(tmp_path) == before


# --- the demo ----------------------------------------------------------------------------------------

DEMO = ("--flow", "dis", "--edges", "none", "--refine", "0", "-q")


@pytest.mark.slow
def test_the_demo_run_again_with_another_length_replaces_its_example(tmp_path, capsys):
    place = tmp_path / "d"
    for frames in (6, 3, 6):
        code, err = run(capsys, "demo", "--dir", place, "--frames", frames, *DEMO)
        assert code == 0, err
        assert sorted(p.name for p in (place / "masks").iterdir()) == [
            f"{t:05d}.png" for t in range(frames)]
        assert len(io.read_frames(place / "clean.mp4")[0]) == frames


@pytest.mark.parametrize("frames", [0, 1, -3])
def test_a_demo_of_too_few_frames_is_refused(tmp_path, capsys, frames):
    code, err = run(capsys, "demo", "--dir", tmp_path / "d", "--frames", frames)
    refused(code, err, f"--frames {frames}", "at least 2")
    assert not (tmp_path / "d").exists()


def test_a_demo_place_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "d").write_text("mine")
    code, err = run(capsys, "demo", "--dir", tmp_path / "d")
    refused(code, err, str(tmp_path / "d"), "not a folder")
    assert (tmp_path / "d").read_text() == "mine"


def test_a_demo_output_that_vidfill_did_not_write_is_refused_before_the_example(tmp_path, capsys):
    (tmp_path / "clean.mp4").write_text("mine")
    code, err = run(capsys, "demo", "--dir", tmp_path, "--frames", 3, *DEMO)
    refused(code, err, "clean.mp4", "not written by vidfill")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.mp4"]


def test_a_folder_named_like_a_demo_mask_is_refused(tmp_path):
    (tmp_path / "masks" / "00001.png").mkdir(parents=True)
    with pytest.raises(demo.VidfillError, match="00001.png"):
        demo.check_demo_place(tmp_path / "clip.mp4", tmp_path / "masks")


# --- alpha-only EXR mattes ---------------------------------------------------------------------------

def _write_matte(file: Path, channels: dict[str, np.ndarray]) -> None:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, channels) as exr:
        exr.write(str(file))


@pytest.mark.parametrize("names", [("A",), ("mask.A",), ("Y",), ("matte",), ("A", "Z"),
                                   ("A", "Y"), ("mask.A", "rgba.R")])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_an_alpha_only_exr_matte_is_read_by_its_alpha(clip, tmp_path, names, dtype):
    _, png_masks = clip
    exr_masks = tmp_path / "exr_masks"
    exr_masks.mkdir()
    for t, png in enumerate(io.numeric_sorted(png_masks.iterdir())):
        matte = (cv2.imread(str(png), cv2.IMREAD_GRAYSCALE) / 255).astype(dtype)
        _write_matte(exr_masks / f"m.{t:04d}.exr",
                     {name: matte if i == 0 else np.full_like(matte, 7) for i, name in enumerate(names)})
    size = (48, 64)
    expected = io.read_masks(png_masks, T, size)[0]
    assert expected.any()
    assert io.read_masks(exr_masks, T, size)[0].equal(expected)
    assert io.read_masks(exr_masks / "m.0002.exr", T, size)[0].equal(expected[2:3].expand(T, -1, -1, -1))


def test_an_alpha_only_exr_matte_fills_from_the_command_line(clip, tmp_path, capsys):
    video, png_masks = clip
    matte = cv2.imread(str(png_masks / "m0.png"), cv2.IMREAD_GRAYSCALE) / np.float32(255)
    _write_matte(tmp_path / "roto.exr", {"A": matte.astype(np.float32)})
    code, err = run(capsys, video, tmp_path / "roto.exr", "-o", tmp_path / "out.mp4", *DIS)
    assert code == 0, err


def test_an_alpha_only_exr_is_still_refused_as_a_frame(tmp_path, capsys, no_fill):
    frames = tmp_path / "frames"
    frames.mkdir()
    for t in range(T):
        _write_matte(frames / f"f.{t:04d}.exr", {"A": np.ones((8, 8), np.float32)})
    cv2.imwrite(str(tmp_path / "m.png"), np.full((8, 8), 255, np.uint8))
    code, err = run(capsys, frames, tmp_path / "m.png", "-o", tmp_path / "out.mp4", *DIS)
    refused(code, err, "f.0000.exr", "no R, G, B or Y channel")
