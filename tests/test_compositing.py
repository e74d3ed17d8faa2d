"""Outputs for a compositing pipeline: RGBA fill layers that reproduce the full-frame output
when laid over the plate, and a side-by-side preview written beside the output."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from conftest import deep_plate, write_pngs, visible
from vidfill.cli.demo import make_clip, write_clip
from vidfill.cli.main import main
from vidfill.io.layers import alpha_matte, composite, fill_layers
from vidfill.stages.holes import dilate_holes

T = 6
SIZE = (48, 64)
DIS = ("--flow", "dis", "--edges", "none", "--refine", "0", "-q", "--set", "mask.grow_objects=0")
"""Quick settings, and the masks exact: these tests lay layers over the plate by the given holes
(the ball of the demo scene is an object, whose masks would otherwise be grown)."""


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def read_folder(folder: Path) -> np.ndarray:
    """(T, H, W, C) RGB(A) as stored, in file order."""
    images = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in visible(folder)]
    return np.stack([im[..., [2, 1, 0, 3][:im.shape[2]]] for im in images])


def over(layer: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """Straight-alpha ``layer`` (..., 4) over ``plate`` (..., 3), as a compositor does it."""
    full = np.iinfo(layer.dtype).max
    alpha = layer[..., 3:].astype(np.float64) / full
    mixed = alpha * layer[..., :3] + (1 - alpha) * plate
    return np.round(mixed).astype(layer.dtype)


@pytest.fixture
def plate(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A PNG plate, its masks, its frames (T, H, W, 3) uint8 and masks (T, H, W) bool."""
    _, frames, masks = make_clip(T, size=SIZE, seed=5)
    return (write_pngs(tmp_path / "plate", frames, "plate.{}.png", 1001),
            write_pngs(tmp_path / "masks", masks, "m.{}.png", 1001), frames, masks)


def test_alpha_is_the_hole_or_a_linear_falloff_around_it():
    hole = torch.zeros(1, 20, 20, dtype=torch.bool)
    hole[0, 8:12, 8:12] = True
    assert np.array_equal(alpha_matte(hole, 0), hole[0].numpy().astype(np.float32))
    soft = alpha_matte(hole, 3)
    assert (soft[hole[0].numpy()] == 1).all()
    assert np.allclose(soft[10, 12:17], [0.75, 0.5, 0.25, 0, 0])  # 1..4 px from the hole
    assert (soft[0] == 0).all()


def test_layers_over_the_plate_are_the_composite_for_any_feather():
    rng = np.random.default_rng(0)
    plate = torch.from_numpy(rng.integers(0, 256, (2, 3, 16, 16), dtype=np.uint8))
    holes = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
    holes[:, :, 4:9, 5:11] = True
    for feather in (0, 2, 5):  # filled over the hole and the band the alpha ramps across
        band = dilate_holes(holes, feather)
        filled = torch.where(band, torch.from_numpy(rng.integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)),
                             plate)
        layers = torch.stack(list(fill_layers(filled, holes, feather)))
        assert layers.shape == (2, 4, 16, 16) and layers.dtype == torch.uint8
        laid = over(layers.permute(0, 2, 3, 1).numpy(), plate.permute(0, 2, 3, 1).numpy())
        full = torch.stack(list(composite(filled, plate, holes, feather)))
        assert np.abs(laid.astype(int) - full.permute(0, 2, 3, 1).numpy()).max() <= 1  # rounding
        assert np.array_equal(full[holes.expand(-1, 3, -1, -1)], filled[holes.expand(-1, 3, -1, -1)])
        if feather:  # the band blends the fill into the plate: neither one nor the other
            ring = band & ~holes
            assert not np.array_equal(full[ring.expand(-1, 3, -1, -1)], plate[ring.expand(-1, 3, -1, -1)])
        transparent = layers[:, 3] == 0
        assert not layers[:, :3].permute(1, 0, 2, 3)[:, transparent].any()  # nothing where alpha is 0


