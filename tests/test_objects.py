"""A tight roto of a moving object is grown (mask.grow_objects); still masks, blanked holes and
masks whose outline crosses the picture anywhere stay exact (issue 30)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import translating_clip
from vidfill.cli.main import main
from vidfill.stages.holes import outlines_an_object


def _ball(T: int = 10, h: int = 96, w: int = 128, busy: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A red ball crossing a drifting texture (``busy``: a crowd of strong random edges, which
    outdo the ball's), its edge anti-aliased, and its tight roto: the pixels it covers by more
    than half (as an artist exports the mask)."""
    import cv2

    clip = translating_clip(num_frames=T, h=h, w=w).permute(0, 2, 3, 1).numpy().astype(np.float32)
    if busy:
        crowd = np.random.default_rng(0).integers(0, 256, (T, h // 4, w // 4, 3)).astype(np.float32)
        clip = np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_NEAREST) for c in crowd])
    colour = np.float32([60, 60, 60] if busy else [200, 40, 40])
    frames, masks = [], []
    for t in range(T):
        alpha = np.zeros((4 * h, 4 * w), np.float32)  # drawn at 4x, reduced: anti-aliased
        cv2.circle(alpha, (4 * (20 + 8 * t), 4 * (h // 2)), 4 * 14, 1.0, -1)
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)[..., None]
        frames.append(np.round(alpha * colour + (1 - alpha) * clip[t]).astype(np.uint8))
        masks.append(alpha[..., 0] > 0.5)
    return (torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(np.stack(masks))[:, None])


def test_a_moving_objects_roto_is_told_from_still_blanked_and_arbitrary_masks():
    frames, masks = _ball()
    assert outlines_an_object(frames, masks)
    assert not outlines_an_object(frames, masks[:1].expand_as(masks))  # a still mask: a logo
    blanked = torch.where(masks, torch.zeros_like(frames), frames)
    assert not outlines_an_object(blanked, masks)  # nothing left under the hole to have an edge
    clip = translating_clip(num_frames=10, h=96, w=128)  # no object: a drifting hole anywhere
    drifting = torch.zeros(10, 1, 96, 128, dtype=torch.bool)
    for t in range(10):
        drifting[t, 0, 30 + t:60 + t, 20 + 3 * t:60 + 3 * t] = True
    assert not outlines_an_object(clip, drifting)


def test_an_object_over_a_busy_background_is_told_by_its_outline_following_its_edge():
    """Against a crowd of edges about as strong as its own (the car of the object benchmark over
    breakdance's crowd; the outline's gradient is 1.4x the frame's mean here, which the rule
    before took for an arbitrary hole), the roto still runs along the object's edge (0.88 of the
    gradient across it); the same outline moved over the crowd does not (0.60)."""
    frames, masks = _ball(busy=True)
    assert outlines_an_object(frames, masks)
    assert not outlines_an_object(frames, torch.roll(masks, shifts=(10, 12), dims=(2, 3)))


def _write(folder, images):
    import cv2

    folder.mkdir()
    for t, image in enumerate(images):
        cv2.imwrite(str(folder / f"{t:04d}.png"), image[..., ::-1] if image.ndim == 3 else image)
    return folder


@pytest.mark.parametrize("grow", [None, "0"])
def test_the_default_grows_an_objects_roto_and_says_so(tmp_path, capsys, grow):
    frames, masks = _ball(6)
    plate = _write(tmp_path / "plate", frames.permute(0, 2, 3, 1).numpy())
    mask_dir = _write(tmp_path / "masks", masks[:, 0].numpy().astype(np.uint8) * 255)
    args = [str(plate), str(mask_dir), "-o", str(tmp_path / "out"), "--fill-only", "--flow", "dis",
            "--edges", "none", "--refine", "0"] + (["--set", f"mask.grow_objects={grow}"] if grow else [])
    assert main(args) == 0
    err = capsys.readouterr().err
    import cv2
    alpha = np.stack([cv2.imread(str(tmp_path / "out" / f"{t:04d}.png"), cv2.IMREAD_UNCHANGED)[..., 3]
                      for t in range(6)]) > 0
    if grow is None:
        assert "grown by 4 px" in err and alpha.sum() > masks.sum() and (alpha >= masks[:, 0].numpy()).all()
        assert "mask.object_band" in err
    else:
        assert "grown by" not in err and np.array_equal(alpha, masks[:, 0].numpy())


def _reflection_flow(hole_step: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flow of a background panning 4 px left, a square hole moving ``hole_step`` px right, a
    band under it (a reflection) moving with the hole, and a patch far away moving the same
    way but not touching it: (flow, source hole, target hole)."""
    flow = torch.zeros(1, 2, 96, 128)
    flow[:, 0] = -4.0
    source = torch.zeros(1, 1, 96, 128, dtype=torch.bool)
    source[..., 20:40, 40:70] = True
    target = torch.roll(source, int(hole_step), dims=-1)
    flow[:, 0, 40:56, 40:70] = hole_step  # the reflection, right under the hole
    flow[:, 0, 80:90, 100:120] = hole_step  # something else that happens to move the same way
    return flow, source, target


def test_the_flow_that_moves_with_the_hole_next_to_it_is_completed_too():
    from vidfill.stages.flow import moving_with_hole

    flow, source, target = _reflection_flow(hole_step=2.0)
    band = moving_with_hole(flow, source, target, reach=32)[0, 0]
    assert bool(band[40:56, 40:70].all())  # the reflection joins the region to complete
    assert not bool(band[80:90, 100:120].any())  # apart from the hole: left as it is
    assert not bool(band[:20].any()) and not bool(band[56:80].any())  # the panning background
    assert not bool(band[20:40, 40:70].any())  # the hole itself is not part of the band
    assert not bool(moving_with_hole(flow, source, target, reach=8)[0, 0, 49:56].any())  # reach


def test_no_band_where_the_hole_moves_with_the_background():
    from vidfill.stages.flow import moving_with_hole

    flow, source, target = _reflection_flow(hole_step=-4.0)  # a hole carried by the pan
    assert not bool(moving_with_hole(flow, source, target, reach=32).any())


def test_only_an_objects_roto_gets_the_moving_band():
    from vidfill import load_preset
    from vidfill.api import for_objects

    frames, masks = _ball(6)
    cfg = load_preset("default")
    assert cfg.completion.moving_band == 0  # off for any mask: a brush stroke, a blob, a logo
    assert for_objects(cfg, frames, masks).completion.moving_band == cfg.mask.object_band > 0
    still = masks[:1].expand_as(masks).clone()
    assert for_objects(cfg, frames, still).completion.moving_band == 0
    off = cfg.replace(origin="--set", mask={"object_band": 0})
    assert for_objects(off, frames, masks).completion.moving_band == 0
