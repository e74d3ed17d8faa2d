"""The one promise, over random folder layouts: every file that existed before a run and that
vidfill did not write itself is byte for byte unchanged after it (links included: still the
same link), and the run either succeeds or fails with one line and exit status 2, leaving no
temporary file behind.

Layouts mix what users really have next to a job: outputs (the output, a preview, a profile)
inside inputs and inputs inside outputs, links to inputs, earlier vidfill outputs (which may be
replaced), the user's own numbered frames and videos and JSON files, notes, painted frames kept
in an output folder, work directories.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vidfill.cli.demo import make_clip, write_clip  # noqa: E402
from vidfill.cli.main import main  # noqa: E402
from vidfill import io  # noqa: E402
from vidfill.io.safety import MANIFEST  # noqa: E402

T, SIZE = 4, (48, 64)
FIRST = 1001  # the frame folder is plate.1001.png ...
PLACES = ["", "a", "a/b", "c"]
"""Folders of a layout (relative to its root) where things are put."""


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    """Made once: a clip (video and frame folder), masks (folder and one image), a painted
    frame, an earlier vidfill video and sequence, and a video that another program wrote."""
    root = tmp_path_factory.mktemp("assets")
    _, frames, masks = make_clip(T, size=SIZE, seed=5)
    write_clip(root / "clip.mp4", frames)
    (root / "plate").mkdir()
    (root / "masks").mkdir()
    for t in range(T):
        cv2.imwrite(str(root / "plate" / f"plate.{FIRST + t}.png"), frames[t][..., ::-1])
        cv2.imwrite(str(root / "masks" / f"m{t}.png"), masks[t].astype(np.uint8) * 255)
    cv2.imwrite(str(root / "mask.png"), masks[0].astype(np.uint8) * 255)
    cv2.imwrite(str(root / "painted.png"), frames[1][..., ::-1])
    info = io.VideoInfo(source=root, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
    earlier = torch.zeros(T + 3, 3, *SIZE, dtype=torch.uint8)
    io.write_output(root / "earlier.mp4", earlier, info)
    io.write_output(root / "earlier_seq", earlier, info)
    _foreign(root / "clip.mp4", root / "foreign.mp4")
    return root


def _foreign(clip: Path, video: Path) -> None:
    """``clip``'s frames as another program would have written them: no vidfill mark."""
    import av

    frames = io.read_frames(clip)[0]
    with av.open(str(video), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame.permute(1, 2, 0).numpy(), format="rgb24")))
        out.mux(stream.encode())
    assert not io.written_by_vidfill(video)


@dataclass
class Layout:
    """A layout and the paths of vidfill's own earlier outputs in it (which a run may replace)."""

    root: Path
    args: list[str] = field(default_factory=list)
    ours: set[Path] = field(default_factory=set)
    """Files that an earlier vidfill run wrote: a later run may replace or remove them."""
    writes: set[Path] = field(default_factory=set)
    """With --overwrite: the files the run writes under their names (it may replace them)."""


def _place(root: Path, draw, name: str) -> Path:
    folder = root / draw(st.sampled_from(PLACES))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _copy(source: Path, target: Path) -> Path:
    if target.exists() or target.is_symlink():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)
    return target


def _user_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        if not (folder / name).exists():
            cv2.imwrite(str(folder / name), np.full((8, 8, 3), 20 * i, np.uint8))


