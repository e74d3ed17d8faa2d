import pytest
import torch

from conftest import SHARED, translating_clip
from vidfill.config import PipelineConfig
from vidfill.metrics import psnr_region
from vidfill.models.build import Models, build_flow_model, build_inpainter, build_models
from vidfill.pipeline import inpaint_video
from vidfill.stages.holes import dilate_holes
from vidfill.progress import Reporter

DIS = PipelineConfig().replace(flow={"method": "dis"}, edges={"method": "none"})


def test_moving_texture_end_to_end_and_exact_outside():
    # the (dilated) hole is at most 32 px wide and the texture moves 4 px/frame:
    # every hole pixel is shown by some frame within 4 steps
    frames = translating_clip(num_frames=10, h=96, w=128, dx=4, dy=1)
    masks = torch.zeros(10, 1, 96, 128, dtype=torch.bool)
    masks[:, :, 36:60, 48:72] = True
    result = inpaint_video(frames, masks, DIS, models=build_models(DIS))
    outside = ~result.hole.expand_as(frames)
    assert torch.equal(result.frames[outside], frames[outside])
    assert result.hole[masks].all()  # the dilated hole contains the mask
    assert psnr_region(result.frames, frames, masks) > 30
    assert result.flow_method == "dis"


def test_static_hole_on_static_camera_uses_one_keyframe_and_does_not_flicker():
    frames = translating_clip(num_frames=6, h=64, w=64, dx=0, dy=0)
    masks = torch.zeros(6, 1, 64, 64, dtype=torch.bool)
    masks[:, :, 20:40, 20:40] = True
    result = inpaint_video(frames, masks, DIS, models=build_models(DIS))
    assert len(result.keyframes) == 1
    inside = result.frames[:, :, 20:40, 20:40].float()
    assert float((inside - inside[result.keyframes[0]]).abs().max()) <= 1  # same fill in every frame


def test_no_hole_is_a_copy():
    frames = translating_clip(num_frames=3)
    masks = torch.zeros(3, 1, *frames.shape[-2:], dtype=torch.bool)
    result = inpaint_video(frames, masks, DIS, models=build_models(DIS))
    assert torch.equal(result.frames, frames) and result.flow_method == "none"


def test_dilate_holes_grows_by_radius():
    masks = torch.zeros(1, 1, 21, 21, dtype=torch.bool)
    masks[0, 0, 10, 10] = True
    grown = dilate_holes(masks, 3)
    assert int(grown[0, 0, 10].sum()) == 7 and bool(grown[0, 0, 10, 7]) and not bool(grown[0, 0, 10, 6])
    assert torch.equal(dilate_holes(masks, 0), masks)


def test_moving_mask_on_static_background_is_filled_by_propagation():
    """An object crossing a static scene: every pixel it hides is visible in another frame."""
    frames = translating_clip(num_frames=12, h=96, w=128, dx=0, dy=0).clone()
    masks = torch.zeros(12, 1, 96, 128, dtype=torch.bool)
    for t in range(12):
        masks[t, :, 30:60, 10 + 8 * t: 34 + 8 * t] = True
    damaged = torch.where(masks, torch.full_like(frames, 255), frames)  # a white "object"
    result = inpaint_video(damaged, masks, DIS, models=build_models(DIS))
    assert len(result.keyframes) <= 1
    assert psnr_region(result.frames, frames, masks) > 35


def test_nonlocal_frames_recover_what_adjacent_chains_lose():
    from test_propagation import long_occlusion_case
    from vidfill.stages.flow import nonlocal_pairs
    from vidfill.pipeline import FarFlow, fill_along_flow

    frames, hole, fwd, bwd = long_occlusion_case()
    t, _, h, w = frames.shape
    pairs = nonlocal_pairs(t, count=2, stride=10)
    zero = torch.zeros(len(pairs), 2, h, w)
    far = FarFlow(pairs=pairs, to=zero, back=zero, count=2)
    region = torch.zeros_like(hole)
    region[10] = hole[10]
    without, keys_without, *_ = fill_along_flow(frames, hole, fwd, bwd, DIS, Reporter(quiet=True),
                                                inpainter=build_inpainter(DIS))
    with_far, keys_with, *_ = fill_along_flow(frames, hole, fwd, bwd, DIS, Reporter(quiet=True), far,
                                              inpainter=build_inpainter(DIS))
    assert 10 in keys_without or psnr_region(without, frames, region) < 30
    assert psnr_region(with_far, frames, region) > 40 and not keys_with


