import numpy as np
import pytest
import torch

from conftest import translating_clip
from vidfill.metrics import psnr_frames, psnr_region, seam_error


def test_seam_error_measures_the_step_at_the_hole_boundary():
    truth = translating_clip(num_frames=2, h=32, w=40)
    hole = torch.zeros(2, 1, 32, 40, dtype=torch.bool)
    hole[:, :, 8:20, 10:30] = True
    assert seam_error(truth, truth, hole) == 0.0
    brighter = torch.where(hole, (truth.int() + 12).clamp(max=255), truth.int()).to(torch.uint8)
    shifted = truth.int() + 12 <= 255  # where the clamp did not bite, the step is exactly 12
    assert abs(seam_error(brighter, truth, hole & shifted.all(1, keepdim=True)) - 12) < 2
    assert seam_error(brighter, truth, torch.zeros_like(hole)) == 0.0


def test_psnr_of_identical_region_is_high_and_of_one_level_off_is_48db():
    truth = translating_clip(num_frames=2, h=16, w=16)
    off = (truth.int() + 1).clamp(max=255).to(torch.uint8)
    region = torch.ones(2, 1, 16, 16, dtype=torch.bool)
    region &= truth.max(1, keepdim=True).values < 255
    assert abs(psnr_region(off, truth, region) - 48.13) < 0.01
    assert psnr_frames(truth, truth) > 99


def test_ssim_region_sees_only_its_region():
    from vidfill.metrics import ssim_region

    truth = translating_clip(num_frames=2, h=48, w=48)
    region = torch.zeros(2, 1, 48, 48, dtype=torch.bool)
    region[:, :, 16:32, 16:32] = True
    noisy = torch.where(~region, torch.zeros_like(truth), truth)  # wrong only outside the region
    assert abs(ssim_region(truth, truth, region) - 1) < 1e-6
    assert ssim_region(noisy, truth, region.roll(16, -1)) < 0.5  # entirely in the damaged part
    centre = torch.zeros_like(region)
    centre[:, :, 22:26, 22:26] = True  # more than the 5-pixel window reach from the damage
    assert ssim_region(noisy, truth, centre) > 0.99


def test_warping_error_in_a_region_sees_only_its_flicker():
    from vidfill.metrics import warping_error

    truth = translating_clip(num_frames=4, h=48, w=64, dx=0, dy=0)
    region = torch.zeros(4, 1, 48, 64, dtype=torch.bool)
    region[:, :, 10:20, 10:20] = True
    flicker = truth.clone()
    flicker[1::2, :, 30:40, 40:50] = 0  # outside the region
    assert warping_error(flicker, truth) > 1
    assert warping_error(flicker, truth, region=region) < 1e-6
    flicker[1::2, :, 10:20, 10:20] = 0
    assert warping_error(flicker, truth, region=region) > 10 * warping_error(flicker, truth)


def test_texture_ratio_is_one_for_the_scene_and_near_zero_for_a_membrane():
    from vidfill.metrics import texture_ratio

    rng = np.random.default_rng(0)
    truth = torch.from_numpy(rng.integers(60, 190, (2, 3, 24, 24), dtype=np.uint8))
    hole = torch.zeros(2, 1, 24, 24, dtype=torch.bool)
    hole[:, :, 6:18, 6:18] = True
    assert texture_ratio(truth, truth, hole) == pytest.approx(1.0)
    flat = torch.where(hole, torch.full_like(truth, 128), truth)  # a membrane: no detail inside
    assert texture_ratio(flat, truth, hole) < 0.01
    stronger = torch.where(hole, ((truth.float() - 125) * 2 + 125).clamp(0, 255).to(torch.uint8), truth)
    assert 1.5 < texture_ratio(stronger, truth, hole) < 2.1
    # the step at the hole's edge does not count: only the hole eroded by one pixel
    edge = torch.where(hole, truth // 2, truth)
    assert texture_ratio(edge, truth, hole) == pytest.approx(0.5, abs=0.02)
    assert texture_ratio(truth, truth, torch.zeros_like(hole)) == 0.0
