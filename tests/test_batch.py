"""``vidfill batch``: folders and job files, failures that do not stop the batch, skipping, Ray."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import translating_clip, visible
from vidfill import io
from vidfill.cli.batch import Outcome, from_folder, from_job_file
from vidfill.cli.main import main
from vidfill.errors import VidfillError

REPO = Path(__file__).resolve().parents[1]
T, H, W = 6, 32, 48


def _clip(folder: Path, name: str, seed: int, masks: int | None = T, mask_start: int = 0) -> None:
    """Frames NAME/ and, unless ``masks`` is None, that many masks NAME_mask/ numbered from
    ``mask_start`` (the frames from 0: masks whose numbers are all frame numbers go by number)."""
    frames = translating_clip(num_frames=T, h=H, w=W, dx=2, dy=1, seed=seed)
    (folder / name).mkdir(parents=True)
    for t, frame in enumerate(frames):
        io.write_image(folder / name / f"f{t}.png", frame)
    if masks is not None:
        (folder / f"{name}_mask").mkdir()
        for t in range(masks):
            mask = np.zeros((H, W), np.uint8)
            mask[10:20, 8 + 2 * t:20 + 2 * t] = 255
            cv2.imwrite(str(folder / f"{name}_mask" / f"m{mask_start + t}.png"), mask)


def test_failures_do_not_stop_the_batch_and_are_summarised(tmp_path, capsys):
    clips, out = tmp_path / "clips", tmp_path / "out"
    _clip(clips, "a_good", 0)
    _clip(clips, "b_no_masks", 1, masks=None)
    _clip(clips, "c_short_masks", 2, masks=T - 1, mask_start=100)
    _clip(clips, "d_good", 3)
    code = main(["batch", str(clips), "-o", str(out), "--flow", "dis", "-q"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 1
    assert lines[0].startswith(f"ok       a_good: {out / 'a_good'} (")
    assert lines[1] == (f"failed   b_no_masks: {clips / 'b_no_masks'}: no masks found (expected "
                        "b_no_masks_mask/, b_no_masks_mask.png or b_no_masks_mask.mp4 next to it)")
    assert lines[2] == (f"failed   c_short_masks: {clips / 'c_short_masks_mask'}: {T - 1} masks for "
                        f"{T} frames; give one mask per frame or a single image for all")
    assert lines[3].startswith("ok       d_good: ")
    assert lines[4] == "batch: 2 ok, 2 failed, 0 skipped"
    assert sorted(p.name for p in out.iterdir()) == ["a_good", "d_good"]  # nothing half-written
    assert len(visible(out / "a_good")) == T

    # run again: the finished clips are skipped, the failed ones fail again
    code = main(["batch", str(clips), "-o", str(out), "--flow", "dis", "-q"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 1 and lines[0] == f"skipped  a_good: {out / 'a_good'} exists"
    assert lines[-1] == "batch: 0 ok, 2 failed, 2 skipped"


def test_all_ok_exits_zero(tmp_path, capsys):
    clips = tmp_path / "clips"
    _clip(clips, "only", 0)
    assert main(["batch", str(clips), "-o", str(tmp_path / "out"), "--ext", ".mkv",
                 "--codec", "ffv1", "--flow", "dis", "-q"]) == 0
    assert capsys.readouterr().out.strip().endswith("batch: 1 ok, 0 failed, 0 skipped")
    assert len(io.read_frames(tmp_path / "out" / "only.mkv")[0]) == T


def test_folder_naming_rule(tmp_path):
    for name in ("x.mp4", "x_mask.png", "y", "y_mask", "z.mov", "notes.txt", ".hidden.mp4"):
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).write_bytes(b"")
    entries = from_folder(tmp_path, tmp_path / "out")
    assert [(e.name, e.masks and e.masks.name, e.output.name) for e in entries] == [
        ("x", "x_mask.png", "x.mp4"), ("y", "y_mask", "y"), ("z", None, "z.mov")]
    with pytest.raises(VidfillError, match="no clips"):
        from_folder(tmp_path / "y_mask", tmp_path / "out")


def test_job_files(tmp_path):
    (tmp_path / "jobs.csv").write_text("clip,masks,output,preset\nin/a.mp4,m/a,out/a.mp4,fast\n"
                                       "in/b.mp4,m/b.png,out/b.mkv,\n")
    a, b = from_job_file(tmp_path / "jobs.csv")
    assert (a.clip, a.masks, a.output, a.preset) == (
        tmp_path / "in/a.mp4", tmp_path / "m/a", tmp_path / "out/a.mp4", "fast")
    assert b.preset is None and b.masks == tmp_path / "m/b.png"
    (tmp_path / "jobs.toml").write_text('[[job]]\nclip = "c"\nmasks = "cm"\noutput = "co"\n'
                                        'preset = "object"\n')
    (c,) = from_job_file(tmp_path / "jobs.toml")
    assert (c.clip, c.output, c.preset) == (tmp_path / "c", tmp_path / "co", "object")
    (tmp_path / "bad.csv").write_text("clip,masks\nin/a.mp4,m/a\n")
    with pytest.raises(VidfillError, match=r"bad\.csv: row 2 has no output"):
        from_job_file(tmp_path / "bad.csv")
    (tmp_path / "bad.toml").write_text('job = "x"\n')
    with pytest.raises(VidfillError, match=r"bad\.toml: jobs must be \[\[job\]\] tables"):
        from_job_file(tmp_path / "bad.toml")
    with pytest.raises(VidfillError, match=r"jobs\.txt: not a job file"):
        from_job_file(tmp_path / "jobs.txt")


def test_job_file_with_a_bad_preset_fails_that_row_only(tmp_path, capsys):
    _clip(tmp_path, "a", 0)
    _clip(tmp_path, "b", 1)
    (tmp_path / "jobs.csv").write_text("clip,masks,output,preset\na,a_mask,out/a,nope\n"
                                       "b,b_mask,out/b,fast\n")
    assert main(["batch", str(tmp_path / "jobs.csv"), "-q"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("failed   a: --pipeline nope: no such preset")
    assert lines[1].startswith("ok       b: ") and (tmp_path / "out" / "b").is_dir()


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    _clip(tmp_path / "clips", "a", 0)
    for argv, needle in [
            (["batch", str(tmp_path / "missing")], "missing: no such file or folder"),
            (["batch", str(tmp_path / "clips")], "a folder of clips needs -o OUTDIR")]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("vidfill: error: ") and needle in err and "\n" not in err
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["batch", str(tmp_path / "clips"), "-o", str(tmp_path / "out"), "--ray", "auto",
                 "-q"]) == 2
    assert capsys.readouterr().err.strip() == (
        "vidfill: error: --ray needs Ray, which is not installed: pip install 'vidfill[ray]'")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_auto_processes_four_clips(tmp_path):
    clips, out = tmp_path / "clips", tmp_path / "out"
    for seed, name in enumerate("abcd"):
        _clip(clips, name, seed)
    # the Ray workers must import this checkout's vidfill
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_ADDRESS": ""}
    proc = subprocess.run([sys.executable, "-m", "vidfill.cli", "batch", str(clips), "-o", str(out),
                           "--ray", "auto", "--flow", "dis", "-q"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "batch: 4 ok, 0 failed, 0 skipped"
    for name in "abcd":
        assert len(visible(out / name)) == T


@pytest.mark.parametrize("threads, expected", [([], 1), (["--threads", "3"], 3)])
def test_ray_tasks_take_as_many_cpus_as_they_use_threads(tmp_path, monkeypatch, threads, expected):
    """A Ray task reserves --threads CPUs (1 by default) and its job keeps that many threads."""
    _clip(tmp_path / "clips", "a", 0)
    seen = {}

    class FakeRay(types.ModuleType):
        class exceptions:
            RayError = RuntimeError

        def is_initialized(self):
            return True

        def remote(self, num_cpus, max_retries):
            seen["num_cpus"] = num_cpus

            def wrap(function):
                return types.SimpleNamespace(remote=lambda entry, job, error: (entry, job))
            return wrap

        def get(self, ref):
            entry, job = ref
            seen["threads"] = job.threads
            return Outcome(entry.name, "ok", str(entry.output))

    monkeypatch.setitem(sys.modules, "ray", FakeRay("ray"))
    assert main(["batch", str(tmp_path / "clips"), "-o", str(tmp_path / "out"), "--ray", "auto",
                 "-q", *threads]) == 0
    assert seen == {"num_cpus": expected, "threads": expected}
