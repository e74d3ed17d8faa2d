import torch

from conftest import translating_clip
from vidfill.config import FusionConfig, PoissonConfig, PropagationConfig
from vidfill.stages.fusion import fuse, reconstruct
from vidfill.stages.propagation import propagate

TIGHT = PoissonConfig(tolerance=1e-7, max_iterations=5000)


def constant_flow(num_frames, h, w, dx, dy):
    fwd = torch.zeros(num_frames - 1, 2, h, w)
    fwd[:, 0], fwd[:, 1] = dx, dy
    return fwd, -fwd


def ramp(h, w):
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                          indexing="ij")
    return torch.stack([0.2 + 0.01 * x, 0.1 + 0.005 * x + 0.008 * y, 0.9 - 0.006 * y])[None]


def ramp_differences(f):
    """(1, 4, 3, H, W) differences to +x, -x, +y, -y neighbours of a linear ramp (exact everywhere)."""
    gx = (f[..., 0, 1] - f[..., 0, 0]).view(1, 3, 1, 1)
    gy = (f[..., 1, 0] - f[..., 0, 0]).view(1, 3, 1, 1)
    return torch.stack([gx, -gx, gy, -gy], 1).expand(-1, -1, -1, *f.shape[-2:])


def test_fusing_the_gradients_of_a_ramp_is_exact_despite_wrong_colours():
    f = ramp(40, 50)
    hole = torch.zeros(1, 1, 40, 50, dtype=torch.bool)
    hole[..., 10:30, 12:40] = True
    wrong = torch.where(hole, f + 0.3, f)  # candidates from a brighter frame: colour fusion seams
    ok = torch.ones(1, 4, 1, 40, 50, dtype=torch.bool)
    out = reconstruct(wrong, hole, torch.zeros_like(hole), ramp_differences(f), ok,
                      FusionConfig(colour_weight=0.0), TIGHT)
    assert float((out.values - f).abs().max()) < 1e-4


def test_edges_to_blocked_pixels_are_ignored():
    f = ramp(30, 30)
    hole = torch.zeros(1, 1, 30, 30, dtype=torch.bool)
    hole[..., 8:20, 8:20] = True
    blocked = torch.zeros_like(hole)
    blocked[..., 8:20, 20:24] = True  # a strip still without colour, holding garbage
    values = torch.where(blocked, torch.full_like(f, 50.0), f)
    ok = torch.ones(1, 4, 1, 30, 30, dtype=torch.bool)
    out = reconstruct(values, hole, blocked, ramp_differences(f), ok, FusionConfig(), TIGHT)
    assert float((out.values - f)[hole.expand_as(f)].abs().max()) < 1e-4


def test_fusion_prefers_consistent_near_candidate():
    frames = translating_clip(num_frames=3)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[1, :, 5, 5] = True
    fwd, bwd = constant_flow(t, h, w, 0.0, 0.0)
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig())
    fused = fuse(cand, FusionConfig())
    expected = (frames[0, :, 5, 5].float() + frames[2, :, 5, 5].float()) / 2 / 255
    torch.testing.assert_close(fused.colour[0], expected)  # equal distances, equal weights
    expected_dx = (frames[0, :, 5, 6].float() + frames[2, :, 5, 6].float()) / 2 / 255 - expected
    torch.testing.assert_close(fused.diff[0, 0], expected_dx)
    assert bool(fused.diff_ok.all())


def test_fusion_weighs_candidates_by_distance_in_time():
    frames = translating_clip(num_frames=4)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[1:3, :, 5, 5] = True  # frame 1's pixel: frame 0 is one step back, frame 3 two ahead
    fwd, bwd = constant_flow(t, h, w, 0.0, 0.0)
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig())
    fused = fuse(cand, FusionConfig(distance_halflife=1.0))  # weights 1/2 and 1/4
    expected = (2 * frames[0, :, 5, 5].float() + frames[3, :, 5, 5].float()) / 3 / 255
    torch.testing.assert_close(fused.colour[0], expected)
