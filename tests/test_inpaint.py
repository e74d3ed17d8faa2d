"""Image inpainters for keyframes: one interface, each on tiny synthetic cases."""

from __future__ import annotations

import io as text_io
import typing

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidfill.inpainters import gated
from vidfill.models import weights
from vidfill.models.gated import GatedGenerator, contextual_attention
from vidfill.config import InpainterName, DipConfig, PatchMatchConfig, PipelineConfig, PoissonConfig
from vidfill.errors import VidfillError
from vidfill.models.build import GATED_WEIGHTS, build_inpainter
from vidfill.inpainters.harmonic import harmonic_fill
from vidfill.inpainters.opencv import inpaint_image
from vidfill.inpainters.poisson_blend import poisson_blend
from vidfill.inpainters.registry import NAMES, Inpainter
from vidfill.metrics import psnr_region, texture_ratio
from vidfill.types import to_float, to_uint8
from vidfill.progress import Reporter

TINY_DIP = {"iterations": 20, "channels": 8, "levels": 2, "input_channels": 4, "max_side": 32}


def periodic_image(h: int = 72, w: int = 96) -> torch.Tensor:
    """(3, H, W) uint8: a sinusoidal checker texture with periods of 12 and 16 pixels."""
    yy, xx = np.mgrid[:h, :w]
    base = 127 + 100 * np.sin(2 * np.pi * xx / 12) * np.cos(2 * np.pi * yy / 16)
    return torch.from_numpy(np.stack([base, 255 - base, base / 2 + 60]).round().astype(np.uint8))


