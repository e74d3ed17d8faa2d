import numpy as np
import pytest
import torch

from vidfill.config import PoissonConfig
from vidfill.stages import multigrid
from vidfill.stages.poisson import poisson_solve

TIGHT = PoissonConfig(tolerance=1e-7, max_iterations=5000)


def grid(h, w, device="cpu"):
    return torch.meshgrid(torch.arange(h, dtype=torch.float64, device=device),
                          torch.arange(w, dtype=torch.float64, device=device), indexing="ij")


def irregular_hole(h, w, device="cpu"):
    """(1, 1, H, W) bool: an ellipse, a bar sticking out of it and a separate disc."""
    y, x = grid(h, w, device)
    hole = (y - 30) ** 2 / 400 + (x - 40) ** 2 / 900 < 1
    hole[20:25, 8:72] = True
    hole |= (y - 50) ** 2 + (x - 70) ** 2 < 36
    return hole[None, None]


def differences(f):
    return f[..., :, 1:] - f[..., :, :-1], f[..., 1:, :] - f[..., :-1, :]


def test_harmonic_function_is_reproduced_inside_irregular_hole(device):
    y, x = grid(64, 80, device)
    # x^2 - y^2 and xy are discrete-harmonic on the 5-point stencil
    f = (((x - 40) ** 2 - (y - 30) ** 2) / 100 + 0.5 * (x - 40) * (y - 30) / 100 + 0.1 * x)[None, None]
    f = f.float().expand(2, 3, -1, -1).contiguous()
    hole = irregular_hole(64, 80, device).expand(2, -1, -1, -1)
    tx, ty = torch.zeros_like(differences(f)[0]), torch.zeros_like(differences(f)[1])
    result = poisson_solve(torch.where(hole, 0.0, f), hole, tx, ty, TIGHT)
    assert float((result.values - f).abs().max()) < 1e-4
    assert result.residual <= TIGHT.tolerance


def test_quadratic_with_its_laplacian_as_source_is_reproduced(device):
    y, x = grid(64, 80, device)
    f = (((x - 35) ** 2 + 2 * (y - 28) ** 2) / 300 + 0.01 * x * y / 10)[None, None].float()
    hole = irregular_hole(64, 80, device)
    tx, ty = differences(f)  # their divergence is the discrete Laplacian of f: the source term
    result = poisson_solve(torch.where(hole, -5.0, f), hole, tx, ty, TIGHT)
    assert float((result.values - f).abs().max()) < 1e-4


def test_known_pixels_are_untouched_and_nothing_to_solve_is_a_copy():
    f = torch.rand(1, 3, 20, 24)
    hole = torch.zeros(1, 1, 20, 24, dtype=torch.bool)
    tx, ty = differences(f)
    assert torch.equal(poisson_solve(f, hole, tx, ty, TIGHT).values, f)
    hole[..., 5:9, 6:12] = True
    out = poisson_solve(f, hole, tx * 0, ty * 0, TIGHT).values
    assert torch.equal(out[~hole.expand_as(f)], f[~hole.expand_as(f)])


def test_region_cut_off_by_dropped_edges_follows_its_data_term():
    f = torch.zeros(1, 1, 16, 16)
    hole = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    hole[..., 4:8, 4:8] = True
    ex = torch.ones(1, 1, 16, 15)
    ey = torch.ones(1, 1, 15, 16)
    ex[..., 4:8, 3], ex[..., 4:8, 7] = 0, 0  # no edge leaves the square
    ey[..., 3, 4:8], ey[..., 7, 4:8] = 0, 0
    data = torch.full_like(f, 0.7)
    tx, ty = torch.zeros(1, 1, 16, 15), torch.zeros(1, 1, 15, 16)
    out = poisson_solve(f, hole, tx, ty, TIGHT, edge_x=ex, edge_y=ey, data=data, data_weight=0.01)
    torch.testing.assert_close(out.values[hole], torch.full((16,), 0.7), atol=1e-4, rtol=0)


def test_cpu_and_cuda_agree():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    gen = torch.Generator().manual_seed(0)
    f = torch.rand(3, 3, 60, 80, generator=gen)
    hole = irregular_hole(60, 80).expand(3, -1, -1, -1)
    tx, ty = differences(torch.rand(3, 3, 60, 80, generator=gen) * 0.1)
    cpu = poisson_solve(f, hole, tx, ty, TIGHT).values
    gpu = poisson_solve(f.cuda(), hole.cuda(), tx.cuda(), ty.cuda(), TIGHT).values.cpu()
    assert float((cpu - gpu).abs().max()) < 1e-4