def test_gradient_fusion_removes_the_seam_of_an_exposure_change():
    """The scene brightens by 4 levels a frame: colours copied from other frames leave a
    step at the hole boundary, differences copied from them do not."""
    from test_propagation import constant_flow
    from vidfill.metrics import seam_error
    from vidfill.pipeline import fill_along_flow

    base = translating_clip(num_frames=12, h=64, w=80, dx=2, dy=0)
    gain = (torch.arange(12) * 4).view(12, 1, 1, 1)
    frames = (base.int() // 2 + 40 + gain).to(torch.uint8)  # no clipping: 40..215
    hole = torch.zeros(12, 1, 64, 80, dtype=torch.bool)
    hole[:, :, 20:44, 30:50] = True
    fwd, bwd = constant_flow(12, 64, 80, 2.0, 0.0)
    results = {}
    for method in ("colour", "gradient"):
        cfg = DIS.replace(fusion={"method": method})
        out = fill_along_flow(frames, hole, fwd, bwd, cfg, Reporter(quiet=True),
                              inpainter=build_inpainter(cfg)).frames
        results[method] = (seam_error(out, frames, hole), psnr_region(out, frames, hole))
    assert results["colour"][0] > 2.5  # a step of several levels
    assert results["gradient"][0] < 0.4 * results["colour"][0]
    assert results["gradient"][1] > results["colour"][1] + 3


def test_dis_run_skips_nonlocal_frames_and_says_so():
    import io as text_io

    frames = translating_clip(num_frames=4, h=48, w=64, dx=2, dy=0)
    masks = torch.zeros(4, 1, 48, 64, dtype=torch.bool)
    masks[:, :, 10:20, 10:20] = True
    stream = text_io.StringIO()
    far = DIS.replace(propagation={"nonlocal_count": 3})
    inpaint_video(frames, masks, far, models=build_models(far), reporter=Reporter(stream=stream))
    assert "non-local frames need RAFT" in stream.getvalue()
    stream = text_io.StringIO()
    inpaint_video(frames, masks, DIS, models=build_models(DIS), reporter=Reporter(stream=stream))
    assert "non-local" not in stream.getvalue()


def painted_static_case(num_frames: int = 8, h: int = 64, w: int = 80):
    """A static-camera clip, a static hole, and frame 3 painted by hand with a pattern that
    matches nothing in the clip: ``(frames, masks, painted)``."""
    frames = translating_clip(num_frames=num_frames, h=h, w=w, dx=0, dy=0)
    masks = torch.zeros(num_frames, 1, h, w, dtype=torch.bool)
    masks[:, :, 20:44, 24:56] = True
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    pattern = torch.stack([(xx // 4 % 2) * 200 + 20, (yy // 3 % 2) * 180 + 40, (xx + yy) * 2 % 256])
    painted = torch.where(masks[3], pattern.to(torch.uint8), frames[3])
    return frames, masks, painted


def test_painted_reference_is_reproduced_in_every_frame_of_a_static_clip():
    frames, masks, painted = painted_static_case()
    damaged = torch.where(masks, torch.zeros_like(frames), frames)
    result = inpaint_video(damaged, masks, DIS, models=build_models(DIS), references={3: painted})
    assert result.keyframes == ()  # nothing left for the image inpainter
    inside = masks.expand_as(frames)
    for t in range(frames.shape[0]):
        diff = (result.frames[t].int() - painted.int()).abs()[inside[t]]
        assert int(diff.max()) <= 1, (t, int(diff.max()))
    assert torch.equal(result.frames[~inside], frames[~inside])


def test_bad_references_are_refused():
    frames, masks, painted = painted_static_case(num_frames=4)
    models = build_models(DIS)
    with pytest.raises(ValueError, match="reference frame 5 is not in 0..3"):
        inpaint_video(frames, masks, DIS, models=models, references={5: painted})
    with pytest.raises(ValueError, match=r"reference frame 1 must be torch.uint8 of shape \(3, 64, 80\)"):
        inpaint_video(frames, masks, DIS, models=models, references={1: painted[:, :10]})


def test_keyframes_use_the_given_inpainter():
    frames = translating_clip(num_frames=5, h=48, w=48, dx=0, dy=0)
    masks = torch.zeros(5, 1, 48, 48, dtype=torch.bool)
    masks[:, :, 16:32, 16:32] = True
    calls = []

    def grey(image, hole):
        calls.append(int(hole.sum()))
        return torch.where(hole, torch.full_like(image, 77), image)

    keyframes_only = DIS.replace(leftover={"each_still_frame": False})
    result = inpaint_video(frames, masks, keyframes_only,
                           models=Models(flow=None, edges=None, inpainter=grey))
    assert calls == [256] and len(result.keyframes) == 1
    assert bool((result.frames[masks.expand_as(frames)].int() - 77).abs().le(1).all())
    # the camera holds still: with each_still_frame, every frame is filled on its own as well
    calls.clear()
    inpaint_video(frames, masks, DIS, models=Models(flow=None, edges=None, inpainter=grey))
    assert calls == [256] * 6
    # but only the membrane: an exemplar or network fill guessed anew in every frame would flicker
    calls.clear()
    inpaint_video(frames, masks, DIS.replace(leftover={"method": "telea"}),
                  models=Models(flow=None, edges=None, inpainter=grey))
    assert calls == [256]


def test_keyframes_too_small_to_carry_are_filled_frame_by_frame():
    """Below ``leftover.keyframe_min_share`` of the frame, what is left is filled in every frame
    on its own: no keyframe, no round of propagation."""
    frames = translating_clip(num_frames=5, h=48, w=48, dx=0, dy=0)
    masks = torch.zeros(5, 1, 48, 48, dtype=torch.bool)
    masks[:, :, 16:32, 16:32] = True  # 256 of 2304 pixels: a share of 0.111
    calls = []

    def grey(image, hole):
        calls.append(int(hole.sum()))
        return torch.where(hole, torch.full_like(image, 77), image)

    models = Models(flow=None, edges=None, inpainter=grey)
    for share, expected in ((0.11, [256]), (0.12, [256] * 5)):
        calls.clear()
        cfg = DIS.replace(leftover={"each_still_frame": False, "keyframe_min_share": share})
        result = inpaint_video(frames, masks, cfg, models=models)
        assert calls == expected and len(result.keyframes) == (share < 0.111)
        assert int(result.invented.sum()) == sum(expected)  # each frame's own fill is invented


def test_keyframe_content_crosses_inconsistent_flow_with_the_leftover_limit():
    """Moving content crossing a stationary hole leaves completed flow there whose two
    directions disagree: the strict check stops every trajectory and each frame becomes a
    keyframe with its own fill (flicker); the looser leftover limit carries one fill."""
    from vidfill.pipeline import fill_along_flow

    frames = translating_clip(num_frames=8, h=48, w=64, dx=0, dy=0)
    hole = torch.zeros(8, 1, 48, 64, dtype=torch.bool)
    hole[:, :, 16:32, 24:40] = True
    fwd = torch.zeros(7, 2, 48, 64)
    fwd[:, 0, 14:34, 22:42] = 1.5  # both directions point right: 3 px apart
    bwd = fwd.clone()
    generator = torch.Generator().manual_seed(0)

    def fill_with_a_new_grey(image: torch.Tensor, remaining: torch.Tensor) -> torch.Tensor:
        grey = torch.randint(0, 256, (3, 1, 1), generator=generator, dtype=torch.uint8)
        return torch.where(remaining, grey.expand_as(image), image)

    jumps = {}
    for limit in (DIS.propagation.consistency_abs_px, 5.0):
        cfg = DIS.replace(leftover={"consistency_abs_px": limit})
        out, keys, *_ = fill_along_flow(frames, hole, fwd, bwd, cfg, Reporter(quiet=True),
                                    inpainter=fill_with_a_new_grey)
        assert torch.equal(out[~hole.expand_as(out)], frames[~hole.expand_as(frames)])
        inside = out[:, :, 16:32, 24:40].float()
        jumps[limit] = (len(keys), float((inside[1:] - inside[:-1]).abs().mean()))
    strict = jumps[DIS.propagation.consistency_abs_px]
    assert strict[0] == 8 and jumps[5.0][0] == 1
    assert jumps[5.0][1] < 0.2 * strict[1]


def test_refine_passes_with_raft_keep_known_pixels_and_references(shared):
    raft_cfg = PipelineConfig().replace(edges={"method": "none"}, flow={"refine_passes": 1})
    raft = build_flow_model(raft_cfg.flow, shared / "checkpoints/raft-small.pth")
    frames = translating_clip(num_frames=8, h=96, w=128, dx=4, dy=1)
    masks = torch.zeros(8, 1, 96, 128, dtype=torch.bool)
    masks[:, :, 36:60, 48:72] = True
    reporter = Reporter(quiet=True)
    models = Models(flow=raft, edges=None, inpainter=build_inpainter(raft_cfg))
    result = inpaint_video(frames, masks, raft_cfg, models=models, reporter=reporter)
    assert "refine flow" in reporter.timings
    outside = ~result.hole.expand_as(frames)
    assert torch.equal(result.frames[outside], frames[outside])
    assert psnr_region(result.frames, frames, masks) > 30

    frames, masks, painted = painted_static_case()
    damaged = torch.where(masks, torch.zeros_like(frames), frames)
    result = inpaint_video(damaged, masks, raft_cfg, models=models, references={3: painted})
    assert torch.equal(result.frames[3], painted)  # still known in the refine pass


def test_dis_run_skips_refine_passes_and_says_so():
    import io as text_io

    frames = translating_clip(num_frames=4, h=48, w=64, dx=2, dy=0)
    masks = torch.zeros(4, 1, 48, 64, dtype=torch.bool)
    masks[:, :, 10:20, 10:20] = True
    stream = text_io.StringIO()
    reporter = Reporter(stream=stream)
    refined = DIS.replace(flow={"refine_passes": 2})
    inpaint_video(frames, masks, refined, models=build_models(refined), reporter=reporter)
    assert "refinement passes need RAFT" in stream.getvalue()
    assert "refine flow" not in reporter.timings


@pytest.mark.slow
def test_the_library_and_the_cli_give_identical_frames_for_the_default_preset(tmp_path, capsys):
    """The config is the run: ``vidfill.fill`` with the default preset builds the networks the
    preset names and fills exactly as the command line does (RAFT from ../shared when present;
    without it, both fall back to DIS the same way)."""
    import cv2

    from vidfill import build_models, fill, load_preset
    from vidfill.cli.main import main
    from vidfill.io import read_frames

    raft = SHARED / "checkpoints" / "raft-small.pth"
    raft = raft if raft.is_file() else None
    frames = translating_clip(num_frames=8, h=96, w=128, dx=3, dy=1)
    masks = torch.zeros(8, 1, 96, 128, dtype=torch.bool)
    masks[:, :, 30:60, 40:80] = True
    folder, mask_dir = tmp_path / "frames", tmp_path / "masks"
    folder.mkdir()
    mask_dir.mkdir()
    for t in range(8):
        cv2.imwrite(str(folder / f"{t:03d}.png"), frames[t].permute(1, 2, 0).numpy()[..., ::-1])
        cv2.imwrite(str(mask_dir / f"{t:03d}.png"), masks[t, 0].numpy().astype("uint8") * 255)
    cfg = load_preset("default")
    models = build_models(cfg, raft_weights=raft, download=False)
    library = fill(frames, masks, cfg, models=models)
    weights_args = ["--raft-weights", str(raft)] if raft else ["--no-download"]
    assert main([str(folder), str(mask_dir), "-o", str(tmp_path / "out"), "-q", *weights_args]) == 0
    cli, _ = read_frames(tmp_path / "out")
    assert torch.equal(library, cli)
    assert models.edges is not None  # the default preset's edge network ran in both
    assert not torch.equal(library, frames)


def test_a_library_call_logs_its_fallbacks(caplog):
    """Without a reporter, notes go to the "vidfill" logger: a fallback at WARNING, which
    Python shows by default."""
    import logging

    frames = translating_clip(num_frames=4, h=48, w=64)
    masks = torch.zeros(4, 1, 48, 64, dtype=torch.bool)
    masks[:, :, 10:20, 10:20] = True
    refined = DIS.replace(flow={"refine_passes": 2})
    with caplog.at_level(logging.INFO, logger="vidfill"):
        inpaint_video(frames, masks, refined, models=build_models(refined))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("refinement passes need RAFT" in w for w in warnings), caplog.records


def _off_host(monkeypatch) -> list[int]:
    """From here on the stages take their device (non-OpenCV) paths on CPU tensors, as on a
    GPU, and what is copied to host memory is recorded: ``numpy()`` raises, ``cpu()`` counts
    bytes."""
    from vidfill.stages import edges, holes

    monkeypatch.setattr(holes, "on_host", lambda x: False)
    monkeypatch.setattr(edges, "on_host", lambda x: False)
    copied = []
    cpu = torch.Tensor.cpu

    def counted_cpu(self, *args, **kwargs):
        copied.append(self.numel() * self.element_size())
        return cpu(self, *args, **kwargs)

    def no_numpy(self, *args, **kwargs):
        raise AssertionError("a host round trip: Tensor.numpy() in the fill")

    monkeypatch.setattr(torch.Tensor, "cpu", counted_cpu)
    monkeypatch.setattr(torch.Tensor, "numpy", no_numpy)
    return copied


def _default_stages_case(cfg: PipelineConfig, num_frames: int):
    """The default stages with a seeded untrained RAFT-small and the shipped edge network, and a
    textured clip with a hole: (models, frames, masks)."""
    from torchvision.models.optical_flow import raft_small

    from vidfill.models.build import build_edge_model

    torch.manual_seed(0)
    models = Models(flow=raft_small().eval(), edges=build_edge_model(cfg.edges), inpainter=build_inpainter(cfg))
    frames = translating_clip(num_frames=num_frames, h=128, w=160, dx=3, dy=1)
    masks = torch.zeros(num_frames, 1, 128, 160, dtype=torch.bool)
    masks[:, :, 40:80, 50:100] = True
    return models, frames, masks


@pytest.mark.slow
def test_default_pipeline_makes_no_host_round_trip_off_the_host(monkeypatch):
    """The default stages (RAFT, edges, completion, propagation, fusion, harmonic keyframes,
    refinement) on a pretend device: nothing goes through numpy/OpenCV, and what is copied to
    the host (hole boxes) is a small fraction of the clip; the output is the host path's."""
    cfg = PipelineConfig().replace(mask={"dilate": 2}, flow={"num_updates": 2, "refine_updates": 2})
    models, frames, masks = _default_stages_case(cfg, 5)
    on_host = inpaint_video(frames, masks, cfg, models=models)
    copied = _off_host(monkeypatch)
    result = inpaint_video(frames, masks, cfg, models=models)
    assert sum(copied) < 0.01 * frames.numel()
    assert torch.equal(result.frames, on_host.frames)


def test_dilation_off_the_host_is_opencvs():
    from vidfill.stages import holes

    masks = torch.rand(3, 1, 40, 50) > 0.97
    for radius in (1, 2, 4, 7):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(holes, "on_host", lambda x: False)
            device_path = dilate_holes(masks, radius)
        assert torch.equal(device_path, dilate_holes(masks, radius)), radius


@pytest.mark.gpu
def test_cpu_and_cuda_give_the_same_fill():
    """The default stages on CUDA (float32 RAFT on both, so that only the devices' arithmetic
    differs): outside the hole identical, inside within 35 dB of the CPU's fill."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cfg = PipelineConfig().replace(flow={"precision": "float32"})
    models, frames, masks = _default_stages_case(cfg, 8)
    cpu = inpaint_video(frames, masks, cfg, models=models)
    cuda = inpaint_video(frames.cuda(), masks.cuda(), cfg, models=models.to(torch.device("cuda")))
    assert cuda.frames.is_cuda
    out = cuda.frames.cpu()
    assert torch.equal(out[~cpu.hole.expand_as(out)], frames[~cpu.hole.expand_as(frames)])
    assert psnr_region(out, cpu.frames, cpu.hole) > 35


def test_each_still_frame_follows_what_crosses_a_still_hole():
    """A dark bar crosses a stationary hole in front of a still camera: nothing behind the hole
    is ever shown, and the keyframe's fill carried along the completed flow is dragged into a
    smear; each frame filled on its own, from its own surroundings, follows the bar."""
    num_frames, h, w = 10, 48, 64
    truth = torch.linspace(60, 200, w).view(1, 1, 1, w).repeat(num_frames, 3, h, 1)
    for t in range(num_frames):
        truth[t, :, :, 4 + 5 * t:16 + 5 * t] = 20
    truth = truth.round().to(torch.uint8)
    masks = torch.zeros(num_frames, 1, h, w, dtype=torch.bool)
    masks[:, :, 16:32, 20:44] = True
    damaged = torch.where(masks, 0, truth)

    def hole_psnr(each_still_frame: bool) -> float:
        cfg = DIS.replace(mask={"dilate": 0}, leftover={"each_still_frame": each_still_frame})
        return psnr_region(inpaint_video(damaged, masks, cfg, models=build_models(cfg)).frames, truth, masks)

    carried, own = hole_psnr(False), hole_psnr(True)
    assert own > carried + 2, (own, carried)


def test_stage_lines_show_a_rate_only_for_work_done():
    import io

    stream = io.StringIO()
    reporter = Reporter(stream=stream)
    with reporter.stage("still frames", None, "frames"):
        pass
    with reporter.stage("propagation", 4, "steps") as advance:
        advance(4)
    idle, busy = stream.getvalue().splitlines()
    assert idle.startswith("still frames 0 frames") and "/s" not in idle
    assert "[####################] 4/4 steps" in busy and busy.endswith("steps/s")


def test_shown_content_comes_before_an_earlier_windows_fill():
    """Pixels an earlier window filled from keyframes are handed over as known but not shown:
    what a frame shows reaches the hole first, they are carried on only where nothing shown
    does, what they reach counts as unreached, and their own frame is left as it was."""
    from vidfill.pipeline import fill_along_flow

    num_frames = 8
    truth = translating_clip(num_frames=num_frames, h=48, w=64, dx=0, dy=0)
    hole = torch.zeros(num_frames, 1, 48, 64, dtype=torch.bool)
    hole[1:7, :, 16:32, 20:44] = True  # frame 7 shows what lies behind
    inherited = torch.zeros_like(hole)
    inherited[0, :, 16:32, 20:44] = True
    frames = torch.where(inherited, torch.full_like(truth, 128), truth)  # the earlier fill
    still = torch.zeros(num_frames - 1, 2, 48, 64)
    cfg = DIS.replace(mask={"dilate": 0}, fusion={"method": "colour"})
    shown = fill_along_flow(frames, hole, still, still, cfg, Reporter(quiet=True),
                            inpainter=build_inpainter(cfg), inherited=inherited)
    assert psnr_region(shown.frames, truth, hole) > 40 and not shown.unreached.any()
    assert torch.equal(shown.frames[0], frames[0])

    hole[7, :, 16:32, 20:44] = True  # now no frame shows it: the earlier fill is carried on
    carried = fill_along_flow(frames, hole, still, still, cfg, Reporter(quiet=True),
                              inpainter=build_inpainter(cfg), inherited=inherited)
    assert torch.equal(carried.unreached, hole) and not carried.keyframes
    assert bool((carried.frames[1:, :, 16:32, 20:44] == 128).all())
