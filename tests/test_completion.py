import numpy as np
import pytest
import torch

from vidfill.stages.completion import complete_flow


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
    flow = torch.ones(2, 2, 10, 10)
    hole = torch.zeros(2, 1, 10, 10, dtype=torch.bool)
    hole[0, :, :, :4] = True  # touches three borders: zero normal derivative there
    hole[1] = True  # nothing known: zero
    done = complete_flow(flow * ~hole, hole).flow
    assert float((done[0] - 1).abs().max()) < 1e-5
    assert not done[1].any()


def test_edge_guided_completion_matches_an_exact_sparse_solve():
    """The CG solve against a direct sparse LU of the same weighted Laplace equation."""
    sp = pytest.importorskip("scipy.sparse")
    spla = pytest.importorskip("scipy.sparse.linalg")
    h, w, cut = 40, 56, 0.05
    rng = np.random.default_rng(3)
    known = rng.normal(size=(2, h, w)).cumsum(1).cumsum(2) / 20  # smooth-ish, far from linear
    hole = irregular_hole(h, w, 5)
    edges = np.zeros((h, w), bool)
    edges[:, 27] = True  # a motion boundary through the hole
    index = np.full((h, w), -1)
    ys, xs = np.nonzero(hole)
    index[ys, xs] = np.arange(len(ys))
    rows, cols, data, rhs = [], [], [], np.zeros((len(ys), 2))
    for i, (y, x) in enumerate(zip(ys, xs)):
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            ny, nx = y + dy, x + dx
            if not (0 <= ny < h and 0 <= nx < w):
                continue
            weight = cut if edges[y, x] or edges[ny, nx] else 1.0
            rows.append(i), cols.append(i), data.append(weight)
            if index[ny, nx] >= 0:
                rows.append(i), cols.append(index[ny, nx]), data.append(-weight)
            else:
                rhs[i] += weight * known[:, ny, nx]
    exact = spla.spsolve(sp.csc_matrix((data, (rows, cols)), shape=(len(ys),) * 2), rhs)
    flow = torch.from_numpy(known).float()[None]
    done = complete_flow(flow, torch.from_numpy(hole)[None, None],
                         edges=torch.from_numpy(edges)[None, None], cut_weight=cut).flow
    assert float(np.abs(done[0][:, ys, xs].numpy().T - exact).max()) < 2e-3


def test_shape_validation_message():
    with pytest.raises(ValueError, match=r"hole must be bool of shape \(2, 1, 8, 8\)"):
        complete_flow(torch.zeros(2, 2, 8, 8), torch.zeros(2, 1, 8, 9, dtype=torch.bool))