test_cpu_and_cuda_agree = pytest.mark.gpu(test_cpu_and_cuda_agree)


def test_shapes_are_validated():
    f = torch.rand(1, 3, 10, 12)
    tx, ty = differences(f)
    with pytest.raises(ValueError, match=r"unknown must be bool of shape \(1, 1, 10, 12\)"):
        poisson_solve(f, torch.zeros(1, 1, 10, 11, dtype=torch.bool), tx, ty, TIGHT)
    with pytest.raises(ValueError, match="tx, ty must be"):
        poisson_solve(f, torch.zeros(1, 1, 10, 12, dtype=torch.bool), ty, tx, TIGHT)



def sparse_solve(values, unknown, tx, ty, ex, ey, data_weight):
    """The unknowns of one (image, channel), as ``(ys, xs, solution)``, by scipy's sparse LU of
    the energy's normal equations (2-D numpy arrays in, the shapes of poisson_solve's)."""
    sp = pytest.importorskip("scipy.sparse")
    spla = pytest.importorskip("scipy.sparse.linalg")
    h, w = unknown.shape
    index = np.full((h, w), -1)
    ys, xs = np.nonzero(unknown)
    index[ys, xs] = np.arange(len(ys))
    rows, cols = list(range(len(ys))), list(range(len(ys)))
    entries, rhs = list(data_weight[ys, xs]), data_weight[ys, xs] * values[ys, xs]
    # every edge p -> q (q the next pixel) with its weight and its target u_q - u_p
    edges = [((y, x), (y, x + 1), ex[y, x], tx[y, x]) for y in range(h) for x in range(w - 1)]
    edges += [((y, x), (y + 1, x), ey[y, x], ty[y, x]) for y in range(h - 1) for x in range(w)]
    for p, q, weight, target in edges:
        # d/du_a of weight * (u_q - u_p - target)^2 / 2, for each unknown end a (b: the other)
        for a, b, sign in ((p, q, 1.0), (q, p, -1.0)):
            if index[a] < 0 or weight == 0:
                continue
            rows.append(index[a]), cols.append(index[a]), entries.append(weight)
            rhs[index[a]] -= sign * weight * target
            if index[b] >= 0:
                rows.append(index[a]), cols.append(index[b]), entries.append(-weight)
            else:
                rhs[index[a]] += weight * values[b]
    matrix = sp.csc_matrix((entries, (rows, cols)), shape=(len(ys),) * 2)
    return ys, xs, spla.spsolve(matrix, rhs)


def test_weighted_solve_with_data_term_matches_a_sparse_direct_solve():
    """Several components, one on the frame border, a 1-pixel hole, edge weights from 0.01 to 1
    (some 0), random targets, a data weight that varies: the solve against scipy's LU."""
    gen = torch.Generator().manual_seed(1)
    n, c, h, w = 2, 2, 40, 52
    values = torch.rand(n, c, h, w, generator=gen)
    hole = irregular_hole(64, 80)[..., 12:12 + h, 20:20 + w].expand(n, -1, -1, -1).clone()
    hole[1, :, 25:40, 40:52] = True  # touches the bottom and right borders
    hole[:, :, 3, 3] = True  # one pixel
    tx = torch.rand(n, c, h, w - 1, generator=gen) - 0.5
    ty = torch.rand(n, c, h - 1, w, generator=gen) - 0.5
    ex = torch.where(torch.rand(n, 1, h, w - 1, generator=gen) < 0.2, 0.01, 1.0)
    ey = torch.where(torch.rand(n, 1, h - 1, w, generator=gen) < 0.2, 0.01, 1.0)
    ex[..., 10, 10:20] = 0.0
    dw = torch.rand(n, 1, h, w, generator=gen) * 0.05
    out = poisson_solve(values, hole, tx, ty, TIGHT, edge_x=ex, edge_y=ey, data_weight=dw).values
    for i in range(n):
        for k in range(c):
            ys, xs, exact = sparse_solve(values[i, k].double().numpy(), hole[i, 0].numpy(),
                                         tx[i, k].double().numpy(), ty[i, k].double().numpy(),
                                         ex[i, 0].double().numpy(), ey[i, 0].double().numpy(),
                                         dw[i, 0].double().numpy())
            assert np.abs(out[i, k].numpy()[ys, xs] - exact).max() < 1e-4


