import dataclasses

import pytest

from vidfill.config import PipelineConfig, load_preset, preset_names
from vidfill.errors import VidfillError


def test_every_shipped_preset_loads():
    assert {"default", "fast"} <= set(preset_names())
    for name in preset_names():
        assert isinstance(load_preset(name), PipelineConfig)
    assert load_preset("fast").flow.method == "dis"


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PipelineConfig().mask.dilate = 3


def test_preset_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text("[mask]\ndilate = 7\n[fusion]\nerror_sigma_px = 2\n")
    cfg = load_preset(str(good))
    assert cfg.mask.dilate == 7 and cfg.fusion.error_sigma_px == 2.0
    for text, message in [("[nope]\na = 1\n", "unknown section"),
                          ("[mask]\ndilat = 1\n", "unknown setting mask.dilat"),
                          ("[mask]\ndilate = 'x'\n", "mask.dilate must be int"),
                          ("[mask\n", "invalid TOML")]:
        good.write_text(text)
        with pytest.raises(VidfillError, match=message):
            load_preset(str(good))
    with pytest.raises(VidfillError, match="no such preset"):
        load_preset("nonexistent")


def test_replace_overrides_fields():
    cfg = PipelineConfig().replace(mask={"dilate": 0}, flow={"method": "dis"})
    assert cfg.mask.dilate == 0 and cfg.flow.method == "dis" and cfg.mask.threshold == 0.1
