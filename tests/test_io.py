"""vidfill.io: frames, masks and outputs on tiny synthetic files (and the real clips when present)."""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from vidfill import io
from vidfill.io import safety
from vidfill.errors import VidfillError

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIPS = SHARED / "data" / "clips"

T, H, W = 8, 48, 64
SAMPLE_RATE = 44100


def _pattern(count: int = T, height: int = H, width: int = W) -> np.ndarray:
    """``(count, height, width, 3)`` uint8: smooth waves that move, plus mild noise."""
    y, x = np.mgrid[:height, :width]
    rng = np.random.default_rng(0)
    frames = [np.stack([np.sin(x / 6 + i / 3), np.cos(y / 5 + i / 4), np.sin((x + y) / 9)], -1)
              * 100 + 124 + rng.integers(0, 8, (height, width, 1)) for i in range(count)]
    return np.asarray(frames).astype(np.uint8)


def _tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()


def _assert_close(got: torch.Tensor, want: torch.Tensor, tolerance: float = 8.0) -> None:
    """Lossy ``got`` is ``want``: every frame is nearest its own source frame and close to it."""
    assert got.shape == want.shape
    error = (got.float()[:, None] - want.float()[None]).abs().mean(dim=(2, 3, 4))  # (T, T)
    assert torch.equal(error.argmin(1), torch.arange(len(want)))
    assert float(error.diagonal().max()) < tolerance


def _make_video(path: Path, frames: np.ndarray, *, rate: int = 24,
                time_base: Fraction = Fraction(1, 12288), pts: list[int] | None = None,
                audio: str | None = "aac") -> None:
    """An H.264 video of ``frames`` (T, H, W, 3) with the given timing and a sine as audio."""
    pts = pts or [i * int(1 / (time_base * rate)) for i in range(len(frames))]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate, options={"crf": "12"})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        video.codec_context.time_base = video.time_base = time_base
        sound = container.add_stream(audio, rate=SAMPLE_RATE, layout="mono") if audio else None
        for image, t in zip(frames, pts):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, time_base
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound:
            samples = int((pts[-1] * time_base + Fraction(1, rate)) * SAMPLE_RATE)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / SAMPLE_RATE)).astype(np.float32)
            for start in range(0, samples, 1024):
                piece = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp",
                                                   layout="mono")
                piece.sample_rate, piece.pts = SAMPLE_RATE, start
                container.mux(sound.encode(piece))
            container.mux(sound.encode())


def _streams(path: Path) -> list[tuple[str, str, int]]:
    """(type, codec, number of packets) of every stream in ``path``."""
    with av.open(str(path)) as container:
        kinds = [(s.type, s.codec.canonical_name) for s in container.streams]
        counts = [0] * len(kinds)
        for packet in container.demux():
            counts[packet.stream.index] += packet.size > 0
    return [(*kind, count) for kind, count in zip(kinds, counts)]


