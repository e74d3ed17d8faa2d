"""``--profile FILE.json``: the table at the end of a run and the JSON file, kept apart from the
run's inputs and outputs like every other output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import demo_clip
from vidfill.cli.main import main
from vidfill.job import Job, run_job
from vidfill.job.profile import MARK, build_profile, profile_table
from vidfill.config import load_preset
from vidfill.progress import Reporter

T = 6
FAST = ("--flow", "dis", "--edges", "none", "--device", "cpu")
"""The quickest run on the CPU: no network."""


@pytest.fixture
def clip(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny mp4 and its mask folder."""
    return demo_clip(tmp_path, T, (48, 64), 1)


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def hidden(folder: Path) -> list[str]:
    """Names of hidden entries (temporary outputs) left in ``folder``."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_profile_is_written_and_printed(clip, tmp_path, capsys):
    video, masks = clip
    out, profile = tmp_path / "clean.mp4", tmp_path / "prof" / "run.json"
    profile.parent.mkdir()
    profile.write_text(json.dumps({MARK: 1, "total_s": -1}))  # an earlier profile: replaced
    code, err = run(capsys, video, masks, "-o", out, *FAST, "--frames", "1:3",
                    "--profile", profile)
    assert code == 0, err
    data = json.loads(profile.read_text())
    assert data[MARK] == 1 and data["frames"] == data["frames_written"] == 3  # of T
    assert (data["width"], data["height"]) == (64, 48) and data["device"] == "cpu"
    assert data["peak_cuda_gb"] is None and data["peak_rss_gb"] > 0.01
    assert data["preset"] == "default" and data["settings"]["flow.method"] == "dis"
    stages = data["stages_s"]
    assert {"flow", "completion", "propagation"} <= set(stages) and min(stages.values()) > 0
    assert sum(stages.values()) + data["other_s"] == pytest.approx(data["total_s"], abs=1e-4)
    assert sum(stages.values()) <= data["total_s"]
    assert data["s_per_frame"] == pytest.approx(data["total_s"] / data["frames"], rel=1e-4)
    lines = err.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("vidfill: profile: ")))
    names = [*stages, "other", "total"]  # slowest first
    table = [line.removeprefix("vidfill:").strip() for line in lines[start + 2:start + 2 + len(names)]]
    assert [row.startswith(name + " ") for row, name in zip(table, names)] == [True] * len(names), err
    assert table[-1].endswith("100%")
    assert any("peak RSS" in line for line in lines[start:]) and "CUDA" not in err
    assert out.is_file() and hidden(tmp_path) == [] and hidden(profile.parent) == []


def test_without_profile_nothing_more_is_printed_or_written(clip, tmp_path, capsys):
    video, masks = clip
    out = tmp_path / "clean.mp4"
    code, err = run(capsys, video, masks, "-o", out, *FAST)
    assert code == 0, err
    assert "vidfill: profile" not in err and "peak RSS" not in err and " share" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.mp4", "clip.mp4", "masks"]


@pytest.mark.parametrize("case, why", [
    ("input link", "is the input"), ("masks", "is the masks"), ("output", "is the output"),
    ("inside output", "lies inside the output"), ("not json", "ending in .json"),
    ("a file of the user's", "not a vidfill profile")])
def test_a_profile_that_would_replace_a_file_is_refused(clip, tmp_path, capsys, case, why):
    video, masks = clip
    out = tmp_path / "clean.mp4"
    overwrite = ["--overwrite"] if case != "a file of the user's" else []  # inputs: even so
    if case == "input link":  # a link to the clip is the clip
        profile = tmp_path / "p.json"
        profile.symlink_to(video)
    elif case == "masks":
        masks = masks.rename(tmp_path / "masks.json")
        profile = masks
    elif case == "output":  # an image-sequence folder with a .json name
        out = profile = tmp_path / "seq.json"
        out.mkdir()
    elif case == "inside output":
        out = tmp_path / "seq"
        profile = out / "p.json"
    elif case == "not json":
        profile = tmp_path / "p.mp4"
    else:
        profile = tmp_path / "notes.json"
        profile.write_text('{"mine": true}')
    entries = {p.name: p.read_bytes() if p.is_file() else None for p in tmp_path.iterdir()}
    code, err = run(capsys, video, masks, "-o", out, *FAST, "--profile", profile, *overwrite)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("vidfill: error: "), err
    assert str(profile) in lines[0] and why in lines[0], err
    assert {p.name: p.read_bytes() if p.is_file() else None for p in tmp_path.iterdir()} == entries
    assert not out.exists() or list(out.iterdir()) == []


def test_a_file_of_the_users_is_replaced_with_overwrite(clip, tmp_path, capsys):
    video, masks = clip
    profile = tmp_path / "notes.json"
    profile.write_text('{"mine": true}')
    code, err = run(capsys, video, masks, "-o", tmp_path / "clean.mp4", *FAST, "--profile", profile,
                    "--overwrite")
    assert code == 0, err
    assert json.loads(profile.read_text())[MARK] == 1


def test_run_job_profiles_only_its_own_stages(clip, tmp_path, device):
    """A reporter that timed earlier runs: the profile holds this run's seconds only; the peak
    CUDA memory on a GPU, null on the CPU."""
    video, masks = clip
    cfg = load_preset("default").replace(flow={"method": "dis"}, edges={"method": "none"})
    reporter = Reporter(quiet=True)
    reporter.timings.update({"flow": 1000.0, "earlier": 5.0})
    run_job(Job(input=video, masks=masks, output=tmp_path / "clean.mp4", cfg=cfg,
                device=str(device), profile=tmp_path / "p.json"), reporter)
    data = json.loads((tmp_path / "p.json").read_text())
    assert "earlier" not in data["stages_s"] and 0 < data["stages_s"]["flow"] < data["total_s"]
    assert data["preset"] is None and data["frames"] == data["frames_written"] == T
    assert sum(data["stages_s"].values()) <= data["total_s"]
    if device.type == "cuda":
        assert data["peak_cuda_gb"] > 0 and data["gpu"]
    else:
        assert data["peak_cuda_gb"] is None and data["gpu"] is None


def test_the_table():
    profile = build_profile({"flow": 1.0, "propagation": 3.0}, 5.0, 10, (240, 432), "cpu",
                            preset="fast")
    assert profile["other_s"] == pytest.approx(1.0) and list(profile["stages_s"]) == ["propagation", "flow"]
    lines = profile_table(profile)
    assert lines[0].startswith("profile: 10 frame(s) at 432x240 on cpu") and "--pipeline fast" in lines[0]
    assert [line.split() for line in lines[2:6]] == [
        ["propagation", "3.00", "0.300", "60%"], ["flow", "1.00", "0.100", "20%"],
        ["other", "1.00", "0.100", "20%"], ["total", "5.00", "0.500", "100%"]]
    assert lines[6].strip().startswith("peak RSS ") and "CUDA" not in lines[6]


def test_the_figures_on_cuda(monkeypatch):
    """On a GPU (here stood in for): its name and the most memory torch allocated there."""
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "Stand-in GPU")
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: 3 * 2 ** 29)
    profile = build_profile({"flow": 1.0}, 2.0, 4, (48, 64), "cuda")
    assert profile["gpu"] == "Stand-in GPU" and profile["peak_cuda_gb"] == 1.5
    lines = profile_table(profile)
    assert "on cuda (Stand-in GPU)" in lines[0] and "peak CUDA memory 1.50 GB" in lines[-1]
