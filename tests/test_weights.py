import dataclasses
from pathlib import Path

import pytest
import torch

from vidfill.models import weights
from vidfill.config import FlowConfig
from vidfill.errors import VidfillError
from vidfill.models.build import build_flow_model


@pytest.fixture
def tiny_entry(monkeypatch, tmp_path):
    """A manifest entry for a tiny network whose 'download' is a local file:// URL."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 2, 1))
    source = tmp_path / "server" / "tiny-abc.pth"
    source.parent.mkdir()
    torch.save(net.state_dict(), source)
    entry = weights.WeightsEntry(
        name="tiny", url=source.as_uri(), sha256_prefix=weights.sha256_of(source)[:8],
        licence="test", normalisation="none",
        build=lambda: torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 2, 1)))
    monkeypatch.setitem(weights.MANIFEST, "tiny", entry)
    monkeypatch.setenv("VIDFILL_CHECKPOINTS", str(tmp_path / "nothing-here"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return entry, net.state_dict()


def test_download_is_hash_checked_and_cached(tiny_entry, tmp_path):
    entry, reference = tiny_entry
    found = weights.load_state_dict("tiny")
    assert found.state_dict is not None and "hub" in found.note
    for key, value in reference.items():
        assert torch.equal(found.state_dict[key], value)
    assert weights.hub_path(entry).is_file()
    # the cached file is used next time, even with the source gone
    (tmp_path / "server" / "tiny-abc.pth").unlink()
    assert weights.load_state_dict("tiny").state_dict is not None


def test_wrong_hash_is_refused_and_leaves_nothing(tiny_entry, monkeypatch):
    entry, _ = tiny_entry
    monkeypatch.setitem(weights.MANIFEST, "tiny", dataclasses.replace(entry, sha256_prefix="00000000"))
    found = weights.load_state_dict("tiny")
    assert found.state_dict is None and "does not match" in found.note
    assert not list(weights.hub_path(entry).parent.glob("*"))


def test_unreachable_download_gives_none_with_reason(tiny_entry, monkeypatch, tmp_path):
    entry, _ = tiny_entry
    monkeypatch.setitem(weights.MANIFEST, "tiny",
                        dataclasses.replace(entry, url=(tmp_path / "missing.pth").as_uri()))
    found = weights.load_state_dict("tiny")
    assert found.state_dict is None and "download failed" in found.note
    assert weights.load_state_dict("tiny", download=False).note.endswith("(downloads disabled)")


def test_checkpoints_folder_is_searched_first(tiny_entry, monkeypatch, tmp_path):
    entry, reference = tiny_entry
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / entry.filename).write_bytes(Path(entry.url.removeprefix("file://")).read_bytes())
    monkeypatch.setenv("VIDFILL_CHECKPOINTS", str(folder))
    found = weights.load_state_dict("tiny", download=False)
    assert str(folder) in found.note and set(found.state_dict) == set(reference)
    prefixed = tmp_path / "data_parallel.pth"  # another layout: given explicitly, converted
    torch.save({"module." + k: v for k, v in reference.items()}, prefixed)
    assert set(weights.load_state_dict("tiny", prefixed).state_dict) == set(reference)


def test_explicit_path_errors_are_one_line(tiny_entry, tmp_path):
    with pytest.raises(VidfillError, match="weights file not found"):
        weights.load_state_dict("tiny", tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(VidfillError, match="cannot read checkpoint"):
        weights.load_state_dict("tiny", bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"a": torch.zeros(1)}, wrong)
    with pytest.raises(VidfillError, match="1 tensors, expected 4"):
        weights.load_state_dict("tiny", wrong)


def test_princeton_layout_maps_by_position_with_shape_check():
    reference = {"encoder.w": torch.zeros(2, 3), "encoder.b": torch.zeros(2)}
    theirs = {"module.fnet.conv.weight": torch.ones(2, 3), "module.fnet.conv.bias": torch.ones(2)}
    converted = weights.convert_state_dict(theirs, reference, "x.pth")
    assert list(converted) == ["encoder.w", "encoder.b"] and converted["encoder.w"].sum() == 6
    with pytest.raises(VidfillError, match="has shape"):
        weights.convert_state_dict({"a": torch.ones(3), "b": torch.ones(2)}, reference, "x.pth")


def test_no_weights_falls_back_to_dis_and_says_so(monkeypatch, tmp_path, capsys):
    from vidfill.progress import Reporter

    monkeypatch.setenv("VIDFILL_CHECKPOINTS", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    model = build_flow_model(FlowConfig(), download=False, reporter=Reporter())
    assert model is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "using OpenCV DIS flow instead" in err


def test_princeton_raft_small_checkpoint_loads(shared):
    found = weights.load_state_dict("raft_small", shared / "checkpoints/raft-small.pth")
    model = weights.MANIFEST["raft_small"].build()
    model.load_state_dict(found.state_dict)  # strict: every tensor placed


def test_a_shipped_checkpoint_is_hash_checked(tmp_path, monkeypatch):
    entry = weights.MANIFEST["flow_edges"]
    shipped = weights.checkpoint_dirs()[-1] / entry.filename
    altered = bytearray(shipped.read_bytes())
    altered[-1] ^= 0xFF
    (tmp_path / entry.filename).write_bytes(bytes(altered))
    monkeypatch.setattr(weights, "checkpoint_dirs", lambda: [tmp_path])
    with pytest.raises(VidfillError, match="does not match the manifest's 48654c3f; the file is damaged"):
        weights.load_state_dict("flow_edges")
