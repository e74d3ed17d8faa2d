import torch

from conftest import translating_clip
from vidfill.config import FusionConfig, PropagationConfig
from vidfill.fusion import fuse
from vidfill.propagation import propagate


def constant_flow(num_frames, h, w, dx, dy):
    fwd = torch.zeros(num_frames - 1, 2, h, w)
    fwd[:, 0], fwd[:, 1] = dx, dy
    return fwd, -fwd


def psnr(a, b):
    mse = (a.float() - b.float()).square().mean()
    return float(10 * torch.log10(255.0 ** 2 / mse))


def test_translation_reconstructed_inside_hole(device):
    frames = translating_clip(num_frames=12, dx=2, dy=1).to(device)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool, device=device)
    hole[:, :, 16:32, 24:40] = True  # 16 px at 2 px/frame: every pixel is shown within 4 frames
    fwd, bwd = (f.to(device) for f in constant_flow(t, h, w, 2.0, 1.0))
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig())
    fused = fuse(cand, FusionConfig())
    assert bool(fused.filled.all())
    truth = frames.permute(0, 2, 3, 1).reshape(-1, 3)[cand.index]
    assert psnr(fused.colour * 255, truth) > 40


def test_trajectory_crosses_several_frames_of_hole():
    # a hole 20 px wide moving with the content: no single neighbour frame reveals it,
    # but a static hole with content moving 2 px/frame needs up to 10 steps
    frames = translating_clip(num_frames=16, dx=2, dy=0)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[:, :, 10:30, 20:40] = True
    fwd, bwd = constant_flow(t, h, w, 2.0, 0.0)
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig())
    assert float(cand.distance[cand.found].max()) >= 10


def test_consistency_check_rejects_planted_occlusion():
    frames = translating_clip(num_frames=4, dx=1, dy=0)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[1, :, 20:24, 20:24] = True
    fwd, bwd = constant_flow(t, h, w, 1.0, 0.0)
    # frame 2's backward flow disagrees where frame 1's hole lands: an occlusion
    bwd[1, :, 18:30, 18:30] = torch.tensor([6.0, -4.0]).view(2, 1, 1)
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig())
    assert not bool(cand.found[0].any())  # forward: rejected at the first step
    assert bool(cand.found[1].all())  # backward: consistent, found in frame 0
    assert float(cand.distance[1].max()) == 1


def test_trajectory_leaving_the_frame_is_dropped():
    frames = translating_clip(num_frames=3, dx=0, dy=0)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[:, :, 0:4, 0:4] = True
    fwd, bwd = constant_flow(t, h, w, -10.0, 0.0)
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig())
    assert not bool(cand.found[0].any())
