"""Temporal windows: the plan, equality with the whole-clip pipeline, and no seam at the handover."""

from __future__ import annotations

import pytest
import torch

from conftest import translating_clip
from vidfill.config import PipelineConfig, WindowConfig
from vidfill.errors import VidfillError
from vidfill.metrics import psnr_region
from vidfill.models.build import build_models
from vidfill.pipeline import inpaint_video
from vidfill.windows import fill_in_windows, plan_windows

DIS = PipelineConfig().replace(flow={"method": "dis"}, edges={"method": "none"})


@pytest.mark.parametrize("num_frames", [1, 2, 9, 10, 11, 17, 18, 19, 50, 101])
@pytest.mark.parametrize("length,overlap,lookahead",
                         [(10, 1, 0), (10, 3, 0), (10, 9, 0), (2, 1, 0), (10, 3, 4), (10, 1, 8)])
def test_plan_covers_every_frame_once_with_overlap(num_frames, length, overlap, lookahead):
    plan = plan_windows(num_frames, WindowConfig(length=length, overlap=overlap, lookahead=lookahead,
                                                 stretch=0))
    new = [t for w in plan for t in w.new]
    assert new == list(range(num_frames))  # every frame finished once, in order
    assert plan[0].start == 0 and plan[0].fixed == 0 and plan[-1].stop == plan[-1].finish == num_frames
    for before, after in zip(plan, plan[1:]):
        assert after.start + after.fixed == before.finish  # handover = what is already finished
        assert before.finish - after.start >= overlap  # at least the overlap is handed over
        assert before.stop - before.finish == lookahead  # each window but the last looks ahead
        assert after.start >= before.start  # handed-over frames lie in the previous window
    assert all(w.stop - w.start <= length for w in plan)
    if num_frames >= length:
        assert plan[-1].stop - plan[-1].start == length  # the last window is not a stub


def test_plan_of_short_clips_is_one_window():
    cfg = WindowConfig(length=10, overlap=3, lookahead=0, stretch=0)
    plan = lambda n, c=cfg: [(w.start, w.stop, w.fixed, w.finish) for w in plan_windows(n, c)]  # noqa: E731
    assert plan(4) == [(0, 4, 0, 4)]
    assert plan(10) == [(0, 10, 0, 10)]
    assert plan(12) == [(0, 10, 0, 10), (2, 12, 8, 12)]
    assert plan(24) == [(0, 10, 0, 10), (7, 17, 3, 17), (14, 24, 3, 24)]
    ahead = WindowConfig(length=10, overlap=3, lookahead=2, stretch=0)
    assert plan(10, ahead) == [(0, 10, 0, 10)]
    assert plan(24, ahead) == [(0, 10, 0, 8), (5, 15, 3, 13), (10, 20, 3, 18), (14, 24, 4, 24)]


@pytest.mark.parametrize("length,overlap,message", [
    (1, 0, "window.length must be >= 2, got 1"), (5, 0, "window.overlap must be >= 1, got 0"),
    (5, 5, "length 5, overlap 5"), (5, 7, "length 5, overlap 7")])
def test_window_config_is_validated(length, overlap, message):
    with pytest.raises(VidfillError, match=message):
        WindowConfig(length=length, overlap=overlap, lookahead=0)
    with pytest.raises(VidfillError, match="lookahead 3, length 5, overlap 2"):
        WindowConfig(length=5, overlap=2, lookahead=3)


def _moving_hole_clip(num_frames: int):
    """A texture moving (4, 1) px per frame under a hole moving (1, 0): every hole pixel is
    shown by a frame at most 5 frames away, so short windows can fill it as well as the whole clip."""
    frames = translating_clip(num_frames=num_frames, h=64, w=96, dx=4, dy=1)
    masks = torch.zeros(num_frames, 1, 64, 96, dtype=torch.bool)
    for t in range(num_frames):
        masks[t, :, 20:40, 30 + t:50 + t] = True
    return frames, masks


def test_one_window_equals_the_whole_clip_pipeline():
    frames, masks = _moving_hole_clip(12)
    models = build_models(DIS)
    whole = inpaint_video(frames, masks, DIS, models=models).frames
    windowed = torch.stack(list(fill_in_windows(frames, masks, 12, DIS, models)))
    assert torch.equal(windowed, whole)


def test_handover_leaves_no_seam():
    frames, masks = _moving_hole_clip(24)
    whole = inpaint_video(frames, masks, DIS, models=build_models(DIS)).frames
    cfg = DIS.replace(window={"length": 8, "overlap": 3, "lookahead": 0, "stretch": 0})
    windowed = torch.stack(list(fill_in_windows(iter(frames), iter(masks), 24, cfg, build_models(cfg))))
    outside = ~masks.expand_as(frames)
    assert torch.equal(windowed[outside], frames[outside])
    whole_db, windowed_db = psnr_region(whole, frames, masks), psnr_region(windowed, frames, masks)
    assert windowed_db > 45 and windowed_db > whole_db - 0.5, (windowed_db, whole_db)
    # frame by frame, the seams (windows 0-7, 5-12, 10-17, 15-22, 16-23) included
    for t in range(24):
        assert psnr_region(windowed[t:t + 1], frames[t:t + 1], masks[t:t + 1]) > 45, t


