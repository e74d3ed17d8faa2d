"""The detail stage: grain over the invented fill where the camera holds still, without flicker."""

from dataclasses import replace

import numpy as np
import torch

from vidfill.config import DetailConfig, PipelineConfig
from vidfill.inpainters.registry import Inpainter
from vidfill.metrics import texture_ratio
from vidfill.stages.detail import (add_detail, detail_where_still, fill_each_still_frame,
                                   still_runs)

CFG = PipelineConfig()


def still_grainy_clip(num_frames: int = 6, h: int = 80, w: int = 112) -> torch.Tensor:
    """(T, 3, H, W) uint8: a still ramp under fixed grain, plus a little sensor noise per frame."""
    rng = np.random.default_rng(0)
    scene = np.linspace(60, 180, w)[None, None, :] + rng.normal(0, 18, (3, h, w))
    frames = [scene + rng.normal(0, 2, (3, h, w)) for _ in range(num_frames)]
    return torch.from_numpy(np.clip(np.stack(frames), 0, 255).round().astype(np.uint8))


def membrane_filled(frames: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Each frame's hole filled by the harmonic membrane, as the keyframe rounds leave it."""
    fill = Inpainter("harmonic", CFG)
    return torch.stack([fill(torch.where(hole[t], 0, frames[t]), hole[t]) for t in range(len(frames))])


def box(num_frames: int, h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    hole = torch.zeros(num_frames, 1, h, w, dtype=torch.bool)
    hole[:, :, y0:y1, x0:x1] = True
    return hole


def test_detail_puts_grain_on_the_membrane_and_holds_it_still():
    truth = still_grainy_clip()
    hole = box(*truth.shape[:1], 80, 112, 24, 56, 36, 76)
    filled = membrane_filled(truth, hole)
    out = add_detail(filled, hole, hole.any(0), CFG.detail, CFG.patchmatch)
    outside = ~hole.expand_as(truth)
    assert torch.equal(out[outside], filled[outside])
    assert texture_ratio(filled, truth, hole) < 0.2
    assert texture_ratio(out, truth, hole) > 0.8
    inside = hole.expand_as(truth)
    assert abs(float((out.float() - truth.float())[inside].mean())) < 3  # the level stays
    # no crawl: from frame to frame the fill changes no more than the scene itself does
    step_fill = (out[1:].float() - out[:-1].float())[inside[1:]].abs().mean()
    step_scene = (truth[1:].float() - truth[:-1].float())[inside[1:]].abs().mean()
    assert step_fill < 1.2 * step_scene, (float(step_fill), float(step_scene))


def test_detail_averaged_over_the_frames_around_keeps_the_texture_and_flickers_less():
    truth = still_grainy_clip(num_frames=10)
    hole = box(*truth.shape[:1], 80, 112, 24, 56, 36, 76)
    filled = membrane_filled(truth, hole)
    inside = hole.expand_as(truth)[1:]
    step = lambda out: float((out[1:].float() - out[:-1].float())[inside].abs().mean())  # noqa: E731
    own = add_detail(filled, hole, hole.any(0), replace(CFG.detail, frames_around=0), CFG.patchmatch)
    averaged = add_detail(filled, hole, hole.any(0), CFG.detail, CFG.patchmatch)
    assert CFG.detail.frames_around == 2
    assert step(averaged) < 0.8 * step(own), (step(averaged), step(own))
    assert texture_ratio(averaged, truth, hole) > 0.9 * texture_ratio(own, truth, hole)


def test_detail_is_not_copied_from_where_something_moves():
    num_frames, h, w = 6, 80, 112
    rng = np.random.default_rng(1)
    grain = rng.normal(0, 18, (3, h, w))
    frames = []
    for t in range(num_frames):  # grain that moves right of x = 80: a crowd, leaves in the wind
        scene = np.concatenate([grain[:, :, :80], np.roll(grain, 3 * t, axis=2)[:, :, 80:]], axis=2)
        frames.append(120 + scene + rng.normal(0, 2, (3, h, w)))
    truth = torch.from_numpy(np.clip(np.stack(frames), 0, 255).round().astype(np.uint8))
    hole = box(num_frames, h, w, 24, 56, 24, 64)
    filled = membrane_filled(truth, hole)
    flow = torch.zeros(num_frames - 1, 2, h, w)
    flow[:, 0, :, 80:] = 3.0  # what the flow sees there
    assert texture_ratio(detail_where_still(filled, hole, hole, flow, still_runs(flow, hole, w, 2.0),
                                            CFG.detail, CFG.patchmatch), truth, hole) > 0.8

    def detail_steps(cfg) -> float:
        out = detail_where_still(filled, hole, hole, flow, still_runs(flow, hole, w, 2.0), cfg,
                                 CFG.patchmatch)
        added = out.float() - filled.float()
        return float((added[1:] - added[:-1])[hole[1:].expand_as(added[1:])].abs().mean())

    noise = float((truth[1:, :, :, :80].float() - truth[:-1, :, :, :80].float()).abs().mean())
    assert detail_steps(CFG.detail) < 1.2 * noise, (detail_steps(CFG.detail), noise)  # still sources
    # the check can fail: with moving places allowed as sources, their detail is copied and
    # crawls (each frame's own: averaged over frames, moving detail also blurs away)
    anything = DetailConfig(moving_px=1e9, frames_around=0)
    assert detail_steps(anything) > 2 * noise, (detail_steps(anything), noise)


def test_still_runs_split_where_the_camera_moves():
    t, h, w = 7, 16, 20
    flow = torch.zeros(t - 1, 2, h, w)
    flow[3, 0] = 2.0  # the camera pans between frames 3 and 4
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[:, :, 4:10, 4:10] = True
    flow[:, 0, 4:10, 4:10] = 5.0  # the flow inside the holes is not evidence
    assert still_runs(flow, hole, w, 0.5) == [slice(0, 4), slice(4, 7)]
    assert still_runs(flow, hole, 2 * w, 3.0) == [slice(0, 4), slice(4, 7)]  # 4 frame px
    assert still_runs(flow, hole, 2 * w, 5.0) == [slice(0, 7)]


def test_each_still_frame_is_filled_on_its_own_and_only_there():
    t, h, w = 7, 16, 20
    frames = torch.full((t, 3, h, w), 100, dtype=torch.uint8)
    flow = torch.zeros(t - 1, 2, h, w)
    flow[3:, 0] = 4.0  # still through frames 0-3, then the camera pans
    hole = torch.zeros(t, 1, h, w, dtype=torch.bool)
    hole[:, :, 4:10, 4:10] = True
    unreached = hole.clone()
    unreached[:, :, 4:6] = False  # reached by propagation: theirs to keep
    calls = []

    def grey(image, where):
        calls.append(int(where.sum()))
        return torch.where(where, 7, image)

    out = fill_each_still_frame(frames, unreached, still_runs(flow, hole, w, 2.0), grey)
    assert calls == [24] * 4
    changed = (out != frames).any(1, keepdim=True)
    assert torch.equal(changed[:4], unreached[:4]) and not bool(changed[4:].any())


def test_frames_of_a_moving_camera_keep_their_fill(device):
    truth = still_grainy_clip()
    hole = box(*truth.shape[:1], 80, 112, 24, 56, 36, 76)
    filled = membrane_filled(truth, hole)
    flow = torch.zeros(truth.shape[0] - 1, 2, 80, 112)
    flow[:, 0] = 3.0
    filled, hole, flow = filled.to(device), hole.to(device), flow.to(device)
    out = detail_where_still(filled, hole, hole, flow, still_runs(flow, hole, 112, 2.0),
                             CFG.detail, CFG.patchmatch)
    assert torch.equal(out, filled)
    flow.zero_()
    out = detail_where_still(filled, hole, hole, flow, still_runs(flow, hole, 112, 2.0),
                             CFG.detail, CFG.patchmatch)
    assert out.device == filled.device  # on the frames' device, like every stage
    assert texture_ratio(out.cpu(), truth, hole.cpu()) > 0.8


def test_the_pipeline_adds_detail_only_to_the_pixels_no_frame_shows():
    from vidfill.models.build import build_models
    from vidfill.pipeline import inpaint_video

    truth = still_grainy_clip()
    hole = box(*truth.shape[:1], 80, 112, 24, 56, 36, 76)
    hole[3:, :, 24:56, 36:50] = False  # the left of the hole shows in the later frames
    damaged = torch.where(hole, 0, truth)
    dis = CFG.replace(flow={"method": "dis"}, edges={"method": "none"})
    lifted_cfg = dis.replace(detail={"enabled": True})
    plain = inpaint_video(damaged, hole, dis, models=build_models(dis))
    lifted = inpaint_video(damaged, hole, lifted_cfg, models=build_models(lifted_cfg))
    changed = (lifted.frames != plain.frames).any(1, keepdim=True)
    assert not changed[:, :, :, :48].any()  # propagated from the frames that show it: as it was
    assert changed[:, :, 24:56, 50:76].float().mean() > 0.5  # no frame shows this: detail
    assert texture_ratio(lifted.frames, truth, hole) > texture_ratio(plain.frames, truth, hole) + 0.2