def test_multigrid_needs_far_fewer_iterations_than_jacobi_on_a_large_hole():
    """Jacobi-CG needs on the order of the hole's width in iterations; the V-cycle a few dozen."""
    y, x = grid(180, 240)
    f = (torch.sin(x / 17) + torch.cos(y / 23))[None, None].float()
    hole = ((y - 90) ** 2 / 70 ** 2 + (x - 120) ** 2 / 100 ** 2 < 1)[None, None]
    tx, ty = torch.zeros(1, 1, 180, 239), torch.zeros(1, 1, 179, 240)
    start = torch.where(hole, 0.0, f)
    jacobi = poisson_solve(start, hole, tx, ty, PoissonConfig(1e-6, 5000, "jacobi"))
    mg = poisson_solve(start, hole, tx, ty, PoissonConfig(1e-6, 5000, "multigrid"))
    assert jacobi.iterations > 150 and mg.iterations < 25
    assert float((jacobi.values - mg.values).abs().max()) < 1e-4


def test_region_with_nothing_fixed_becomes_flat_and_the_solve_stops():
    """A region fenced by zero-weight edges, with no data weight, is singular: it converges to a
    constant (its smoothest fill), beside an ordinary hole and a one-pixel one, in about as many
    iterations as without it (a coarsest-grid inverse that took float32 rounding for an eigenvalue
    blew its null space up and ran to the cap)."""
    f = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(2))
    hole = torch.zeros(1, 1, 48, 48, dtype=torch.bool)
    hole[..., 10:30, 10:30] = True
    hole[..., 36:44, 3:12] = True
    hole[..., 40, 30] = True
    ex, ey = torch.ones(1, 1, 48, 47), torch.ones(1, 1, 47, 48)
    ex[..., 10:30, 9], ex[..., 10:30, 29], ey[..., 9, 10:30], ey[..., 29, 10:30] = 0, 0, 0, 0
    tx, ty = torch.zeros(1, 1, 48, 47), torch.zeros(1, 1, 47, 48)
    result = poisson_solve(f, hole, tx, ty, PoissonConfig(1e-6, 5000), edge_x=ex, edge_y=ey)
    assert result.iterations < 30
    inside = result.values[..., 10:30, 10:30]
    assert float(inside.max() - inside.min()) < 1e-4
    neighbours = f[0, 0, 39, 30] + f[0, 0, 41, 30] + f[0, 0, 40, 29] + f[0, 0, 40, 31]
    assert abs(float(result.values[0, 0, 40, 30] - neighbours / 4)) < 1e-5


def test_v_cycle_is_symmetric_positive_definite():
    """CG needs a symmetric positive-definite preconditioner: the V-cycle as a matrix, on a
    three-level problem with cut edges, a data term and cells of no unknown."""
    gen = torch.Generator().manual_seed(3)
    h, w = 22, 26
    hole = irregular_hole(64, 80)[0, :, 20:20 + h, 28:28 + w].float()[None]
    ex = torch.where(torch.rand(1, 1, h, w - 1, generator=gen) < 0.3, 1e-3, 1.0)
    ey = torch.where(torch.rand(1, 1, h - 1, w, generator=gen) < 0.3, 1e-3, 1.0)
    cells = int(hole.sum())
    level = multigrid.fine_level(hole, ex, ey, 0.01 * torch.rand(1, 1, h, w, generator=gen), cells)
    grids = multigrid.hierarchy(level)
    assert len(grids.levels) >= 3
    ys, xs = hole[0, 0].nonzero(as_tuple=True)
    basis = torch.zeros(1, cells, h, w)
    basis[0, torch.arange(cells), ys, xs] = 1.0
    matrix = multigrid.v_cycle(grids, basis)[0][:, ys, xs]  # row j: B e_j on the unknowns
    torch.testing.assert_close(matrix, matrix.T, atol=1e-5 * float(matrix.abs().max()), rtol=0)
    assert float(torch.linalg.eigvalsh(matrix.double()).min()) > 0