def test_fill_only_layers_over_the_plate_reproduce_the_full_frame_output(plate, tmp_path, capsys):
    folder, masks, frames, holes = plate
    code, err = run(capsys, folder, masks, "-o", tmp_path / "clean", *DIS)
    assert code == 0, err
    code, err = run(capsys, folder, masks, "-o", tmp_path / "layers", "--fill-only", *DIS)
    assert code == 0, err
    clean, layers = read_folder(tmp_path / "clean"), read_folder(tmp_path / "layers")
    assert layers.shape == (T, *SIZE, 4) and layers.dtype == np.uint8
    assert np.array_equal(layers[..., 3] > 0, holes)  # alpha is the hole, nothing else
    assert np.array_equal(over(layers, frames), clean)
    code, err = run(capsys, folder, masks, "-o", tmp_path / "soft", "--fill-only", "--feather", 4, *DIS)
    assert code == 0, err
    code, err = run(capsys, folder, masks, "-o", tmp_path / "softclean", "--feather", 4, *DIS)
    assert code == 0, err
    soft, softclean = read_folder(tmp_path / "soft"), read_folder(tmp_path / "softclean")
    assert (soft[..., 3] > 0).sum() > holes.sum()  # a feathered edge around the hole
    assert np.abs(over(soft, frames).astype(int) - softclean).max() <= 1  # rounding


def test_a_feather_softens_a_seam_at_the_holes_edge():
    """A fill 40 levels off the plate (a seam): the feather spreads the step over its band."""
    ramp = torch.arange(32, dtype=torch.uint8).expand(1, 3, 32, 32) * 4
    holes = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    holes[:, :, 10:22, 10:22] = True
    steps = []
    for feather in (0, 4):
        filled = torch.where(dilate_holes(holes, feather), ramp + 40, ramp)
        out = torch.stack(list(composite(filled, ramp, holes, feather))).permute(0, 2, 3, 1).numpy()
        steps.append(edge_step(out, holes[:, 0].numpy()))
    assert steps[0] == 40 and steps[1] < 10


def edge_step(frames: np.ndarray, holes: np.ndarray) -> float:
    """Mean absolute difference between each hole pixel on the hole's edge and its neighbours
    outside the hole (to the right and below): how hard the edge is."""
    steps = []
    for axis in (1, 2):
        here, there = np.s_[:, :-1] if axis == 1 else np.s_[:, :, :-1], \
            np.s_[:, 1:] if axis == 1 else np.s_[:, :, 1:]
        for inside, outside in ((here, there), (there, here)):
            pairs = holes[inside] & ~holes[outside]
            diff = np.abs(frames[inside].astype(float) - frames[outside].astype(float))
            steps.append(diff[pairs])
    return float(np.concatenate(steps).mean())


def test_fill_only_of_a_16_bit_plate_is_16_bit_and_exact(tmp_path, capsys):
    folder, mask, deep, _ = deep_plate(tmp_path, T, SIZE)
    assert run(capsys, folder, mask, "-o", tmp_path / "clean", "--feather", 2, *DIS)[0] == 0
    assert run(capsys, folder, mask, "-o", tmp_path / "layers", "--fill-only", "--feather", 2, *DIS)[0] == 0
    clean, layers = read_folder(tmp_path / "clean"), read_folder(tmp_path / "layers")
    assert layers.dtype == np.uint16 and layers.shape[-1] == 4  # PNG: straight alpha
    assert np.abs(over(layers, deep).astype(int) - clean).max() <= 1  # rounding


def test_preview_is_the_input_beside_the_result_and_the_hole_outlined(plate, tmp_path, capsys):
    folder, masks, frames, holes = plate
    out, preview = tmp_path / "clean", tmp_path / "look.mp4"
    code, err = run(capsys, folder, masks, "-o", out, "--preview", preview, *DIS)
    assert code == 0, err
    with av.open(str(preview)) as container:
        shown = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(shown) == T and shown[0].shape == (SIZE[0], 2 * SIZE[1], 3)
    left, right = shown[0][:, :SIZE[1]].astype(int), shown[0][:, SIZE[1]:].astype(int)
    result = read_folder(out)[0].astype(int)
    assert np.abs(right - result).mean() < 4  # the result (after lossy coding)
    edge = cv2.morphologyEx(holes[0].astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3))) > 0
    assert left[edge][:, 0].mean() > 200 and left[edge][:, 1:].mean() < 80  # red outline
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "look.mp4", "masks", "plate"]


