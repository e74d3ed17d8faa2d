import numpy as np
import pytest
import torch

from vidfill.stages.completion import complete_flow, laplace_fill


def irregular_hole(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    hole = np.zeros((h, w), bool)
    for _ in range(4):
        cy, cx, r = rng.integers(12, h - 12), rng.integers(12, w - 12), rng.integers(4, 10)
        hole |= (y - cy) ** 2 + (x - cx) ** 2 < r ** 2
    return hole


def test_linear_flow_field_is_completed_exactly():
    n, h, w = 3, 40, 56
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                          indexing="ij")
    flow = torch.stack([torch.stack([0.3 * x - 0.2 * y + i, -0.1 * x + 0.4 * y - 2]) for i in range(n)])
    hole = torch.from_numpy(np.stack([irregular_hole(h, w, s) for s in range(n)]))[:, None]
    corrupted = torch.where(hole, torch.full_like(flow, 99.0), flow)
    done = complete_flow(corrupted, hole).flow
    assert float((done - flow).abs().max()) < 1e-4


def test_known_flow_is_untouched_and_hole_is_smooth():
    flow = torch.randn(1, 2, 30, 30)
    hole = torch.zeros(1, 1, 30, 30, dtype=torch.bool)
    hole[..., 10:20, 10:20] = True
    done = complete_flow(flow, hole).flow
    assert torch.equal(done[~hole.expand_as(done)], flow[~hole.expand_as(flow)])
    inside = done[0, :, 10:20, 10:20]
    assert float(inside.abs().max()) <= float(flow.abs().max())  # maximum principle


def test_hole_touching_the_border_and_all_hole_frame():
    values = np.ones((2, 10, 10), np.float32)
    hole = np.zeros((10, 10), bool)
    hole[:, :4] = True  # touches three borders: zero normal derivative there
    np.testing.assert_allclose(laplace_fill(values * ~hole, hole), values, atol=1e-9)
    assert not laplace_fill(values, np.ones((10, 10), bool)).any()


def test_shape_validation_message():
    with pytest.raises(ValueError, match=r"hole must be bool of shape \(2, 1, 8, 8\)"):
        complete_flow(torch.zeros(2, 2, 8, 8), torch.zeros(2, 1, 8, 9, dtype=torch.bool))