def box_hole(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    hole = torch.zeros(1, h, w, dtype=torch.bool)
    hole[:, y0:y1, x0:x1] = True
    return hole


def test_every_inpainter_fills_only_the_hole():
    image = periodic_image(40, 48)
    hole = box_hole(40, 48, 12, 26, 16, 34)
    damaged = torch.where(hole, torch.zeros_like(image), image)
    cfg = PipelineConfig().replace(dip=TINY_DIP)
    torch.manual_seed(0)
    runners = [Inpainter(name, cfg) for name in NAMES if name != "gated"]
    runners.append(Inpainter("gated", cfg, GatedGenerator(channels=4).eval()))
    for inpainter in runners:
        out = inpainter(damaged, hole)
        assert out.dtype == torch.uint8 and out.shape == image.shape, inpainter.name
        assert torch.equal(out[~hole.expand_as(out)], damaged[~hole.expand_as(out)]), inpainter.name
        assert not torch.equal(out, damaged), inpainter.name  # the hole was written


def test_patchmatch_reproduces_a_periodic_texture_that_telea_blurs():
    image = periodic_image()
    hole = box_hole(72, 96, 22, 50, 30, 66)
    damaged = torch.where(hole, torch.zeros_like(image), image)
    filled = Inpainter("patchmatch", PipelineConfig())(damaged, hole)
    telea = inpaint_image(damaged, hole)
    ours, theirs = psnr_region(filled[None], image[None], hole[None]), psnr_region(telea[None], image[None], hole[None])
    assert ours > 35 and ours > theirs + 15, (ours, theirs)


def noisy_ramp(h: int = 80, w: int = 112, seed: int = 0) -> torch.Tensor:
    """(3, H, W) uint8: a left-to-right brightness ramp under fine random grain (a crowd, a
    lawn: detail with no structure to continue)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 180, w)[None, :].repeat(h, 0)
    grain = rng.normal(0, 18, (3, h, w))
    return torch.from_numpy(np.clip(ramp + grain, 0, 255).round().astype(np.uint8))


def test_texture_fill_puts_the_grain_back_on_the_membrane():
    image = noisy_ramp()
    hole = box_hole(80, 112, 24, 56, 36, 76)
    damaged = torch.where(hole, torch.zeros_like(image), image)
    cfg = PipelineConfig()
    membrane = Inpainter("harmonic", cfg)(damaged, hole)
    textured = Inpainter("texture", cfg)(damaged, hole)
    assert torch.equal(textured[~hole.expand_as(image)], image[~hole.expand_as(image)])
    clip = lambda x: x[None]  # noqa: E731
    assert texture_ratio(clip(membrane), clip(image), hole[None]) < 0.2  # a smooth smudge
    assert texture_ratio(clip(textured), clip(image), hole[None]) > 0.8  # grain as strong as the truth's
    # the level stays the membrane's: the ramp is not shifted by the copied detail
    inside = hole.expand_as(image)
    mean_error = (textured.float() - image.float())[inside].mean()
    assert abs(float(mean_error)) < 3, float(mean_error)
    assert torch.equal(textured, Inpainter("texture", cfg)(damaged, hole))  # seeded
    deep = Inpainter("texture", cfg)(to_float(damaged).half(), hole)  # float frames, in float
    assert deep.dtype == torch.float16
    assert texture_ratio(clip(to_uint8(deep.float())), clip(image), hole[None]) > 0.8
    plain = Inpainter("texture", cfg.replace(texture={"gain": 0.0}))(damaged, hole)
    assert torch.equal(plain, membrane)  # gain 0 is the membrane alone


def test_patchmatch_is_seeded():
    image = periodic_image(48, 64)
    hole = box_hole(48, 64, 14, 30, 20, 40)
    cfg = PatchMatchConfig(iterations=1)
    from vidfill.inpainters.patchmatch import complete
    assert torch.equal(complete(image, hole, cfg), complete(image, hole, cfg))
    with pytest.raises(ValueError, match="odd"):
        complete(image, hole, PatchMatchConfig(patch_size=4))


def test_dip_is_deterministic_and_leaves_the_global_generator_alone():
    from vidfill.inpainters.dip import complete

    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(40), indexing="ij")
    image = torch.stack([xx * 5, yy * 6, 100 + xx * 2 + yy]).to(torch.uint8)  # smooth ramps
    hole = box_hole(32, 40, 10, 20, 12, 26)
    damaged = torch.where(hole, torch.zeros_like(image), image)
    cfg = DipConfig(**{**TINY_DIP, "iterations": 60})
    torch.manual_seed(123)
    first = complete(damaged, hole, cfg)
    after = torch.rand(1)
    torch.manual_seed(123)
    second = complete(damaged, hole, cfg)
    assert torch.equal(first, second)
    assert torch.equal(torch.rand(1), after)  # the caller's random stream is untouched
    assert torch.equal(first[~hole.expand_as(first)], damaged[~hole.expand_as(first)])
    assert not torch.equal(complete(damaged, hole, DipConfig(**{**TINY_DIP, "iterations": 60, "seed": 1})), first)
    assert psnr_region(first[None], image[None], hole[None]) > 22  # the fit continues the ramps (15 dB with no step)


def test_contextual_attention_rebuilds_the_hole_from_known_features():
    value = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)
    hole = torch.zeros(1, 1, 32, 32)
    hole[:, :, 12:20, 12:20] = 1
    torch.manual_seed(0)
    features = torch.where(hole > 0, torch.randn(1, 3, 32, 32), value.expand(1, 3, 32, 32))
    out = contextual_attention(features, hole)
    inner = out[:, :, 13:19, 13:19]  # away from the bilinear upsampling's reach into the border
    assert torch.allclose(inner, value.expand_as(inner), atol=1e-4)
    # with no wholly known patch there is nothing to attend to: the features pass through
    tiny_hole = torch.zeros(1, 1, 16, 16)
    tiny_hole[:, :, 4:12, 4:12] = 1
    small = torch.randn(1, 3, 16, 16)
    assert torch.allclose(contextual_attention(small, tiny_hole),
                          F.interpolate(F.avg_pool2d(small, 2), scale_factor=2, mode="bilinear"))


def test_gated_generator_with_random_weights_at_a_tiny_size():
    torch.manual_seed(0)
    net = GatedGenerator(channels=4)
    image, hole = torch.rand(2, 3, 32, 48) * 2 - 1, torch.zeros(2, 1, 32, 48)
    hole[:, :, 8:24, 10:30] = 1
    coarse, refined = net(image, hole)
    assert coarse.shape == refined.shape == (2, 3, 32, 48)
    assert bool(refined.abs().le(1).all()) and bool(torch.isfinite(refined).all())


@pytest.fixture
def no_gated_weights(monkeypatch, tmp_path):
    """Checkpoint folders and the hub cache point at empty folders."""
    monkeypatch.setenv("VIDFILL_CHECKPOINTS", str(tmp_path / "empty"))
    monkeypatch.setattr(weights, "checkpoint_dirs", lambda: [tmp_path / "empty"])
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path


def test_gated_weights_through_the_manifest(no_gated_weights, monkeypatch):
    folder = no_gated_weights / "ckpts"
    folder.mkdir()
    torch.manual_seed(1)
    trained = weights.MANIFEST[GATED_WEIGHTS].build().eval()
    torch.save({f"module.{k}": v for k, v in trained.state_dict().items()},  # a DataParallel file
               folder / weights.MANIFEST[GATED_WEIGHTS].filename)
    monkeypatch.setattr(weights, "checkpoint_dirs", lambda: [folder])
    stream = text_io.StringIO()
    cfg = PipelineConfig().replace(leftover={"method": "gated"})
    inpainter = build_inpainter(cfg, reporter=Reporter(stream=stream))
    assert inpainter.name == "gated" and "gated_inpainter weights from" in stream.getvalue()
    image = periodic_image(40, 48)
    hole = box_hole(40, 48, 10, 30, 12, 36)
    assert torch.equal(inpainter(image, hole), gated.complete(image, hole, trained, cfg.gated))
    # an explicit path takes precedence; a missing one is an error, not a fallback
    assert build_inpainter(cfg, folder / "gated_inpainter.pth").name == "gated"
    with pytest.raises(VidfillError, match="nope.pth: weights file not found"):
        build_inpainter(cfg, folder / "nope.pth")


def test_missing_gated_weights_fall_back_to_the_harmonic_fill_and_say_so(no_gated_weights):
    stream = text_io.StringIO()
    inpainter = build_inpainter(PipelineConfig().replace(leftover={"method": "gated"}),
                                reporter=Reporter(stream=stream))
    lines = stream.getvalue().strip().splitlines()
    assert inpainter.name == "harmonic"
    assert len(lines) == 1 and "no gated_inpainter weights found" in lines[0] and "harmonic" in lines[0]
    image, hole = periodic_image(40, 48), box_hole(40, 48, 10, 30, 12, 36)
    assert torch.equal(inpainter(image, hole), harmonic_fill(image, hole, PoissonConfig()))


def test_unknown_inpainter_is_refused_by_the_config_and_the_registry_matches_it():
    with pytest.raises(VidfillError, match="leftover.method must be one of .*patchmatch.*got 'nope'"):
        PipelineConfig().replace(leftover={"method": "nope"})
    assert set(NAMES) == set(typing.get_args(InpainterName))


def test_poisson_blend_removes_a_level_step_and_keeps_an_exact_fill():
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(50), indexing="ij")
    ramp = torch.stack([40 + xx * 2, 60 + yy * 3, 80 + xx + yy]).to(torch.uint8)
    hole = box_hole(40, 50, 12, 28, 15, 35)
    offset = torch.where(hole, ramp + 30, ramp)  # the right slopes, 30 levels too bright
    blended = poisson_blend(offset, hole, PoissonConfig())
    assert torch.equal(blended[~hole.expand_as(ramp)], ramp[~hole.expand_as(ramp)])
    assert psnr_region(offset[None], ramp[None], hole[None]) < 20
    assert (blended.int() - ramp.int()).abs().max() <= 1
    assert (poisson_blend(ramp, hole, PoissonConfig()).int() - ramp.int()).abs().max() <= 1


def test_harmonic_fill_reproduces_ramps_and_is_the_mean_of_its_neighbours():
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(50), indexing="ij")
    ramp = torch.stack([40 + xx * 2, 60 + yy * 3, 80 + xx + yy]).to(torch.uint8)
    inside = box_hole(40, 50, 12, 28, 15, 35)
    flat = torch.zeros_like(ramp)
    assert (harmonic_fill(torch.where(inside, flat, ramp), inside, PoissonConfig()).int() - ramp.int()).abs().max() <= 1
    top = box_hole(40, 50, 0, 15, 10, 30)  # on the border: no constraint beyond it
    ramp_x = ramp[:1].expand(3, -1, -1).contiguous()  # varies along x only, so still exact
    assert (harmonic_fill(torch.where(top, flat, ramp_x), top, PoissonConfig()).int() - ramp_x.int()).abs().max() <= 1
    image, hole = periodic_image(40, 48), box_hole(40, 48, 10, 30, 12, 36)
    filled = harmonic_fill(image, hole, PoissonConfig(tolerance=1e-6)).float()
    laplacian = (filled[:, 1:-1, 1:-1] * 4 - filled[:, :-2, 1:-1] - filled[:, 2:, 1:-1]
                 - filled[:, 1:-1, :-2] - filled[:, 1:-1, 2:])
    inner = hole[:, 1:-1, 1:-1].expand_as(laplacian)
    assert laplacian[inner].abs().mean() < 1.0 and laplacian[inner].abs().max() <= 4  # uint8 rounding
    assert (filled - image.float())[hole.expand_as(filled)].abs().mean() > 10  # the texture is not known


def test_torch_inpainters_run_on_the_images_device(device):
    image = periodic_image(32, 40).to(device)
    hole = box_hole(32, 40, 8, 20, 10, 28).to(device)
    cfg = PipelineConfig().replace(dip={**TINY_DIP, "iterations": 3})
    torch.manual_seed(0)
    runners = [Inpainter("harmonic", cfg), Inpainter("dip", cfg),
               Inpainter("gated", cfg, GatedGenerator(channels=4).eval().to(device))]
    for inpainter in runners:
        out = inpainter(image, hole)
        assert out.device == image.device and out.shape == image.shape, inpainter.name
        assert torch.equal(out[~hole.expand_as(out)], image[~hole.expand_as(out)]), inpainter.name


def test_poisson_blend_setting_post_processes_any_inpainter():
    image, hole = periodic_image(40, 48), box_hole(40, 48, 10, 30, 12, 36)
    cfg = PipelineConfig().replace(leftover={"poisson_blend": True})
    blended = Inpainter("ns", cfg)(image, hole)
    assert torch.equal(blended, poisson_blend(Inpainter("ns", PipelineConfig())(image, hole), hole, cfg.poisson))
