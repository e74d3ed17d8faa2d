import numpy as np
import pytest
import torch

from conftest import translating_clip
from vidfill.config import FlowConfig
from vidfill.stages.flow import estimate_flow, resize_flow, working_size


def test_working_size_caps_long_side_and_rounds_to_8():
    assert working_size(480, 854, 512) == (288, 512)
    assert working_size(240, 432, 512) == (240, 432)
    assert working_size(101, 203, 1000) == (104, 200)
    assert working_size(240, 432, 512, min_side=864) == (480, 864)  # enlarged for RAFT
    assert working_size(480, 854, 512, min_side=864) == (288, 512)  # max_side wins


def test_resize_flow_scales_vectors():
    flow = torch.ones(1, 2, 10, 20)
    out = resize_flow(flow, (20, 60))
    assert out.shape == (1, 2, 20, 60)
    torch.testing.assert_close(out[0, 0], torch.full((20, 60), 3.0))
    torch.testing.assert_close(out[0, 1], torch.full((20, 60), 2.0))


def test_dis_recovers_translation():
    frames = translating_clip(num_frames=3, h=96, w=128, dx=3, dy=-2)
    result = estimate_flow(frames, FlowConfig(method="dis"))
    assert result.method == "dis" and result.fwd.shape == (2, 2, 96, 128)
    centre = (slice(None), slice(None), slice(24, 72), slice(32, 96))
    fwd, bwd = result.fwd[centre], result.bwd[centre]
    assert abs(float(fwd[:, 0].median()) - 3) < 0.25 and abs(float(fwd[:, 1].median()) + 2) < 0.25
    assert abs(float(bwd[:, 0].median()) + 3) < 0.25 and abs(float(bwd[:, 1].median()) - 2) < 0.25


def test_random_raft_runs_at_tiny_size():
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    frames = translating_clip(num_frames=3, h=64, w=80)
    result = estimate_flow(frames, FlowConfig(num_updates=2, batch_size=1), raft_small().eval())
    assert result.method == "raft" and result.fwd.shape == (2, 2, 64, 80)
    assert torch.isfinite(result.fwd).all() and torch.isfinite(result.bwd).all()


def test_validation():
    with pytest.raises(ValueError, match="at least 2 frames"):
        estimate_flow(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), FlowConfig(method="dis"))
    with pytest.raises(ValueError, match=r"\(T, 3, H, W\)"):
        estimate_flow(torch.zeros(2, 8, 8, dtype=torch.uint8), FlowConfig(method="dis"))