def _audio_duration(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum((p.duration * p.time_base for p in container.demux(stream) if p.size), Fraction(0))


def _write_images(folder: Path, images: list[np.ndarray], names: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    for image, name in zip(images, names):
        assert cv2.imwrite(str(folder / name), image)


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name]


@pytest.fixture
def clip(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """An mp4 (H.264 + AAC) of the pattern with irregular timestamps, and its frames."""
    frames = _pattern()
    path = tmp_path / "clip.mp4"
    _make_video(path, frames, pts=[0, 512, 1536, 2048, 2560, 4096, 4608, 5120])
    return path, frames


# --- numeric order and frame folders ---------------------------------------------------------------

def test_numeric_sorted_orders_by_last_number() -> None:
    names = ["f10.png", "f2.png", "take3_f1.png", "f0.png"]
    assert [p.name for p in io.numeric_sorted(Path("d") / n for n in names)] == \
        ["f0.png", "take3_f1.png", "f2.png", "f10.png"]


def test_numeric_sorted_rejects_unnumbered_and_duplicate_names() -> None:
    with pytest.raises(VidfillError, match=r"^frames: .*cover\.png has no number"):
        io.numeric_sorted([Path("frames/f1.png"), Path("frames/cover.png")])
    with pytest.raises(VidfillError, match=r"^frames: f01\.png and f1\.png both have frame number 1"):
        io.numeric_sorted([Path("frames/f1.png"), Path("frames/f01.png")])


def test_frame_folder_numeric_order(tmp_path: Path) -> None:
    frames = _pattern(3)
    _write_images(tmp_path / "in", [f[..., ::-1] for f in frames], ["f1.png", "f2.png", "f10.png"])
    (tmp_path / "in" / "notes.txt").write_text("ignored")
    got, info = io.read_frames(tmp_path / "in", fps=Fraction(30000, 1001))
    assert got.dtype == torch.uint8 and got.shape == (3, 3, H, W) and got.is_contiguous()
    assert torch.equal(got, _tensor(frames))
    assert info == io.VideoInfo(source=tmp_path / "in", fps=Fraction(30000, 1001), time_base=None,
                                pts=None, has_audio=False, numbers=(1, 2, 10), padding=1)
    assert io.frame_names(info, 3) == ["0001.png", "0002.png", "0010.png"]  # numbers kept


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, 2) if image.ndim == 2 else image[..., 2::-1]


@pytest.mark.parametrize("name, make, expected", [
    ("png8", lambda im: im, lambda im: _rgb(im)),
    ("png16", lambda im: (im.astype(np.uint16) << 8) + 255, lambda im: _rgb(im)),
    ("gray", lambda im: im[..., 1], lambda im: _rgb(im[..., 1])),
    ("gray16", lambda im: im[..., 1].astype(np.uint16) << 8, lambda im: _rgb(im[..., 1])),
    ("rgba", lambda im: np.dstack([im, np.full(im.shape[:2], 7, np.uint8)]), lambda im: _rgb(im)),
    ("tif16", lambda im: im.astype(np.uint16) << 8, lambda im: _rgb(im)),
    ("bmp", lambda im: im, lambda im: _rgb(im)),
])
def test_frame_folder_formats(tmp_path: Path, name: str, make, expected) -> None:
    ext = {"tif16": ".tif", "bmp": ".bmp"}.get(name, ".png")
    images = list(_pattern(2)[..., ::-1])  # BGR, as OpenCV writes
    _write_images(tmp_path / name, [make(im) for im in images], [f"{i:04d}{ext}" for i in range(2)])
    got, _ = io.read_frames(tmp_path / name)
    assert got.shape == (2, 3, H, W) and got.dtype == torch.uint8
    assert torch.equal(got, _tensor(np.stack([expected(im) for im in images])))


def test_frame_folder_jpeg_is_close(tmp_path: Path) -> None:
    frames = _pattern(2)
    _write_images(tmp_path / "jpg", [f[..., ::-1] for f in frames], ["a0.jpg", "a1.jpeg"])
    got, _ = io.read_frames(tmp_path / "jpg")
    _assert_close(got, _tensor(frames))


def test_frame_folder_size_mismatch_names_the_file(tmp_path: Path) -> None:
    frames = _pattern(3)
    _write_images(tmp_path / "in", [frames[0], frames[1], frames[2][:40]], ["0.png", "1.png", "2.png"])
    with pytest.raises(VidfillError, match=r"2\.png: 64x40, but 0\.png is 64x48"):
        io.read_frames(tmp_path / "in")


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VidfillError, match="no images"):
        io.read_frames(tmp_path)


# --- video in, video out -----------------------------------------------------------------------

def test_read_video(clip: tuple[Path, np.ndarray]) -> None:
    path, frames = clip
    got, info = io.read_frames(path)
    assert got.shape == (T, 3, H, W) and got.dtype == torch.uint8 and got.is_contiguous()
    _assert_close(got, _tensor(frames))
    assert info.source == path and info.has_audio
    assert info.time_base == Fraction(1, 12288)
    assert info.pts == (0, 512, 1536, 2048, 2560, 4096, 4608, 5120)


