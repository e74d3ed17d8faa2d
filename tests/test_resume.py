"""--resume: a run killed midway continues from the last recorded window to the identical output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import translating_clip
from vidfill.cli.main import main

REPO = Path(__file__).resolve().parents[1]
T = 16
WINDOWS = ["--pipeline", "fast"]  # DIS flow


@pytest.fixture
def clip(tmp_path: Path, request) -> tuple[Path, Path, Path]:
    """A 16-frame PNG clip with a moving hole, and a preset with 6-frame windows (4 windows).
    With the parameter "still": a still camera and a still hole, whose fill is invented until
    its last three frames show what it hides (shown content must then come first, after a
    resume as in one go)."""
    still = getattr(request, "param", None) == "still"
    frames = translating_clip(num_frames=T, h=48, w=64, dx=0 if still else 3,
                              dy=0 if still else 1).permute(0, 2, 3, 1).numpy()
    src, masks = tmp_path / "src", tmp_path / "masks"
    src.mkdir(), masks.mkdir()
    for t in range(T):
        cv2.imwrite(str(src / f"f{t}.png"), frames[t][..., ::-1])
        mask = np.zeros((48, 64), np.uint8)
        if not still or t < T - 3:
            mask[14:30, 10 + (0 if still else t):26 + (0 if still else t)] = 255
        cv2.imwrite(str(masks / f"m{t}.png"), mask)
    preset = tmp_path / "windows.toml"
    preset.write_text('[flow]\nmethod = "dis"\n[window]\nlength = 6\noverlap = 2\nlookahead = 0\nstretch = 0\n')
    return src, masks, preset


def _pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


KILLED_AT_THIRD_WINDOW = """
import sys, time
from pathlib import Path
import vidfill.windows
from vidfill.cli.main import main
calls, original = [], vidfill.windows.inpaint_video
def stall_third(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:  # windows 1 and 2 are recorded: say so, then wait to be killed
        Path(sys.argv[1]).touch()
        time.sleep(600)
    return original(*args, **kwargs)
vidfill.windows.inpaint_video = stall_third
main(sys.argv[2:])
"""


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["moving", "still"], indirect=True)
def test_killed_run_resumes_to_identical_output(clip, tmp_path, capsys, monkeypatch, request):
    src, masks, preset = clip
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main([str(src), str(masks), "-o", str(straight), "--pipeline", str(preset), "-q"]) == 0

    marker = tmp_path / "stalled"
    args = [str(src), str(masks), "-o", str(resumed), "--pipeline", str(preset), "--resume", "-q"]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_AT_THIRD_WINDOW, str(marker), *args],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), f"the run never reached its third window (exit {proc.poll()})"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    work = tmp_path / "resumed.vidfill-work"
    assert not resumed.exists() and '"finished": 2' in (work / "state.json").read_text()
    if request.node.callspec.params["clip"] == "still":  # invented fill: its masks are recorded
        assert list((work / "frames").glob("*.keyfill.png"))

    counted = []
    original = __import__("vidfill.windows").windows.inpaint_video
    monkeypatch.setattr("vidfill.windows.inpaint_video",
                        lambda *a, **k: counted.append(1) or original(*a, **k))
    assert main(args[:-1]) == 0, capsys.readouterr().err  # without -q: the resume note
    assert "resuming: 2 window(s) already in" in capsys.readouterr().err
    assert len(counted) == 2  # only windows 3 and 4 were computed again
    assert _pngs(resumed) == _pngs(straight)  # byte for byte
    assert not work.exists()  # removed once the output is complete


def test_work_dir_of_another_run_is_refused(clip, tmp_path, capsys):
    src, masks, preset = clip
    out, work = tmp_path / "out", tmp_path / "work"
    base = [str(src), str(masks), "-o", str(out), "--resume", "--work-dir", str(work), "-q"]
    work.mkdir()
    (work / "state.json").write_text('{"vidfill_work_dir": 1, "key": {"config": "0000"}, "finished": 1}')
    assert main([*base, "--pipeline", str(preset)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"vidfill: error: {work}: holds 1 finished window(s) of another run "
                          "(it differs in ") and "\n" not in err
    assert "config" in err and not out.exists()
    (work / "state.json").write_text("{not json")
    assert main([*base, "--pipeline", str(preset)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"vidfill: error: {work / 'state.json'}: unreadable work state")
    assert "\n" not in err and not out.exists()