def window_calls(monkeypatch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (frames, holes) of every window given to inpaint_video, recorded as they run."""
    calls = []

    def spy(clip, holes, *args, **kwargs):
        calls.append((clip.clone(), holes.clone()))
        return inpaint_video(clip, holes, *args, **kwargs)

    monkeypatch.setattr("vidfill.windows.inpaint_video", spy)
    return calls


def test_handover_frames_are_the_previous_windows_output(monkeypatch):
    frames, masks = _moving_hole_clip(12)
    cfg = DIS.replace(window={"length": 8, "overlap": 3, "lookahead": 0, "stretch": 0})
    calls = window_calls(monkeypatch)
    out = torch.stack(list(fill_in_windows(frames, masks, 12, cfg, build_models(cfg))))
    (first, _), (second, second_holes) = calls  # windows 0-7, then 4-11 with 4-7 handed over
    assert torch.equal(second[:4], out[4:8]) and not second_holes[:4].any()
    assert torch.equal(second_holes[4:], masks[8:])


def test_missing_masks_are_an_error():
    frames, masks = _moving_hole_clip(6)
    with pytest.raises(ValueError, match="got 6 frames and 5 masks"):
        list(fill_in_windows(frames, masks[:5], 6, DIS, build_models(DIS)))


def test_frames_are_pulled_and_released_window_by_window():
    frames, masks = _moving_hole_clip(24)
    cfg = DIS.replace(window={"length": 8, "overlap": 3, "lookahead": 0, "stretch": 0})
    pulled = []

    def source():
        for t, frame in enumerate(frames):
            pulled.append(t)
            yield frame

    out = fill_in_windows(source(), masks, 24, cfg, build_models(cfg))
    assert pulled == []  # nothing is read before the first output is asked for
    next(out)
    assert len(pulled) == 8  # the first window
    for _ in range(7):
        next(out)
    assert len(pulled) == 8  # its 8 frames came out before anything more was read
    next(out)
    assert len(pulled) == 13  # the second window reads only its 5 new frames


def test_lookahead_frames_are_seen_then_finished_by_the_next_window(monkeypatch):
    frames, masks = _moving_hole_clip(14)
    cfg = DIS.replace(window={"length": 8, "overlap": 3, "lookahead": 2, "stretch": 0})
    calls = window_calls(monkeypatch)
    out = torch.stack(list(fill_in_windows(iter(frames), iter(masks), 14, cfg, build_models(cfg))))
    # windows 0-7 (finishes 0-5, sees 6-7 as holes), then 3-10 (3-5 handed over), then 6-13
    (first, first_holes), (second, second_holes), _ = calls
    assert first.shape[0] == 8 and torch.equal(first_holes[6:], masks[6:8])
    assert torch.equal(second[:3], out[3:6]) and not second_holes[:3].any()
    assert torch.equal(second_holes[3:], masks[6:11])  # 6-7 are filled again, not handed over
    outside = ~masks.expand_as(frames)
    assert torch.equal(out[outside], frames[outside])
    assert psnr_region(out, frames, masks) > 45


def test_a_clip_a_little_longer_than_a_window_is_one_window_not_two():
    cfg = WindowConfig()  # 60 frames, stretch 0.25

    def plan(n, c):
        return [(w.start, w.stop, w.fixed, w.finish) for w in plan_windows(n, c)]

    assert plan(60, cfg) == [(0, 60, 0, 60)]
    assert plan(70, cfg) == [(0, 70, 0, 70)]  # not two windows of 60: 120 frames of work
    assert plan(75, cfg) == [(0, 75, 0, 75)]
    assert [w.stop - w.start for w in plan_windows(76, cfg)] == [60, 60]
    work = {n: sum(w.stop - w.start for w in plan_windows(n, cfg)) for n in (60, 70, 110, 300)}
    assert work[70] / work[60] <= 1.3
    assert work[110] == 60 + 75  # the last window takes the 75 frames left, not 60 + 60 + 60
    for n in range(1, 400):  # every frame finished once, in order, whatever the length
        stretched = plan_windows(n, cfg)
        assert [t for w in stretched for t in w.new] == list(range(n))
        assert all(w.stop - w.start <= 75 for w in stretched)



def test_the_handover_says_which_pixels_were_filled_from_keyframes(monkeypatch):
    """The next window must know which handed-over pixels were invented, not shown (see
    ``fill_along_flow``'s ``inherited``): the earlier window's keyframe fill of those frames."""
    frames = translating_clip(num_frames=12, h=48, w=64, dx=0, dy=0)  # a still camera:
    masks = torch.zeros(12, 1, 48, 64, dtype=torch.bool)  # nothing behind the hole is shown
    masks[:, :, 16:32, 20:44] = True
    cfg = DIS.replace(window={"length": 8, "overlap": 3, "lookahead": 0, "stretch": 0})
    calls = []

    def spy(clip, holes, *args, **kwargs):
        result = inpaint_video(clip, holes, *args, **kwargs)
        calls.append((kwargs.get("inherited"), result.unreached))
        return result

    monkeypatch.setattr("vidfill.windows.inpaint_video", spy)
    list(fill_in_windows(frames, masks, 12, cfg, build_models(cfg)))
    (first_inherited, first_unreached), (second_inherited, _) = calls  # 0-7, then 4-11
    assert first_inherited is None and first_unreached[4:].any()
    assert torch.equal(second_inherited[:4], first_unreached[4:8])
    assert not second_inherited[4:].any()
