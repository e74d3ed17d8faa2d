"""High bit depth and float plates: OpenEXR and TIFF sequences in and out, filled in float.

A deep source is filled as float16 frames (no 8-bit round trip); outside the hole the output is
the source itself, bit for bit, values above 1 included."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
import torch

from conftest import translating_clip, visible
from vidfill.cli.main import main
from vidfill.config import PipelineConfig
from vidfill import io
from vidfill.io.workdir import WorkDir
from vidfill.models.build import build_models
from vidfill.pipeline import inpaint_video
from vidfill.types import to_float

T, H, W = 8, 48, 64
DIS = ("--flow", "dis", "--edges", "none", "--refine", "0", "-q")


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def write_exr(file: Path, rgb: np.ndarray) -> None:
    """(H, W, 3|4) RGB(A) half or float, as a compositor writes it."""
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGBA"[:rgb.shape[-1]]: np.ascontiguousarray(rgb)}) as exr:
        exr.write(str(file))


def read_exr(file: Path) -> np.ndarray:
    """(H, W, C) RGB(A) as stored."""
    with OpenEXR.File(str(file), separate_channels=True) as exr:
        channels = {name: c.pixels for name, c in exr.channels().items()}
    return np.stack([channels[n] for n in "RGBA" if n in channels], axis=-1)


def hdr_clip() -> np.ndarray:
    """(T, H, W, 3) scene-linear half floats up to 4.0: a texture moving 3 px/frame, so every
    pixel of the hole is shown by another frame."""
    frames = translating_clip(num_frames=T, h=H, w=W, dx=3, dy=1).permute(0, 2, 3, 1).numpy()
    return ((frames / 255.0) ** 2.2 * 4).astype(np.float16)


@pytest.fixture
def exr_plate(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """``plate.1001.exr``... (half, linear, up to 4.0) and one static mask: folder, mask, frames,
    hole (H, W) bool."""
    frames = hdr_clip()
    folder = tmp_path / "plate"
    folder.mkdir()
    for t, frame in enumerate(frames):
        write_exr(folder / f"plate.{1001 + t}.exr", frame)
    hole = np.zeros((H, W), bool)
    hole[16:32, 20:40] = True
    cv2.imwrite(str(tmp_path / "m.png"), hole.astype(np.uint8) * 255)
    return folder, tmp_path / "m.png", frames, hole


def test_an_exr_plate_is_filled_in_float_and_keeps_values_above_1(exr_plate, tmp_path, capsys):
    folder, mask, frames, hole = exr_plate
    code, err = run(capsys, folder, mask, "-o", tmp_path / "clean", *DIS)
    assert code == 0, err
    names = sorted(p.name for p in visible(tmp_path / "clean"))
    assert names == [f"{1001 + t}.exr" for t in range(T)]  # the plate's format and numbers
    out = np.stack([read_exr(tmp_path / "clean" / n) for n in names])
    assert out.dtype == np.float16 and out.shape == frames.shape
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=4) > 0
    outside = ~grown
    assert frames[:, outside].max() > 1.5  # the plate has values above 1 there...
    assert np.array_equal(out[:, outside], frames[:, outside])  # ...kept bit for bit
    inside = out[:, hole].astype(np.float32)
    truth = frames[:, hole].astype(np.float32)
    assert np.isfinite(inside).all()
    assert inside.max() > 1.5  # propagated from real pixels, not clipped at 1
    # filled from the other frames: close to the truth in the encoded (perceptual) scale
    err = np.abs(np.abs(inside) ** (1 / 2.2) - truth ** (1 / 2.2)).mean()
    assert err < 0.03, err


def test_float_fill_matches_the_8_bit_fill_to_within_its_rounding():
    frames = translating_clip(num_frames=T, h=H, w=W, dx=3, dy=1)
    masks = torch.zeros(T, 1, H, W, dtype=torch.bool)
    masks[:, :, 16:32, 20:40] = True
    cfg = PipelineConfig().replace(flow={"method": "dis"}, edges={"method": "none"})
    models = build_models(cfg)
    eight = inpaint_video(frames, masks, cfg, models=models).frames
    deep = inpaint_video(to_float(frames).half(), masks, cfg, models=models).frames
    assert deep.dtype == torch.float16
    # the same fill, computed without rounding to 8 bits at each step
    assert float((to_float(eight) - deep.float()).abs().max()) < 3 / 255


def test_an_exr_fill_layer_over_the_plate_is_the_full_frame_output(exr_plate, tmp_path, capsys):
    folder, mask, frames, _ = exr_plate
    assert run(capsys, folder, mask, "-o", tmp_path / "clean", "--feather", 3, *DIS)[0] == 0
    code, err = run(capsys, folder, mask, "-o", tmp_path / "layers", "--fill-only", "--feather", 3,
                    *DIS)
    assert code == 0, err
    clean = np.stack([read_exr(f) for f in visible(tmp_path / "clean")])
    layers = np.stack([read_exr(f) for f in visible(tmp_path / "layers")])
    assert layers.dtype == np.float16 and layers.shape[-1] == 4
    alpha = layers[..., 3:].astype(np.float64)
    assert ((alpha > 0) & (alpha < 1)).any()  # a feathered edge
    over = layers[..., :3] + (1 - alpha) * frames  # premultiplied, as OpenEXR stores colour
    assert np.abs(over - clean).max() <= 1e-3 * np.maximum(1, np.abs(clean)).max()


def test_tiff_sequences_keep_their_depth_format_and_numbers(tmp_path, capsys):
    frames = translating_clip(num_frames=T, h=H, w=W, dx=3, dy=1).permute(0, 2, 3, 1).numpy()
    rng = np.random.default_rng(1)
    deep = frames.astype(np.uint16) * 257 + rng.integers(0, 257, frames.shape, dtype=np.uint16)
    bright = (frames / 255.0 * 3).astype(np.float32)  # a display-referred float plate up to 3
    hole = np.zeros((H, W), np.uint8)
    hole[16:32, 20:40] = 255
    cv2.imwrite(str(tmp_path / "m.png"), hole)
    for name, plate, dtype in [("p16", deep, np.uint16), ("p32", bright, np.float32)]:
        folder = tmp_path / name
        folder.mkdir()
        for t, image in enumerate(plate):
            assert cv2.imwrite(str(folder / f"shot_{100 + t:04d}.tif"), image[..., ::-1],
                               [cv2.IMWRITE_TIFF_COMPRESSION, 8])  # lossless in OpenCV 4.8 too
        out = tmp_path / f"{name}_clean"
        code, err = run(capsys, folder, tmp_path / "m.png", "-o", out, *DIS)
        assert code == 0, err
        files = visible(out)
        assert [f.name for f in files] == [f"{100 + t:04d}.tif" for t in range(T)]
        result = np.stack([cv2.imread(str(f), cv2.IMREAD_UNCHANGED)[..., ::-1] for f in files])
        assert result.dtype == dtype
        grown = cv2.dilate(hole, np.ones((3, 3), np.uint8), iterations=4) == 0
        assert np.array_equal(result[:, grown], plate[:, grown])
        assert not np.array_equal(result[:, hole > 0], plate[:, hole > 0])  # the hole was filled
    assert result[:, hole > 0].max() > 1.5  # the float plate's fill keeps values above 1


def test_an_exr_plate_to_a_video_and_a_broken_exr(exr_plate, tmp_path, capsys):
    folder, mask, _, _ = exr_plate
    code, err = run(capsys, folder, mask, "-o", tmp_path / "look.mp4", *DIS[:-1])  # not quiet
    assert code == 0, err
    assert "a video keeps 10 bits of the half-float source, encoded with a 1/2.2 power and " \
           "clipped to 0..1" in err  # said, not silent
    assert len(list(io.iter_frames(io.open_clip(tmp_path / "look.mp4")))) == T
    (folder / f"plate.{1001 + T}.exr").write_bytes(b"not an exr")
    code, err = run(capsys, folder, mask, "-o", tmp_path / "x", *DIS)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and f"plate.{1001 + T}.exr" in lines[0], err
    assert not (tmp_path / "x").exists()


def test_a_work_directory_keeps_float_frames_and_their_keyframe_fill_exactly(tmp_path):
    store = WorkDir(tmp_path / "work", {"run": 1}, protected=())
    images = torch.from_numpy(hdr_clip()[:3]).permute(0, 3, 1, 2).contiguous()
    keyfill = torch.rand(3, 1, *images.shape[-2:], generator=torch.Generator().manual_seed(0)) < 0.3
    keyfill[1] = False  # a frame with none: no file
    store.save(0, range(3), images, keyfill)
    loaded, loaded_keyfill = store.load(range(3))
    assert torch.equal(loaded, images) and torch.equal(loaded_keyfill, keyfill)
    store.remove()
    assert not (tmp_path / "work").exists()


def test_format_converts_between_display_and_scene_linear_sequences(exr_plate, tmp_path, capsys):
    folder, mask, frames, hole = exr_plate
    code, err = run(capsys, folder, mask, "-o", tmp_path / "tif", "--format", "tiff", *DIS)
    assert code == 0, err
    tif = np.stack([cv2.imread(str(f), cv2.IMREAD_UNCHANGED)[..., ::-1]
                    for f in visible(tmp_path / "tif")])
    assert tif.dtype == np.float32 and sorted(p.suffix for p in visible(tmp_path / "tif"))[0] == ".tif"
    outside = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=4) == 0
    # display-referred: the linear plate encoded with the 1/2.2 power, values above 1 kept
    encoded = frames[:, outside].astype(np.float32) ** (1 / io.GAMMA)
    assert np.abs(tif[:, outside] - encoded).max() < 1e-5 and tif.max() > 1.2

    layers = tmp_path / "layers"
    code, err = run(capsys, tmp_path / "tif", mask, "-o", layers, "--format", "exr", "--fill-only",
                    "--feather", 2, *DIS)
    assert code == 0, err
    rgba = np.stack([read_exr(f) for f in visible(layers)])
    alpha = rgba[..., 3]
    assert alpha.dtype == np.float32 and set(np.unique(alpha[:, hole])) == {1.0}  # as the plate
    assert ((alpha > 0) & (alpha < 1)).any()  # the feathered edge: alpha is not gamma-converted
    code, err = run(capsys, tmp_path / "tif", mask, "-o", tmp_path / "full", "--format", "exr",
                    "--feather", 2, *DIS)
    assert code == 0, err
    full = np.stack([read_exr(f) for f in visible(tmp_path / "full")])  # back to linear
    laid = rgba[..., :3] + (1 - alpha[..., None]) * frames  # premultiplied colour over the plate
    solid = (alpha == 0) | (alpha == 1)  # the feather band blends in the plate's own (display)
    assert np.abs(laid - full)[solid].max() < 4e-3 * max(1, np.abs(full).max())  # space
    assert np.abs(laid - full).max() < 0.05

    code, err = run(capsys, folder, mask, "-o", tmp_path / "v.mp4", "--format", "exr", *DIS)
    assert code == 2 and "--format is for an image-sequence output" in err


def test_the_library_fills_float16_frames_in_float():
    from vidfill import fill

    frames = torch.from_numpy(hdr_clip()).permute(0, 3, 1, 2).contiguous()  # up to 4.0
    masks = torch.zeros(T, 1, H, W, dtype=torch.bool)
    masks[:, :, 16:32, 20:40] = True
    cfg = PipelineConfig().replace(flow={"method": "dis"}, edges={"method": "none"})
    out = fill(frames, masks, cfg)
    assert out.dtype == torch.float16 and torch.equal(out[~masks.expand_as(out)],
                                                      frames[~masks.expand_as(frames)])
    assert float(out[masks.expand_as(out)].max()) > 1.5
    with pytest.raises(ValueError, match="uint8 \\(or float16 for a deep clip\\)"):
        fill(frames.float(), masks, cfg)


def test_keyframes_of_an_exr_plate_are_pngs_to_paint_and_the_note_names_them(tmp_path, capsys):
    still = translating_clip(num_frames=6, h=H, w=W, dx=0, dy=0).permute(0, 2, 3, 1).numpy()
    folder = tmp_path / "plate"
    folder.mkdir()
    for t, frame in enumerate(((still / 255.0) ** 2.2).astype(np.float16)):
        write_exr(folder / f"plate.{1001 + t}.exr", frame)
    hole = np.zeros((H, W), np.uint8)
    hole[16:32, 20:40] = 255
    cv2.imwrite(str(tmp_path / "m.png"), hole)
    code, err = run(capsys, "keyframes", folder, tmp_path / "m.png", "-o", tmp_path / "keys",
                    *DIS[:-1])
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "keys").iterdir())
    assert written == ["1001.mask.png", "1001.png"]
    assert f"--reference 1001={tmp_path / 'keys' / '1001.png'}" in err


def test_a_deep_run_with_a_preview_decodes_the_written_frames_once_more(exr_plate, tmp_path, capsys,
                                                                        monkeypatch):
    """Before any work the plate is read once for pixels that are not finite; the pipeline reads
    it once; the composite and the preview share one more read."""
    import av

    reads = []
    iter_frames = io.iter_frames  # the job reads every frame through vidfill.io
    monkeypatch.setattr(io, "iter_frames", lambda *a, **k: reads.append(k) or iter_frames(*a, **k))
    folder, mask, frames, hole = exr_plate
    out, preview = tmp_path / "clean", tmp_path / "look.mp4"
    code, err = run(capsys, folder, mask, "-o", out, "--preview", preview, *DIS)
    assert code == 0, err
    assert len(reads) == 3 and all(k.get("deep") for k in reads), reads
    written = read_exr(out / "1001.exr")
    np.testing.assert_array_equal(written[~hole], frames[0][~hole])  # the composite: the plate outside
    with av.open(str(preview)) as container:
        assert sum(1 for _ in container.decode(video=0)) == T


def test_a_float_tiff_fill_layer_is_premultiplied_and_lays_over_the_plate(exr_plate, tmp_path, capsys):
    folder, mask, frames, hole = exr_plate
    for name, extra in (("full", ()), ("layers", ("--fill-only",))):
        code, err = run(capsys, folder, mask, "-o", tmp_path / name, "--format", "tiff",
                        "--feather", 2, *extra, *DIS)
        assert code == 0, err
    def read(name: str) -> np.ndarray:
        images = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in visible(tmp_path / name)]
        return np.stack([im[..., [2, 1, 0, 3][:im.shape[-1]]] for im in images])

    full, rgba = read("full"), read("layers")
    assert rgba.dtype == np.float32 and rgba.shape[-1] == 4
    alpha = rgba[..., 3:]
    plate = frames.astype(np.float32) ** (1 / io.GAMMA)  # the plate as the TIFF holds it
    error = np.abs(rgba[..., :3] + (1 - alpha) * plate - full)
    solid = (alpha[..., 0] == 0) | (alpha[..., 0] == 1)  # the band blends in the plate's (linear)
    assert error[solid].max() < 1e-3 * max(1, full.max()) and error.max() < 0.05  # space
    assert np.abs(rgba[..., :3]).max() > 0 and (rgba[..., :3][alpha[..., 0] == 0] == 0).all()