def test_real_raft_small_on_shared_clip(shared):
    """Official RAFT-small weights (princeton-vl layout) give flow that explains the motion."""
    import cv2

    from vidfill.models.build import build_flow_model

    paths = sorted((shared / "data/clips/davis480p_car-roundabout/frames").glob("*.jpg"))[:3]
    frames = torch.stack([torch.from_numpy(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
                          .permute(2, 0, 1) for p in paths])
    model = build_flow_model(FlowConfig(), shared / "checkpoints/raft-small.pth")
    result = estimate_flow(frames, FlowConfig(max_side=256), model)
    h, w = result.working_size
    small = torch.nn.functional.interpolate(frames.float(), size=(h, w), mode="area")
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    grid = torch.stack([xs + result.fwd[:, 0], ys + result.fwd[:, 1]], -1)
    grid = grid / torch.tensor([w - 1, h - 1]) * 2 - 1
    warped = torch.nn.functional.grid_sample(small[1:], grid, align_corners=True)
    still = (small[1:] - small[:-1]).abs().mean()
    assert float((warped - small[:-1]).abs().mean()) < 0.6 * float(still)
    assert np.isfinite(result.bwd.numpy()).all()


def test_unmatched_marks_source_hole_and_pixels_landing_in_target_hole():
    from vidfill.stages.flow import unmatched

    flow = torch.zeros(1, 2, 20, 30)
    flow[:, 0] = 3.0  # everything moves 3 px right
    source = torch.zeros(1, 1, 20, 30, dtype=torch.bool)
    source[..., 2:4, 2:4] = True
    target = torch.zeros_like(source)
    target[..., 10:14, 15:20] = True
    region = unmatched(flow, source, target)
    expected = source.clone()
    expected[..., 10:14, 12:17] = True  # x + 3 in [15, 20)
    assert torch.equal(region, expected)
    flow[:, 0] = 2.5  # half-pixel landing: a partly covered match counts
    assert bool(unmatched(flow, source, target)[0, 0, 10, 12])


def _random_raft():
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    return raft_small().eval()


def test_raft_flows_is_torchvision_raft_with_each_frame_encoded_once():
    from vidfill.stages.flow import _raft_flows

    model = _random_raft()
    frames = translating_clip(num_frames=4, h=64, w=80)  # padded to 128 for RAFT
    pairs = torch.tensor([[0, 1], [1, 2], [2, 3], [0, 3]])
    fwd, bwd = _raft_flows(model, frames, pairs, 3, batch_size=3)
    x = torch.nn.functional.pad(frames.float() / 127.5 - 1, (0, 48, 0, 64), mode="replicate")
    with torch.inference_mode():
        ref_fwd = model(x[pairs[:, 0]], x[pairs[:, 1]], num_flow_updates=3)[-1][..., :64, :80]
        ref_bwd = model(x[pairs[:, 1]], x[pairs[:, 0]], num_flow_updates=3)[-1][..., :64, :80]
    torch.testing.assert_close(fwd, ref_fwd, atol=1e-5, rtol=0)
    torch.testing.assert_close(bwd, ref_bwd, atol=1e-5, rtol=0)


def _hole(t: int, h: int, w: int, boxes: dict[int, tuple[int, int, int, int]]) -> torch.Tensor:
    holes = torch.zeros(t, 1, h, w, dtype=torch.bool)
    for i, (y0, y1, x0, x1) in boxes.items():
        holes[i, 0, y0:y1, x0:x1] = True
    return holes


def test_crops_cover_both_holes_with_margin_in_raft_sizes():
    from vidfill.models.raft import MIN_SIZE
    from vidfill.stages.flow import _crop, _hole_boxes

    holes = _hole(4, 240, 432, {0: (100, 120, 200, 230), 1: (104, 124, 210, 240), 3: (0, 240, 0, 300)})
    boxes = _hole_boxes(holes, torch.tensor([[0, 1], [1, 2], [2, 2], [2, 3]]))
    assert boxes == [(100, 124, 200, 240), (104, 124, 210, 240), None, (0, 240, 0, 300)]
    y0, y1, x0, x1 = _crop(boxes[0], 48, 240, 432)
    assert y0 <= 100 - 48 and y1 >= 124 + 48 and x0 <= 200 - 48 and x1 >= 240 + 48
    assert (y1 - y0) % 8 == 0 and (x1 - x0) % 8 == 0 and y1 - y0 >= MIN_SIZE[0] and x1 - x0 >= MIN_SIZE[1]
    assert y1 <= 240 and x1 <= 432 and (x1 - x0) * (y1 - y0) < 0.4 * 240 * 432
    # a small hole in a corner: widened to RAFT's minimum inside the frame
    assert _crop((0, 4, 428, 432), 8, 240, 432) == (0, 128, 432 - 128, 432)
    assert _crop(boxes[3], 48, 240, 432) == (0, 240, 0, 432)  # most of the frame: all of it


def test_flow_near_holes_is_raft_on_the_crop_and_the_base_elsewhere():
    from vidfill.stages.flow import FlowResult, _raft_flows, estimate_flow_near

    model = _random_raft()
    frames = translating_clip(num_frames=4, h=240, w=320)
    holes = _hole(4, 240, 320, {t: (100, 130, 150, 190) for t in range(4)})  # stationary: one crop
    cfg = FlowConfig(num_updates=2, precision="float32", refine_warm_start=False)
    base = FlowResult(torch.full((3, 2, 240, 320), 3.0), torch.full((3, 2, 240, 320), -4.0), "raft", (240, 320))
    got = estimate_flow_near(frames, holes, base, cfg, model, margin=44)
    # the crop: holes plus 44 and the largest motion there (6 px), snapped to 32
    y0, y1, x0, x1 = 32, 192, 96, 256
    fwd, bwd = _raft_flows(model, frames[..., y0:y1, x0:x1], torch.tensor([[0, 1], [1, 2], [2, 3]]), 2, 4)
    keep = (slice(None), slice(None), slice(100 - 22, 130 + 22), slice(150 - 22, 190 + 22))
    crop_keep = (slice(None), slice(None), slice(100 - 22 - y0, 130 + 22 - y0), slice(150 - 22 - x0, 190 + 22 - x0))
    torch.testing.assert_close(got.fwd[keep], fwd[crop_keep])
    torch.testing.assert_close(got.bwd[keep], bwd[crop_keep])
    outside = torch.ones(240, 320, dtype=torch.bool)
    outside[keep[2:]] = False
    assert bool((got.fwd[..., outside] == 3).all()) and bool((got.bwd[..., outside] == -4).all())
    # faster motion (20 px) widens the crop
    fast = FlowResult(torch.full_like(base.fwd, 14.0), torch.full_like(base.bwd, 14.0), "raft", (240, 320))
    fwd, _ = _raft_flows(model, frames[..., 32:224, 64:256], torch.tensor([[0, 1], [1, 2], [2, 3]]), 2, 4)
    got = estimate_flow_near(frames, holes, fast, cfg, model, margin=44)
    torch.testing.assert_close(got.fwd[keep], fwd[..., 100 - 22 - 32:130 + 22 - 32, 150 - 22 - 64:190 + 22 - 64])
    # a hole over most of the frame: whole frames, as estimate_flow gives them
    holes = _hole(4, 240, 320, {t: (10, 230, 10, 310) for t in range(4)})
    whole = estimate_flow(frames, cfg, model)
    got = estimate_flow_near(frames, holes, base, cfg, model, margin=44)
    torch.testing.assert_close(got.fwd, whole.fwd)
    torch.testing.assert_close(got.bwd, whole.bwd)


def test_raft_warm_start_from_zero_is_the_cold_start():
    from vidfill.stages.flow import _raft_flows

    model = _random_raft()
    frames = translating_clip(num_frames=3, h=64, w=80)  # padded to 128: the init is padded too
    pairs = torch.tensor([[0, 1], [1, 2]])
    zero = torch.zeros(2, 2, 64, 80)
    cold = _raft_flows(model, frames, pairs, 2, batch_size=1)
    warm = _raft_flows(model, frames, pairs, 2, batch_size=1, init=(zero, zero))
    torch.testing.assert_close(warm, cold, atol=0, rtol=0)


def test_raft_warm_started_from_the_true_flow_needs_one_iteration(shared):
    """A 24 x 12 px translation: one iteration from zero is 3-5 px off (measured 4.9), one from
    the true flow stays within a fraction of a pixel (measured 0.2), so the init is used."""
    from vidfill.models.build import build_flow_model
    from vidfill.stages.flow import _raft_flows

    model = build_flow_model(FlowConfig(), shared / "checkpoints/raft-small.pth")
    frames = translating_clip(num_frames=2, h=128, w=160, dx=24, dy=12)
    pairs = torch.tensor([[0, 1]])
    true = torch.tensor([24.0, 12.0]).view(1, 2, 1, 1).expand(1, 2, 128, 160)
    centre = (slice(None), slice(None), slice(24, 104), slice(24, 136))

    def error(flows: tuple[torch.Tensor, torch.Tensor]) -> float:
        fwd, bwd = flows
        return max(float((fwd - true)[centre].norm(dim=1).mean()),
                   float((bwd + true)[centre].norm(dim=1).mean()))

    assert error(_raft_flows(model, frames, pairs, 1, 1, init=(true, -true))) < 0.4
    assert error(_raft_flows(model, frames, pairs, 1, 1)) > 2.0


def test_flow_near_holes_warm_starts_from_the_base_on_the_crop():
    from vidfill.stages.flow import FlowResult, _raft_flows, estimate_flow_near

    model = _random_raft()
    frames = translating_clip(num_frames=3, h=240, w=320)
    holes = _hole(3, 240, 320, {t: (100, 130, 150, 190) for t in range(3)})
    cfg = FlowConfig(num_updates=2, precision="float32", refine_warm_start=True)
    base = FlowResult(torch.full((2, 2, 240, 320), 3.0), torch.full((2, 2, 240, 320), -4.0), "raft", (240, 320))
    got = estimate_flow_near(frames, holes, base, cfg, model, margin=44)
    y0, y1, x0, x1 = 32, 192, 96, 256  # the crop: holes plus 44 and the largest motion there
    crop = (slice(None), slice(None), slice(y0, y1), slice(x0, x1))
    pairs = torch.tensor([[0, 1], [1, 2]])
    fwd, bwd = _raft_flows(model, frames[crop], pairs, 2, 4, init=(base.fwd[crop], base.bwd[crop]))
    keep = (slice(None), slice(None), slice(100 - 22, 130 + 22), slice(150 - 22, 190 + 22))
    torch.testing.assert_close(got.fwd[keep], fwd[..., 78 - y0:152 - y0, 128 - x0:212 - x0])
    torch.testing.assert_close(got.bwd[keep], bwd[..., 78 - y0:152 - y0, 128 - x0:212 - x0])
    cold, _ = _raft_flows(model, frames[crop], pairs, 2, 4)
    assert not torch.allclose(got.fwd[keep], cold[..., 78 - y0:152 - y0, 128 - x0:212 - x0])