def test_compositing_options_that_cannot_work_are_refused_before_any_work(plate, tmp_path, capsys):
    folder, masks, _, _ = plate
    for args, needle in [(("-o", tmp_path / "o.mp4", "--fill-only"), "image-sequence output"),
                         (("-o", tmp_path / "o", "--fill-only", "--feather", -1), "--feather"),
                         (("-o", tmp_path / "o", "--preview", tmp_path / "p"), "a preview is a video"),
                         (("-o", tmp_path / "o", "--preview", folder / "plate.1001.png"), "plate.1001.png")]:
        code, err = run(capsys, folder, masks, *args, *DIS)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and needle in lines[0], (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks", "plate"]


def test_a_failed_output_leaves_no_preview(plate, tmp_path, capsys, monkeypatch):
    from vidfill.io import outputs

    folder, masks, _, _ = plate

    def broken(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "write_image", broken)  # the sequence writer's
    code, err = run(capsys, folder, masks, "-o", tmp_path / "clean", "--preview", tmp_path / "p.mp4", *DIS)
    assert code == 2 and "No space left on device" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks", "plate"]


def test_a_sequence_keeps_its_frame_numbers_and_a_video_takes_a_start_number(plate, tmp_path, capsys):
    folder, masks, frames, _ = plate
    code, err = run(capsys, folder, masks, "-o", tmp_path / "clean", *DIS)
    assert code == 0, err
    assert sorted(p.name for p in visible(tmp_path / "clean")) == [f"{1001 + t}.png" for t in range(T)]
    code, err = run(capsys, folder, masks, "-o", tmp_path / "again", "--start-number", 7, *DIS)
    assert code == 0, err
    assert sorted(p.name for p in visible(tmp_path / "again"))[:2] == ["0007.png", "0008.png"]
    video = tmp_path / "clip.mp4"
    write_clip(video, frames)
    code, err = run(capsys, video, masks, "-o", tmp_path / "fromvideo", "--start-number", 1001, *DIS)
    assert code == 0, err
    assert sorted(p.name for p in visible(tmp_path / "fromvideo"))[0] == "1001.png"
    # an earlier output with four-digit numbers is replaced whole on the next run
    code, err = run(capsys, folder, masks, "-o", tmp_path / "clean", "--start-number", 1, *DIS)
    assert code == 0, err
    assert sorted(p.name for p in visible(tmp_path / "clean"))[0] == "0001.png"
    assert len(visible(tmp_path / "clean")) == T


def test_a_frame_range_with_handles_writes_only_the_range(plate, tmp_path, capsys):
    folder, masks, frames, holes = plate
    out = tmp_path / "shot"
    code, err = run(capsys, folder, masks, "-o", out, "--frames", "1002:1004", "--handles", 1,
                    "--flow", "dis", "--edges", "none", "--refine", "0", "--set", "mask.grow_objects=0")
    assert code == 0, err
    # the handles are rounded out to the full run's windows (tests/test_ranges.py): six frames
    # are one window, read whole, and the line says so
    assert "frames 1002 to 1004 (3 of 6), with 1 before and 2 after as context" in err, err
    assert sorted(p.name for p in visible(out)) == ["1002.png", "1003.png", "1004.png"]
    written = read_folder(out)
    assert np.array_equal(written[~holes[1:4]], frames[1:4][~holes[1:4]])  # the right frames
    assert not np.array_equal(written[holes[1:4]], frames[1:4][holes[1:4]])  # filled


def test_a_video_range_keeps_its_timing(plate, tmp_path, capsys):
    _, masks, frames, holes = plate
    video = tmp_path / "clip.mp4"
    write_clip(video, frames)
    out = tmp_path / "part.mkv"
    code, err = run(capsys, video, masks, "-o", out, "--frames", "2:4", "--codec", "ffv1", *DIS)
    assert code == 0, err
    with av.open(str(video)) as source, av.open(str(out)) as result:
        src = [f for f in source.decode(video=0)]
        got = [f for f in result.decode(video=0)]
    assert len(got) == 3
    assert [float(f.time) for f in got] == pytest.approx([float(f.time) for f in src[2:5]], abs=2e-3)
    decoded = np.stack([f.to_ndarray(format="rgb24") for f in src[2:5]])
    result = np.stack([f.to_ndarray(format="rgb24") for f in got])
    assert np.array_equal(result[~holes[2:5]], decoded[~holes[2:5]])


def test_frame_ranges_that_cannot_work_are_refused(plate, tmp_path, capsys):
    folder, masks, _, _ = plate
    for args, needle in [(("--frames", "900:1002"), "has no frame 900 (its frame numbers are 1001..1006)"),
                         (("--frames", "1004:1002"), "FIRST <= LAST"),
                         (("--handles", 2), "need --frames"),
                         (("--frames", "1001:1002", "--reference", f"1006={folder / 'plate.1006.png'}"),
                          "frame(s) 1006 are outside the frames read (1001..1002)"),
                         (("--reference", f"5={folder / 'plate.1006.png'}"),
                          "has no frame 5 (its frame numbers are 1001..1006)")]:
        code, err = run(capsys, folder, masks, "-o", tmp_path / "o", *args, *DIS)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and needle in lines[0], (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks", "plate"]


def test_masks_with_gaps_in_their_numbers_leave_those_frames_untouched(plate, tmp_path, capsys):
    folder, masks, frames, holes = plate
    for number in (1002, 1005):
        (masks / f"m.{number}.png").unlink()
    out = tmp_path / "clean"
    code, err = run(capsys, folder, masks, "-o", out, "--flow", "dis", "--edges", "none", "--refine", "0")
    assert code == 0, err
    assert "2 of 6 frames have no mask file (matched by frame number): no hole in them" in err, err
    written = read_folder(out)
    for t in (1, 4):  # 1002 and 1005: no mask, the frame as it was
        assert np.array_equal(written[t], frames[t])
    assert not np.array_equal(written[2][holes[2]], frames[2][holes[2]])  # 1003 was filled
    # masks that are not numbered like the frames still go with them in order, one each
    (masks / "m.1001.png").rename(masks / "m.7.png")
    code, err = run(capsys, folder, masks, "-o", tmp_path / "o", *DIS)
    assert code == 2 and "4 masks for 6 frames" in err, err


def test_keyframes_round_trip_paint_and_propagate(tmp_path, capsys):
    """A still camera behind a still hole: vidfill keyframes writes the frame it must invent and
    the region no frame shows; the frame painted there and given back is carried to every frame."""
    from conftest import translating_clip

    frames = translating_clip(num_frames=T, h=SIZE[0], w=SIZE[1], dx=0, dy=0)
    folder, mask = tmp_path / "plate", tmp_path / "m.png"
    folder.mkdir()
    for t, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"plate.{1001 + t}.png"), frame.permute(1, 2, 0).numpy()[..., ::-1])
    hole = np.zeros(SIZE, np.uint8)
    hole[14:30, 20:40] = 255
    cv2.imwrite(str(mask), hole)
    keys = tmp_path / "keys"
    code, err = run(capsys, "keyframes", folder, mask, "-o", keys, "--flow", "dis", "--edges", "none",
                    "--refine", "0")
    assert code == 0, err
    names = sorted(p.name for p in keys.iterdir())
    assert len(names) == 2 and names[0].endswith(".mask.png"), names
    number = int(names[1].removesuffix(".png"))
    assert 1001 <= number <= 1000 + T and f"--reference {number}=" in err, err
    unseen = cv2.imread(str(keys / names[0]), cv2.IMREAD_GRAYSCALE) > 0
    assert np.array_equal(unseen, hole > 0)  # a still camera shows none of it
    painted = cv2.imread(str(keys / names[1]))
    painted[unseen] = (40, 200, 90)  # the artist paints the region (BGR)
    cv2.imwrite(str(keys / names[1]), painted)
    out = tmp_path / "clean"
    code, err = run(capsys, folder, mask, "-o", out, "--reference", f"{number}={keys / names[1]}", *DIS)
    assert code == 0, err
    result = read_folder(out)
    assert (np.abs(result[:, hole > 0].astype(int) - [90, 200, 40]) <= 1).all()  # in every frame (RGB)
    code, err = run(capsys, "keyframes", folder, mask, "-o", keys, *DIS)
    assert code == 2 and "not an empty folder" in err, err


