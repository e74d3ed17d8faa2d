import torch

from conftest import translating_clip
from vidfill.config import FusionConfig, PropagationConfig
from vidfill.stages.fusion import fuse
from vidfill.stages.propagation import propagate


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


def small_hole_in_frame_one():
    """Four frames moving 1 px/frame right, a 4x4 hole at (20, 20) in frame 1, and that flow."""
    frames = translating_clip(num_frames=4, dx=1, dy=0)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[1, :, 20:24, 20:24] = True
    return (frames, hole, *constant_flow(t, h, w, 1.0, 0.0))


def test_consistency_check_rejects_planted_occlusion():
    frames, hole, fwd, bwd = small_hole_in_frame_one()
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


def test_trajectory_with_undefined_flow_stops_there():
    # a NaN in the flow (a broken estimate) ends that trajectory, as leaving the frame does
    frames, hole, fwd, bwd = small_hole_in_frame_one()
    h, w = frames.shape[-2:]
    fwd[1, :, 20:22] = float("nan")  # leaving frame 1 forward, top half of the hole
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig())
    top = (cand.index // w) % h < 22
    assert not bool(cand.found[0][top].any())
    assert bool(cand.found[0][~top].all()) and bool(cand.found[1].all())


def long_occlusion_case():
    """A static textured scene; region R of frame 10 is a hole, and R is hidden in frames 1-19
    (a logo) with the flow of frames 5 and 15 disagreeing there (something passing in front):
    no adjacent chain from frame 10 reaches frame 0 or 20, the only frames that show R."""
    frames = translating_clip(num_frames=21, dx=0, dy=0)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[1:20, :, 16:28, 20:36] = True
    fwd, bwd = constant_flow(t, h, w, 0.0, 0.0)
    for k in (4, 14):  # bwd[k] maps frame k+1 to frame k
        bwd[k, :, 12:32, 16:40] = torch.tensor([5.0, 3.0]).view(2, 1, 1)
    return frames, hole, fwd, bwd


def test_nonlocal_candidates_bridge_an_occlusion_the_adjacent_chain_cannot():
    from vidfill.stages.flow import nonlocal_pairs
    from vidfill.stages.propagation import nonlocal_candidates

    frames, hole, fwd, bwd = long_occlusion_case()
    t, _, h, w = frames.shape
    adjacent = propagate(frames, hole, fwd, bwd, PropagationConfig())
    frame_of = adjacent.index // (h * w)
    at10 = frame_of == 10
    assert not bool(adjacent.found[:, at10].any())  # both chains stop at the planted occlusions
    pairs = nonlocal_pairs(t, count=2, stride=10)
    assert pairs[pairs[:, 0] == 10, 1].tolist() == [0, 20]
    zero = torch.zeros(len(pairs), 2, h, w)
    far = nonlocal_candidates(frames, hole, pairs, zero, zero, 2, PropagationConfig())
    assert bool(far.found[:, at10].all())
    truth = frames.permute(0, 2, 3, 1).reshape(-1, 3)[far.index[at10]].float() / 255
    torch.testing.assert_close(far.colour[0, at10], truth)
    assert float(far.distance[:, at10].min()) == 10


def test_nonlocal_pairs_skip_references_the_adjacent_chain_reaches():
    from vidfill.stages.flow import nonlocal_pairs

    pairs = nonlocal_pairs(25, count=3, stride=10)
    assert pairs[pairs[:, 0] == 11, 1].tolist() == [20, 0]  # 10 is adjacent to 11
    assert pairs[pairs[:, 0] == 0, 1].tolist() == [10, 20]
    assert len(nonlocal_pairs(25, count=0, stride=10)) == 0


def test_trajectories_collect_several_hits_when_asked():
    frames = translating_clip(num_frames=5, dx=0, dy=0)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[1, :, 8:12, 8:12] = True
    fwd, bwd = constant_flow(t, h, w, 0.0, 0.0)
    cand = propagate(frames, hole, fwd, bwd, PropagationConfig(hits_per_direction=2))
    assert cand.found.shape[0] == 4  # forward 1st, 2nd, backward 1st, 2nd
    assert cand.distance[:, 0].tolist() == [1.0, 2.0, 1.0, 0.0]  # frame 0 is the last one back
    assert cand.found[:, 0].tolist() == [True, True, True, False]
    steps = []
    propagate(frames, hole, fwd, bwd, PropagationConfig(), steps.append)
    assert sum(steps) == 2 * (t - 1)


def test_flow_at_another_resolution_is_sampled_as_resize_flow_upsamples():
    from vidfill.stages.flow import resize_flow
    from vidfill.stages.propagation import _flow_at, _table

    small = torch.randn(3, 2, 5, 7, generator=torch.Generator().manual_seed(0))
    full = resize_flow(small, (10, 14))
    t, y, x = (g.reshape(-1) for g in torch.meshgrid(torch.arange(3), torch.arange(10), torch.arange(14),
                                                        indexing="ij"))
    sampled = _flow_at(_table(small), t, x.float(), y.float(), (5, 7), (10, 14))
    assert torch.allclose(sampled, full.permute(0, 2, 3, 1).reshape(-1, 2), atol=1e-5)


def test_propagation_with_working_resolution_flow_matches_full_resolution():
    """The pipeline keeps the completed flow at the working resolution (memory); a smooth
    field gives the same candidates as its full-resolution copy."""
    from vidfill.stages.flow import resize_flow

    frames = translating_clip(num_frames=10, dx=2, dy=1)
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[:, :, 16:32, 24:40] = True
    fwd, bwd = constant_flow(t, h // 2, w // 2, 1.0, 0.5)  # 2 and 1 px at full resolution
    small = propagate(frames, hole, fwd, bwd, PropagationConfig())
    full = propagate(frames, hole, resize_flow(fwd, (h, w)), resize_flow(bwd, (h, w)), PropagationConfig())
    assert bool(small.found.any()) and torch.equal(small.found, full.found)
    assert torch.allclose(small.colour, full.colour, atol=1e-5)
    assert torch.equal(small.distance, full.distance)