@st.composite
def layouts(draw, assets: Path) -> Layout:
    root = Path(tempfile.mkdtemp(prefix="layout-"))
    lay = Layout(root)
    video_input = draw(st.booleans())
    clip = _copy(assets / ("clip.mp4" if video_input else "plate"),
                 _place(root, draw, "clip.mp4" if video_input else "plate"))
    mask_name = draw(st.sampled_from(["masks", "mask.png"]))  # a folder, or one image
    masks = _copy(assets / mask_name, _place(root, draw, mask_name))
    inputs = [clip, masks]
    reference = None
    if draw(st.booleans()):
        reference = _copy(assets / "painted.png", _place(root, draw, "painted.png"))
        inputs.append(reference)
    names = [f"{i:04d}.png" for i in range(T)] if video_input else [f"{FIRST + i}.png" for i in range(T)]

    def earlier_video(path: Path) -> Path:
        _copy(assets / "earlier.mp4", path)
        lay.ours.add(path)
        return path

    def earlier_sequence(path: Path) -> Path:
        _copy(assets / "earlier_seq", path)
        lay.ours.update(p for p in path.iterdir())
        return path

    def target(kind: str) -> Path:
        """A path for an output of ``kind`` ("video" or "any"), drawn among what users do."""
        choices = ["new video", "earlier video", "foreign video", "an input", "inside an input",
                   "link to an input", "link to a foreign video", "parent of an input"]
        if kind == "any":
            choices += ["new folder", "earlier sequence", "user's plate", "folder with notes",
                        "folder holding an input", "link to the user's plate"]
        choice = draw(st.sampled_from(choices))
        if choice == "new video":
            return _place(root, draw, draw(st.sampled_from(["out.mp4", "out.mkv"])))
        if choice == "earlier video":
            return earlier_video(_place(root, draw, "take.mp4"))
        if choice == "foreign video":
            return _copy(assets / "foreign.mp4", _place(root, draw, "take.mp4"))
        if choice == "an input":
            return draw(st.sampled_from(inputs))
        if choice == "inside an input":
            folder = draw(st.sampled_from([p for p in inputs if p.is_dir()] or [root / "a"]))
            return folder / draw(st.sampled_from(["out.mp4", "out"]))
        if choice == "link to an input":
            link = _place(root, draw, "linked" + draw(st.sampled_from(["", ".mp4"])))
            if not link.exists() and not link.is_symlink():
                link.symlink_to(draw(st.sampled_from(inputs)))
            return link
        if choice == "link to a foreign video":
            link = _place(root, draw, "linked.mp4")
            if not link.exists() and not link.is_symlink():
                link.symlink_to(_copy(assets / "foreign.mp4", root / "c" / "theirs.mp4"))
            return link
        if choice == "parent of an input":
            return draw(st.sampled_from(inputs)).parent
        if choice == "new folder":
            return _place(root, draw, "out")
        if choice == "earlier sequence":
            return earlier_sequence(_place(root, draw, "seq"))
        if choice == "user's plate":
            folder = _place(root, draw, "plate2")
            _user_frames(folder, draw(st.sampled_from([names, names[:2], names + ["9999.png"],
                                                       ["shot_0001.png", "0050.png"]])))
            return folder
        if choice == "folder with notes":
            folder = _place(root, draw, "seq")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "notes.txt").write_text("mine")
            return folder
        if choice == "folder holding an input":
            return draw(st.sampled_from(inputs)).parent
        folder = _place(root, draw, "plate3")  # link to the user's plate
        _user_frames(root / "c" / "theirs", names)
        if not folder.exists() and not folder.is_symlink():
            folder.symlink_to(root / "c" / "theirs")
        return folder

    output = target("any")
    lay.args = [str(clip), str(masks), "-o", str(output), "--pipeline", "fast", "-q"]
    if reference is not None:
        lay.args += ["--reference", f"{1 if video_input else FIRST + 1}={reference}"]
    if draw(st.booleans()):
        preview = target("video")
        lay.args += ["--preview", str(preview)]
        lay.writes.add(preview.resolve())
    if draw(st.integers(0, 2)) == 0:
        profile = draw(st.sampled_from(["new", "the user's", "any"]))
        profile = target("any") if profile == "any" else _place(root, draw, "run.json")
        if not profile.exists() and not profile.is_symlink() and profile.name == "run.json" \
                and draw(st.booleans()):
            profile.write_text('{"mine": 1}')  # the user's own file of that name
        lay.args += ["--profile", str(profile)]
        lay.writes.add(profile.resolve())
    if draw(st.integers(0, 3)) == 0:
        lay.args += ["--work-dir", str(draw(st.sampled_from(
            [_place(root, draw, "work"), root, clip.parent, output.parent / "w"])))]
    overwrite = draw(st.booleans())
    if overwrite:
        lay.args.append("--overwrite")
    resolved = output.resolve()
    lay.writes.add(resolved)
    if not resolved.suffix:
        lay.writes.update({resolved / name for name in names} | {resolved / MANIFEST})
    if not overwrite:
        lay.writes = set()
    return lay


def _state(root: Path) -> dict[Path, tuple[str, bytes | str]]:
    """Every file and link under ``root``: path -> ("file", bytes) or ("link", target)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                found[path] = ("link", os.readlink(path))
            elif path.is_file():
                found[path] = ("file", path.read_bytes())
    return found


@settings(max_examples=int(os.environ.get("VIDFILL_PROPERTY_EXAMPLES", "25")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_nothing_vidfill_did_not_write_ever_changes(assets, capsys, data):
    lay = data.draw(layouts(assets))
    try:
        before = _state(lay.root)
        capsys.readouterr()
        code = main(lay.args)
        err = capsys.readouterr().err
        hypothesis.event(f"exit {code}" + (": " + re.sub(r"/\S+", "PATH", err.strip())[16:90] if code else ""))
        lines = err.strip().splitlines()
        assert code in (0, 2), (lay.args, err)
        if code == 2:
            assert len(lines) == 1 and lines[0].startswith("vidfill: error: "), (lay.args, err)
        after = _state(lay.root)
        for path, was in before.items():
            if path in lay.ours or path.resolve() in lay.ours or path.resolve() in lay.writes:
                continue  # vidfill's own earlier output, or replaced as --overwrite allows
            assert after.get(path) == was, (f"{path} changed", lay.args, err)
        leftovers = [p for p in after if ".tmp-" in p.name]
        assert not leftovers, (leftovers, lay.args)
    finally:
        shutil.rmtree(lay.root, ignore_errors=True)