def test_a_proxy_runs_everything_at_a_fraction_of_the_size(plate, tmp_path, capsys):
    folder, masks, frames, holes = plate
    out, look = tmp_path / "proxy", tmp_path / "look.mp4"
    code, err = run(capsys, folder, masks, "-o", out, "--proxy", 0.5, "--preview", look,
                    "--flow", "dis", "--edges", "none", "--refine", "0", "--set", "mask.grow_objects=0")
    assert code == 0, err
    assert f"proxy: the whole run at {SIZE[1] // 2}x{SIZE[0] // 2} (0.5 of the frame size)" in err
    small = read_folder(out)
    assert small.shape == (T, SIZE[0] // 2, SIZE[1] // 2, 3)
    reduced = torch.nn.functional.interpolate(torch.from_numpy(frames).permute(0, 3, 1, 2).float(),
                                              size=small.shape[1:3], mode="area")
    reduced = reduced.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    hole = torch.nn.functional.interpolate(torch.from_numpy(holes)[:, None].float(),
                                           size=small.shape[1:3], mode="area")[:, 0].numpy() > 0
    assert np.array_equal(small[~hole], reduced[~hole])  # the plate, reduced, outside the hole
    with av.open(str(look)) as container:
        assert next(container.decode(video=0)).width == SIZE[1]  # two halves of the reduced size
    code, err = run(capsys, folder, masks, "-o", tmp_path / "o", "--proxy", 1.5, *DIS)
    assert code == 2 and "--proxy must be a fraction" in err, err


@pytest.mark.shared
def test_a_proxy_decides_where_the_camera_holds_still_as_the_full_run_does(shared):
    """Flow at half size is half as long: with its limits in pixels scaled (PipelineConfig.at_scale)
    a proxy finds the still runs the full-size run finds (unscaled, blackswan's slow pan counted as
    13 still frames where the full run finds none)."""
    from vidfill import load_preset
    from vidfill.stages.detail import still_runs
    from vidfill.stages.flow import estimate_flow

    cfg = load_preset("default").replace(flow={"method": "dis"})
    for name in ("davis480p_blackswan", "davis480p_tennis", "davis480p_breakdance"):
        files = sorted((shared / "data" / "clips" / name / "frames").iterdir())[:16]
        frames = torch.stack([torch.from_numpy(np.ascontiguousarray(cv2.resize(
            cv2.imread(str(f)), (432, 240), interpolation=cv2.INTER_AREA)[..., ::-1])).permute(2, 0, 1)
            for f in files])
        runs = []
        for scale, c in ((1.0, cfg), (0.5, cfg.at_scale(0.5))):
            small = frames if scale == 1 else torch.nn.functional.interpolate(
                frames.float(), scale_factor=scale, mode="area").round().to(torch.uint8)
            flow = estimate_flow(small, c.flow)
            no_hole = torch.zeros(len(frames), 1, *flow.fwd.shape[-2:], dtype=torch.bool)
            runs.append([(r.start, r.stop) for r in still_runs(flow.fwd, no_hole, small.shape[-1],
                                                               c.leftover.still_px)])
        assert runs[0] == runs[1], (name, runs)


def test_a_proxy_keeps_the_plates_sample_type_and_scales_lengths(tmp_path, capsys):
    from test_float import hdr_clip, read_exr, write_exr
    from vidfill import load_preset

    folder = tmp_path / "plate"
    folder.mkdir()
    for t, frame in enumerate(hdr_clip()):
        write_exr(folder / f"plate.{1001 + t}.exr", frame)
    hole = np.zeros(hdr_clip().shape[1:3], np.uint8)
    hole[16:32, 20:40] = 255
    cv2.imwrite(str(tmp_path / "m.png"), hole)
    code, err = run(capsys, folder, tmp_path / "m.png", "-o", tmp_path / "proxy", "--proxy", 0.5, *DIS)
    assert code == 0, err
    assert {read_exr(f).dtype for f in visible(tmp_path / "proxy")} == {np.dtype(np.float16)}  # as the plate
    half = load_preset("object").at_scale(0.5)
    assert (half.mask.dilate, half.flow.max_side, half.leftover.still_px) == (3, 256, 1.0)


def test_a_run_decodes_each_mask_once(plate, tmp_path, capsys, monkeypatch):
    """The checks before the work, the fill, the feathered composite and the preview all take
    the masks decoded once (the mask files are read once each)."""
    from vidfill.io import masks as mask_io

    reads = []
    read_stored = mask_io.read_stored
    monkeypatch.setattr(mask_io, "read_stored", lambda f, **k: reads.append(f) or read_stored(f, **k))
    folder, masks, _, _ = plate
    code, err = run(capsys, folder, masks, "-o", tmp_path / "clean", "--feather", "2",
                    "--preview", tmp_path / "look.mp4", *DIS)
    assert code == 0, err
    assert sorted(reads) == sorted(masks.iterdir()), reads