def test_mp4_round_trip_keeps_timing_and_audio(clip: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = clip
    frames, info = io.read_frames(path)
    out = tmp_path / "out" / "clean.mp4"
    ticks = []
    io.write_output(out, frames, info, progress=ticks.append)
    assert ticks == [1] * T
    again, info2 = io.read_frames(out)
    assert again.shape == frames.shape
    _assert_close(again, frames)
    assert (info2.time_base, info2.pts) == (info.time_base, info.pts)
    assert _streams(out) == _streams(path)  # same codecs, same packet counts
    assert _audio_duration(out) == _audio_duration(path)
    assert _leftovers(out.parent) == []


def test_constant_rate_keeps_fps(tmp_path: Path) -> None:
    source = tmp_path / "cfr.mp4"
    _make_video(source, _pattern(), rate=30, time_base=Fraction(1, 15360), audio=None)
    frames, info = io.read_frames(source)
    io.write_output(tmp_path / "out.mov", frames, info)
    _, again = io.read_frames(tmp_path / "out.mov")
    assert (again.fps, again.time_base, again.has_audio) == (Fraction(30), Fraction(1, 15360), False)
    assert again.pts == tuple(range(0, 512 * T, 512))


@pytest.mark.parametrize("suffix, codec", [(".mkv", "h264"), (".avi", "mjpeg"), (".m4v", "h264")])
def test_other_containers_keep_frames_and_audio(clip: tuple[Path, np.ndarray], tmp_path: Path,
                                                suffix: str, codec: str) -> None:
    path, _ = clip
    frames, info = io.read_frames(path)
    out = tmp_path / f"clean{suffix}"
    io.write_output(out, frames, info)
    again, _ = io.read_frames(out)
    assert again.shape == frames.shape
    _assert_close(again, frames)
    assert _streams(out) == [("video", codec, T), ("audio", "aac", _streams(path)[1][2])]


def test_mp3_audio_is_copied(tmp_path: Path) -> None:
    source = tmp_path / "mp3.mp4"
    _make_video(source, _pattern(), audio="libmp3lame")
    frames, info = io.read_frames(source)
    io.write_output(tmp_path / "out.mkv", frames, info)
    assert _streams(tmp_path / "out.mkv") == [("video", "h264", T), _streams(source)[1]]
    assert _streams(source)[1][:2] == ("audio", "mp3")


def test_webm_default_is_vp9_and_takes_opus(tmp_path: Path) -> None:
    source = tmp_path / "src.mkv"
    with av.open(str(source), "w") as container:  # a frame-less source is enough for the audio
        container.add_stream("libopus", rate=48000, layout="mono")
        stream = container.streams.audio[0]
        tone = np.zeros((1, 960 * 5), np.float32)
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    info = io.VideoInfo(source=source, fps=Fraction(25), time_base=None, pts=None, has_audio=True)
    io.write_output(tmp_path / "out.webm", _tensor(_pattern()), info)
    assert [s[:2] for s in _streams(tmp_path / "out.webm")] == [("video", "vp9"), ("audio", "opus")]


@pytest.mark.parametrize("suffix, codec, crf", [(".mkv", "ffv1", 17), (".avi", "ffv1", 17),
                                                (".mp4", "libx264rgb", 0)])
def test_lossless_codecs_are_bit_exact(tmp_path: Path, suffix: str, codec: str, crf: int) -> None:
    frames = _tensor(_pattern())
    info = io.VideoInfo(source=tmp_path, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
    io.write_output(tmp_path / f"out{suffix}", frames, info, codec=codec, crf=crf)
    again, again_info = io.read_frames(tmp_path / f"out{suffix}")
    assert torch.equal(again, frames)
    assert again_info.fps == 25


def test_odd_size_video(tmp_path: Path) -> None:
    frames = _tensor(_pattern(4, 47, 63))
    info = io.VideoInfo(source=tmp_path, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
    io.write_output(tmp_path / "odd.mp4", frames, info)
    again, _ = io.read_frames(tmp_path / "odd.mp4")
    assert again.shape == (4, 3, 47, 63)
    _assert_close(again, frames)


def test_audio_the_container_cannot_hold(clip: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = clip
    frames, info = io.read_frames(path)
    out = tmp_path / "clean.webm"
    with pytest.raises(VidfillError, match=r"clean\.webm: a \.webm file cannot hold the aac audio"):
        io.write_output(out, frames, info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_codec_errors(tmp_path: Path) -> None:
    frames = _tensor(_pattern(2))
    info = io.VideoInfo(source=tmp_path, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
    with pytest.raises(VidfillError, match="no encoder named 'nonesuch'"):
        io.write_output(tmp_path / "a.mp4", frames, info, codec="nonesuch")
    with pytest.raises(VidfillError, match="aac is not a video encoder"):
        io.write_output(tmp_path / "a.mp4", frames, info, codec="aac")
    with pytest.raises(VidfillError, match=r"a \.webm file cannot hold libx264 video"):
        io.write_output(tmp_path / "a.webm", frames, info, codec="libx264")
    assert list(tmp_path.iterdir()) == []


# --- PNG sequences out -------------------------------------------------------------------------

def test_png_output_is_exact(tmp_path: Path) -> None:
    frames = _tensor(_pattern())
    info = io.VideoInfo(source=tmp_path / "x.mp4", fps=Fraction(25), time_base=None, pts=None,
                        has_audio=False)
    ticks = []
    io.write_output(tmp_path / "out", frames, info, progress=ticks.append)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        [safety.MANIFEST] + [f"{i:04d}.png" for i in range(T)]
    assert ticks == [1] * T
    again, _ = io.read_frames(tmp_path / "out")
    assert torch.equal(again, frames)
    assert _leftovers(tmp_path) == []


def test_png_output_into_a_folder_with_other_files_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out.d"
    out.mkdir()
    (out / "readme.txt").write_text("kept")
    (out / "shot_0007.png").write_bytes(b"an older frame")
    frames = _tensor(_pattern(3))
    info = io.VideoInfo(source=tmp_path, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
    with pytest.raises(VidfillError, match="readme.txt.*--overwrite"):
        io.write_output(out, frames, info)
    assert sorted(p.name for p in out.iterdir()) == ["readme.txt", "shot_0007.png"]
    io.write_output(out, frames, info, overwrite=True)  # replaces only what it writes
    assert sorted(p.name for p in out.iterdir()) == [safety.MANIFEST, "0000.png", "0001.png",
                                                     "0002.png", "readme.txt", "shot_0007.png"]
    assert (out / "shot_0007.png").read_bytes() == b"an older frame"
    assert torch.equal(torch.stack([io.read_image(out / f"{i:04d}.png") for i in range(3)]), frames)
    assert _leftovers(tmp_path) == []


# --- masks -------------------------------------------------------------------------------------

def _blob(height: int = H, width: int = W, value: int = 255, channels: int = 3) -> np.ndarray:
    image = np.zeros((height, width, channels), np.uint8)
    image[height // 4:height // 2, width // 4:width // 2] = value
    return image


def _blob_mask(height: int = H, width: int = W) -> torch.Tensor:
    return torch.from_numpy(_blob(height, width, 1, 1)[..., 0].astype(bool))


def test_mask_folder_with_0_128_three_channel_pngs(tmp_path: Path) -> None:
    images = [np.roll(_blob(value=128), i, axis=1) for i in range(T)]
    _write_images(tmp_path / "m", images, [f"m{i}.png" for i in range(T)])
    masks, notes = io.read_masks(tmp_path / "m", T, (H, W))
    assert masks.dtype == torch.bool and masks.shape == (T, 1, H, W) and notes == []
    for i in range(T):
        assert torch.equal(masks[i, 0], torch.roll(_blob_mask(), i, 1))


def test_single_mask_image_is_broadcast(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "logo.png"), _blob(channels=1))
    masks, notes = io.read_masks(tmp_path / "logo.png", T, (H, W))
    assert masks.shape == (T, 1, H, W) and notes == []
    assert all(torch.equal(m[0], _blob_mask()) for m in masks)


def test_mask_video(tmp_path: Path) -> None:
    frames = np.stack([np.roll(_blob(), 3 * i, axis=0) for i in range(T)])
    _make_video(tmp_path / "mask.mp4", frames, audio=None)
    masks, _ = io.read_masks(tmp_path / "mask.mp4", T, (H, W))
    expected = torch.stack([torch.roll(_blob_mask(), 3 * i, 0) for i in range(T)])[:, None]
    assert masks.shape == (T, 1, H, W)
    assert (masks != expected).float().mean() < 0.01  # H.264 smears the edges a little
    with pytest.raises(VidfillError, match=r"mask\.mp4: 8 masks for 9 frames"):
        io.read_masks(tmp_path / "mask.mp4", T + 1, (H, W))


def test_palette_png_mask(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    indices = _blob(value=1, channels=1)[..., 0]
    picture = image.fromarray(indices, mode="P")
    picture.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    picture.save(tmp_path / "mask.png")
    masks, _ = io.read_masks(tmp_path / "mask.png", 2, (H, W))
    assert torch.equal(masks[1, 0], _blob_mask())


def test_mask_threshold_and_sample_types(tmp_path: Path) -> None:
    faint = _blob(value=20)  # below 10 % of 255: JPEG-like noise, not a hole
    faint[:4, :4] = 255
    cv2.imwrite(str(tmp_path / "faint.png"), faint)
    masks, _ = io.read_masks(tmp_path / "faint.png", 1, (H, W))
    assert int(masks.sum()) == 16

    deep = _blob(channels=1).astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    assert torch.equal(io.read_masks(tmp_path / "deep.png", 1, (H, W))[0][0, 0], _blob_mask())

    real = (_blob(channels=1) / 255).astype(np.float32)
    cv2.imwrite(str(tmp_path / "real.tif"), real)
    assert torch.equal(io.read_masks(tmp_path / "real.tif", 1, (H, W))[0][0, 0], _blob_mask())


def test_transparent_pixels_are_not_holes(tmp_path: Path) -> None:
    bgra = np.full((H, W, 4), 255, np.uint8)  # white everywhere, opaque only on the blob
    bgra[..., 3] = _blob(channels=1)[..., 0]
    cv2.imwrite(str(tmp_path / "logo.png"), bgra)
    assert torch.equal(io.read_masks(tmp_path / "logo.png", 1, (H, W))[0][0, 0], _blob_mask())


def test_masks_of_another_size_are_resized_with_one_note(tmp_path: Path) -> None:
    images = [_blob(2 * H, 2 * W)] * (T - 1) + [_blob(H // 2, W // 2)]
    _write_images(tmp_path / "m", images, [f"{i:03d}.png" for i in range(T)])
    masks, notes = io.read_masks(tmp_path / "m", T, (H, W))
    assert notes == [f"{tmp_path / 'm'}: 128x96 mask resized (nearest) to 64x48",
                     f"{tmp_path / 'm'}: 32x24 mask resized (nearest) to 64x48"]
    assert all(torch.equal(m[0], _blob_mask()) for m in masks)


def test_mask_count_mismatch_names_folder_and_counts(tmp_path: Path) -> None:
    _write_images(tmp_path / "m", [_blob()] * 3, ["1.png", "2.png", "3.png"])
    with pytest.raises(VidfillError, match="^" + re.escape(f"{tmp_path / 'm'}: 3 masks for 8 frames")):
        io.read_masks(tmp_path / "m", T, (H, W))


# --- errors ------------------------------------------------------------------------------------

def test_missing_inputs(tmp_path: Path) -> None:
    with pytest.raises(VidfillError, match=r"nope\.mp4: no such file or folder"):
        io.read_frames(tmp_path / "nope.mp4")
    with pytest.raises(VidfillError, match=r"masks: no such file or folder"):
        io.read_masks(tmp_path / "masks", T, (H, W))


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "00012.png").write_bytes(b"not a png at all" * 10)
    with pytest.raises(VidfillError, match=r"^.*in/00012\.png: cannot read image$"):
        io.read_frames(tmp_path / "in")
    with pytest.raises(VidfillError, match=r"00012\.png: cannot read image"):
        io.read_masks(tmp_path / "in", 1, (H, W))
    (tmp_path / "garbage.mp4").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(VidfillError, match=r"garbage\.mp4: cannot open as a video"):
        io.read_frames(tmp_path / "garbage.mp4")


def test_check_apart(tmp_path: Path) -> None:
    (tmp_path / "frames").mkdir()
    video = tmp_path / "in.mp4"
    video.write_bytes(b"x")
    (tmp_path / "hard.mp4").hardlink_to(video)
    inputs = [("the input", video), ("the masks", tmp_path / "masks"), ("--reference 3", tmp_path / "frames" / "p.png")]
    for output, relation in ((tmp_path / "x" / ".." / "in.mp4", "is the input"),
                             (tmp_path / "hard.mp4", "is the input"),  # a second name of it
                             (tmp_path / "masks" / "out", "lies inside the masks"),
                             (tmp_path / "frames", "holds --reference 3"),
                             (tmp_path, "holds the input")):
        with pytest.raises(VidfillError, match=f"the output of this run {relation}"):
            safety.check_apart(inputs, [("the output", output)])
    safety.check_apart(inputs, [("the output", tmp_path / "out.mp4")])


def test_unwritable_output(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    frames = _tensor(_pattern(2))
    info = io.VideoInfo(source=tmp_path, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
    for out in (tmp_path / "file" / "out.mp4", tmp_path / "file" / "sub" / "frames"):
        with pytest.raises(VidfillError, match="^" + re.escape(f"{out}: cannot create the folder")):
            io.write_output(out, frames, info)
    with pytest.raises(VidfillError, match=r"out\.gif: unknown output type"):
        io.write_output(tmp_path / "out.gif", frames, info)


@pytest.mark.parametrize("name", ["clean.mp4", "clean.mkv", "frames"])
def test_failed_write_leaves_nothing_behind(clip: tuple[Path, np.ndarray], tmp_path: Path,
                                            name: str) -> None:
    path, _ = clip
    frames, info = io.read_frames(path)
    out = tmp_path / name

    def interrupt(_count: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.write_output(out, frames, info, progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
    with pytest.raises(ValueError, match="uint8"):
        io.write_output(out, frames.float(), info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_failed_write_keeps_the_previous_output(clip: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = clip
    frames, info = io.read_frames(path)
    out = tmp_path / "clean.mp4"
    io.write_output(out, frames[:2], info)  # an earlier run's result, which a rerun may replace
    previous = out.read_bytes()
    calls = []

    def fail_late(count: int) -> None:
        calls.append(count)
        if len(calls) == T - 1:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        io.write_output(out, frames, info, progress=fail_late)
    assert out.read_bytes() == previous
    assert _leftovers(tmp_path) == []


# --- the real clips in ../shared ----------------------------------------------------------------

@pytest.mark.shared
@pytest.mark.skipif(not CLIPS.is_dir(), reason="../shared/data/clips is not here")
def test_shared_dogs_jump() -> None:
    folder = CLIPS / "sttn240p_dogs-jump"
    frames, info = io.read_frames(folder / "dogs_jump_orig.mp4")
    assert frames.shape == (66, 3, 240, 432)
    assert (info.fps, info.time_base, info.has_audio) == (Fraction(24), Fraction(1, 12288), False)
    masks, notes = io.read_masks(folder / "masks", 66, (240, 432))
    assert masks.shape == (66, 1, 240, 432) and notes == []
    assert 0.01 < masks.float().mean() < 0.5 and all(bool(m.any()) for m in masks)


@pytest.mark.shared
@pytest.mark.skipif(not CLIPS.is_dir(), reason="../shared/data/clips is not here")
def test_shared_running_car_logo_mask() -> None:
    folder = CLIPS / "propainter_running_car"
    frames, info = io.read_frames(folder / "running_car.mp4")
    assert frames.shape == (292, 3, 540, 972) and info.has_audio and info.fps == 25
    masks, notes = io.read_masks(folder / "mask_logo.png", 3, (540, 972))
    assert masks.shape == (3, 1, 540, 972)
    assert notes == [f"{folder / 'mask_logo.png'}: 1296x720 mask resized (nearest) to 972x540"]
    assert 0 < masks.float().mean() < 0.5 and torch.equal(masks[0], masks[2])


# --- streaming -------------------------------------------------------------------------------------

def test_open_clip_and_iter_frames_match_read_frames(clip: tuple[Path, np.ndarray],
                                                     tmp_path: Path) -> None:
    path, frames = clip
    _write_images(tmp_path / "in", [f[..., ::-1] for f in frames], [f"f{i}.png" for i in range(T)])
    for source in (path, tmp_path / "in"):
        whole, info = io.read_frames(source)
        opened = io.open_clip(source)
        assert opened.info == info and opened.num_frames == T and opened.size == (H, W)
        assert torch.equal(torch.stack(list(io.iter_frames(opened))), whole)


def test_iter_masks_matches_read_masks_and_checks_the_count_first(tmp_path: Path) -> None:
    _write_images(tmp_path / "m", [np.roll(_blob(width=2 * W), i, axis=1) for i in range(T)],
                  [f"m{i}.png" for i in range(T)])
    notes: list[str] = []
    lazy = list(io.iter_masks(tmp_path / "m", T, (H, W), note=notes.append))
    whole, whole_notes = io.read_masks(tmp_path / "m", T, (H, W))
    assert torch.equal(torch.stack(lazy), whole) and notes == whole_notes and len(notes) == 1
    with pytest.raises(VidfillError, match=f"{T} masks for {T + 1} frames"):
        io.iter_masks(tmp_path / "m", T + 1, (H, W))  # raised by the call, before any frame


@pytest.mark.parametrize("name", ["clean.mkv", "frames"])
def test_write_stream_writes_as_frames_arrive(clip: tuple[Path, np.ndarray], tmp_path: Path,
                                              name: str) -> None:
    path, _ = clip
    frames, info = io.read_frames(path)
    out = tmp_path / name
    seen: list[int] = []

    def arriving():
        for t, frame in enumerate(frames):
            seen.append(t)
            yield frame

    io.write_stream(out, arriving(), T, info, codec="ffv1")
    assert torch.equal(io.read_frames(out)[0], frames) and seen == list(range(T))

    def failing():
        yield from frames[:3]
        raise RuntimeError("window 2 failed")

    again = tmp_path / ("again" + out.suffix)
    with pytest.raises(RuntimeError, match="window 2 failed"):
        io.write_stream(again, failing(), T, info)
    with pytest.raises(ValueError, match=f"got 3 frames, expected {T}"):
        io.write_stream(again, iter(frames[:3]), T, info)
    with pytest.raises(ValueError, match=f"expected {T - 1} frames"):
        io.write_stream(again, iter(frames), T - 1, info)
    assert not again.exists() and _leftovers(tmp_path) == []


def test_what_a_killed_run_left_is_removed_and_a_live_run_kept(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()  # its pid now names no process
    stale_file = tmp_path / f".out.mp4.tmp-{done.pid}-a1b2c3d4.mp4"
    stale_dir = tmp_path / f".frames.tmp-{done.pid}-a1b2c3d4"
    live = tmp_path / f".out.mp4.tmp-{os.getpid()}-a1b2c3d4.mp4"  # a running process's
    other = tmp_path / f".another.mp4.tmp-{done.pid}-a1b2c3d4.mp4"  # another output's
    for path in (stale_file, live, other):
        path.write_bytes(b"partial")
    stale_dir.mkdir()
    (stale_dir / "00000.png").write_bytes(b"partial")
    frames = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    info = io.VideoInfo(source=tmp_path / "in.mp4", fps=Fraction(25), time_base=None, pts=None,
                        has_audio=False)
    io.write_output(tmp_path / "out.mp4", frames, info)
    io.write_output(tmp_path / "frames", frames, info)
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and other.exists()
    assert (tmp_path / "out.mp4").is_file() and len(list((tmp_path / "frames").glob("*.png"))) == 2


def test_an_rgba_roto_layer_is_read_by_its_alpha_and_a_matte_can_be_inverted(tmp_path: Path) -> None:
    bgra = np.zeros((H, W, 4), np.uint8)  # black strokes, the matte in alpha only
    bgra[..., 3] = _blob(channels=1)[..., 0]
    cv2.imwrite(str(tmp_path / "roto.png"), bgra)
    assert torch.equal(io.read_masks(tmp_path / "roto.png", 1, (H, W))[0][0, 0], _blob_mask())
    cv2.imwrite(str(tmp_path / "keep.png"), 255 - _blob())  # white = keep
    inverted = io.read_masks(tmp_path / "keep.png", 1, (H, W), invert=True)[0][0, 0]
    assert torch.equal(inverted, _blob_mask())


def test_packed_masks_give_back_what_they_kept():
    from vidfill.io import PackedMasks

    gen = torch.Generator().manual_seed(0)
    masks = [torch.rand(1, 37, 53, generator=gen) > p for p in (0.0, 0.5, 0.97, 1.0)]
    packed = PackedMasks((37, 53))
    for mask in masks:
        packed.append(mask)
    assert len(packed) == 4
    assert all(torch.equal(a, b) for a, b in zip(packed.between(0, 4), masks))
    assert torch.equal(packed[2], masks[2])
    with pytest.raises(ValueError, match="bool of shape"):
        packed.append(torch.zeros(1, 37, 52, dtype=torch.bool))
