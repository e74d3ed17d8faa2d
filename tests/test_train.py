import json

import numpy as np
import pytest
import torch

from vidfill.cli.main import main as cli_main
from vidfill.config import EdgeConfig
from vidfill.errors import VidfillError
from vidfill.models.train import (TrainConfig, export, learning_rate, make_batch, precision_recall,
                           random_hole, synthetic_flow, train_flow_edges)
from vidfill.models.weights import sha256_of

TINY = TrainConfig(steps=3, batch=2, size=32, width=4, blocks=1, save_every=1, validate_every=3)


def test_batches_are_a_function_of_seed_and_step():
    a, b = make_batch(0, 5, 2, 32, EdgeConfig()), make_batch(0, 5, 2, 32, EdgeConfig())
    c = make_batch(0, 6, 2, 32, EdgeConfig())
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.target, b.target)
    assert not torch.equal(a.inputs, c.inputs)
    assert a.inputs.shape == (2, 4, 32, 32) and a.hole.dtype == torch.bool
    assert (a.inputs[:, :3][a.hole.expand(2, 3, 32, 32)] == 0).all()


def test_synthetic_data_has_motion_boundaries_and_sane_holes():
    rng = np.random.default_rng(0)
    flows = [synthetic_flow(rng, 64, 64) for _ in range(20)]
    assert all(f.shape == (2, 64, 64) and f.dtype == np.float32 for f in flows)
    edge_fraction = make_batch(1, 0, 16, 64, EdgeConfig()).target.mean()
    assert 0.003 < float(edge_fraction) < 0.2
    holes = [random_hole(rng, 64, 64) for _ in range(50)]
    assert all(0 < h.mean() <= 0.6 for h in holes)


def test_precision_recall_with_tolerance():
    truth = torch.zeros(1, 1, 10, 10, dtype=torch.bool)
    truth[..., 5] = True
    hole = torch.ones_like(truth)
    shifted = torch.zeros_like(truth)
    shifted[..., 6] = True
    assert precision_recall(shifted, truth, hole, tolerance=1) == (1.0, 1.0)
    assert precision_recall(shifted, truth, hole, tolerance=0) == (0.0, 0.0)
    far = torch.zeros_like(truth)
    far[..., 0, 0] = True
    precision, recall = precision_recall(far | truth, truth, hole, tolerance=0)
    assert precision == pytest.approx(10 / 11) and recall == 1.0


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    straight = train_flow_edges(tmp_path / "a", TINY, log=lambda _: None)
    train_flow_edges(tmp_path / "b", TrainConfig(**{**TINY.__dict__, "steps": 2}), log=lambda _: None)
    lines = []
    resumed = train_flow_edges(tmp_path / "b", TINY, resume=True, log=lines.append)
    assert "resumed" in lines[0] and "step 2" in lines[0]
    for (name, x), (_, y) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(x, y), name
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and "val_recall" in log[-1]


def test_a_finished_run_is_not_overwritten_and_settings_must_match(tmp_path):
    train_flow_edges(tmp_path, TINY, log=lambda _: None)
    with pytest.raises(VidfillError, match="--resume"):
        train_flow_edges(tmp_path, TINY, log=lambda _: None)
    with pytest.raises(VidfillError, match="other settings"):
        train_flow_edges(tmp_path, TrainConfig(**{**TINY.__dict__, "lr": 1.0}), resume=True)


def test_rate_decays_after_decay_from_and_a_resumed_run_may_start_the_decay(tmp_path):
    cfg = TrainConfig(lr=1e-3, steps=200, decay_from=100)
    assert learning_rate(cfg, 0) == learning_rate(cfg, 100) == 1e-3
    assert learning_rate(cfg, 150) == pytest.approx(1e-3 * (0.05 + 0.95 * 0.5))
    assert learning_rate(cfg, 200) == pytest.approx(5e-5)
    assert learning_rate(TrainConfig(lr=1e-3, steps=200), 199) == 1e-3  # decay_from 0: constant

    train_flow_edges(tmp_path, TINY, log=lambda _: None)  # 3 steps at the constant rate
    longer = TrainConfig(**{**TINY.__dict__, "steps": 5, "decay_from": 3})
    train_flow_edges(tmp_path, longer, resume=True, log=lambda _: None)
    with pytest.raises(VidfillError, match="decay-from"):  # steps 3-4 already had the decayed rate
        train_flow_edges(tmp_path, TrainConfig(**{**longer.__dict__, "steps": 8, "decay_from": 0}),
                         resume=True, log=lambda _: None)


def test_export_names_the_file_by_its_hash(tmp_path):
    model = train_flow_edges(tmp_path / "run", TINY, log=lambda _: None)
    path = export(model, tmp_path / "out")
    assert path.name == f"flow_edges-{sha256_of(path)[:8]}.pth"
    assert list((tmp_path / "out").iterdir()) == [path]


def test_train_command_line(tmp_path, capsys):
    args = ["train", "flow-edges", "--run", str(tmp_path / "run"), "--steps", "1", "--batch", "1",
            "--size", "32", "--width", "4", "--blocks", "1", "--export", str(tmp_path / "out")]
    assert cli_main(args) == 0
    assert "wrote" in capsys.readouterr().out
    assert cli_main(args) == 2
    assert "--resume" in capsys.readouterr().err
