import pytest
import torch

from vidfill.config import PoissonConfig
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
