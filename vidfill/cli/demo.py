"""``vidfill demo``: make an example clip with a known clean background, remove, measure.

The clip is synthetic so that the truth is known: a textured scene panning
under the camera, a ball crossing it and a static "vidfill" watermark, with a
sine tone as its audio. Both are masked, removed by the main command, and the
result is compared with the clean scene and with per-frame Telea inpainting.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from vidfill import io
from vidfill.cli import fill
from vidfill.errors import VidfillError
from vidfill.inpainters.opencv import inpaint_image

FPS = 25
SAMPLE_RATE = 44100
WATERMARK = "vidfill"
MASK_FILE = "{:05d}.png"
MASK_NAME = re.compile(r"\d{5}\.png")
"""The names of the mask images the demo writes (and may replace on a rerun)."""


def _scene(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A (height, width, 3) uint8 textured panorama: gradient, shapes, fine texture."""
    y, x = np.mgrid[:height, :width].astype(np.float32)
    img = np.stack([90 + 60 * np.sin(x / 97), 110 + 50 * np.cos(y / 53), 140 + 40 * np.sin((x + y) / 71)], -1)
    for _ in range(width * height // 2500):
        colour = rng.integers(30, 230, 3).tolist()
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(6, 30))
        if rng.random() < 0.5:
            cv2.rectangle(img, (cx, cy), (cx + size, cy + size // 2), colour, -1)
        else:
            cv2.circle(img, (cx, cy), size // 2, colour, -1)
    noise = cv2.GaussianBlur(rng.normal(0, 18, (height, width, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def make_clip(num_frames: int = 40, size: tuple[int, int] = (240, 432), seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean frames, frames with a ball and a watermark, and their masks.

    Returns ``(truth, frames, masks)``: (T, H, W, 3) uint8, (T, H, W, 3) uint8, (T, H, W) bool.
    """
    h, w = size
    rng = np.random.default_rng(seed)
    pan = 3  # pixels per frame
    world = _scene(w + pan * num_frames, h + num_frames, rng)
    text = np.zeros((h, w), np.uint8)
    cv2.putText(text, WATERMARK, (w - 150, h - 18), cv2.FONT_HERSHEY_DUPLEX, 1.1, 255, 2, cv2.LINE_AA)
    text_alpha = text.astype(np.float32)[..., None] / 255 * 0.7
    truth, frames, masks = [], [], []
    radius = h // 9
    for t in range(num_frames):
        clean = world[t // 2: t // 2 + h, pan * t: pan * t + w].copy()
        frame = clean.copy()
        cx = int(radius + (w - 2 * radius) * t / max(1, num_frames - 1))
        cy = int(h * 0.45 + h * 0.2 * np.sin(t / 6))
        cv2.circle(frame, (cx, cy), radius, (200, 40, 40), -1, cv2.LINE_AA)
        cv2.circle(frame, (cx - radius // 3, cy - radius // 3), radius // 3, (250, 200, 200), -1, cv2.LINE_AA)
        frame = (frame * (1 - text_alpha) + 255 * text_alpha).round().astype(np.uint8)
        mask = np.zeros((h, w), np.uint8)
        cv2.circle(mask, (cx, cy), radius + 2, 255, -1)
        mask = np.maximum(mask, cv2.dilate(text, np.ones((5, 5), np.uint8)))
        truth.append(clean)
        frames.append(frame)
        masks.append(mask > 0)
    return np.stack(truth), np.stack(frames), np.stack(masks)


def watermark_mask(size: tuple[int, int] = (240, 432)) -> np.ndarray:
    """(H, W) bool: the watermark's part of :func:`make_clip`'s masks (the same in every frame)."""
    h, w = size
    text = np.zeros((h, w), np.uint8)
    cv2.putText(text, WATERMARK, (w - 150, h - 18), cv2.FONT_HERSHEY_DUPLEX, 1.1, 255, 2, cv2.LINE_AA)
    return cv2.dilate(text, np.ones((5, 5), np.uint8)) > 0


def write_clip(path: Path, frames: np.ndarray) -> None:
    """An H.264 mp4 of ``frames`` (T, H, W, 3) at FPS with an AAC sine tone as audio."""
    with av.open(str(path), "w") as container:
        container.metadata["comment"] = io.WRITTEN_BY  # a rerun may replace it
        video = container.add_stream("libx264", rate=FPS, options={"crf": "12"})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        seconds = len(frames) / FPS
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE))
        chunk = 1024
        for start in range(0, tone.size, chunk):
            piece = av.AudioFrame.from_ndarray(tone[None, start:start + chunk].astype(np.float32),
                                               format="fltp", layout="mono")
            piece.sample_rate, piece.pts = SAMPLE_RATE, start
            container.mux(audio.encode(piece))
        container.mux(video.encode())
        container.mux(audio.encode())


def check_demo_place(clip: Path, mask_dir: Path, output: Path | None = None) -> None:
    """VidfillError if writing the example would replace a file that vidfill did not write: a
    ``clip`` (or ``output``) that is not an earlier demo's, or a ``mask_dir`` holding anything but
    mask images."""
    for video in (clip, output):
        if video is not None and video.exists() and not (video.is_file()
                                                         and io.written_by_vidfill(video)):
            raise VidfillError(f"{video}: exists and was not written by vidfill demo; give another "
                               "--dir")
    others = [p.name for p in mask_dir.iterdir()
              if not (MASK_NAME.fullmatch(p.name) and p.is_file())] if mask_dir.is_dir() else []
    if mask_dir.exists() and (not mask_dir.is_dir() or others):
        raise VidfillError(f"{mask_dir}: holds files that vidfill demo did not write "
                           f"({', '.join(sorted(others)[:3]) or 'not a folder'}); give another --dir")


def psnr_in_hole(result: np.ndarray, truth: np.ndarray, masks: np.ndarray) -> float:
    err = (result.astype(np.float64) - truth.astype(np.float64))[masks]
    return float(10 * np.log10(255.0 ** 2 / max(np.mean(err ** 2), 1e-12)))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="vidfill demo", description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=Path("vidfill-demo"), help="where to put the example")
    p.add_argument("--frames", type=int, default=40, help="clip length")
    p.add_argument("-q", "--quiet", action="store_true")
    args, rest = p.parse_known_args(argv)
    if args.frames < 2:
        raise VidfillError(f"--frames {args.frames}: video inpainting needs at least 2 frames")
    if args.dir.exists() and not args.dir.is_dir():
        raise VidfillError(f"--dir {args.dir}: not a folder")
    clip, mask_dir, output = args.dir / "clip.mp4", args.dir / "masks", args.dir / "clean.mp4"
    check_demo_place(clip, mask_dir, output)
    truth, frames, masks = make_clip(args.frames)
    args.dir.mkdir(parents=True, exist_ok=True)
    write_clip(clip, frames)
    mask_dir.mkdir(exist_ok=True)
    for old in mask_dir.iterdir():  # an earlier demo's masks (check_demo_place: nothing else)
        old.unlink()
    for t, mask in enumerate(masks):
        cv2.imwrite(str(mask_dir / MASK_FILE.format(t)), mask.astype(np.uint8) * 255)
    print(f"vidfill demo: wrote {clip} ({len(frames)} frames, ball + watermark, audio) and {mask_dir}/")
    command = [str(clip), str(mask_dir), "-o", str(output), *rest] + (["--quiet"] if args.quiet else [])
    print(f"vidfill demo: running  vidfill {' '.join(command)}")
    fill.main(command)
    decoded = io.read_frames(clip)[0].permute(0, 2, 3, 1).numpy()
    cleaned = io.read_frames(output)[0].permute(0, 2, 3, 1).numpy()
    telea = np.stack([inpaint_image(torch.from_numpy(f).permute(2, 0, 1), torch.from_numpy(m)[None])
                      .permute(1, 2, 0).numpy() for f, m in zip(decoded, masks)])
    print(f"vidfill demo: PSNR inside the mask against the clean scene: vidfill "
          f"{psnr_in_hole(cleaned, truth, masks):.2f} dB, per-frame Telea {psnr_in_hole(telea, truth, masks):.2f} dB")
    under = np.broadcast_to(watermark_mask(masks.shape[1:]), masks.shape)
    print(f"vidfill demo: inside the watermark alone (white at opacity 0.7, recovered): vidfill "
          f"{psnr_in_hole(cleaned, truth, under):.2f} dB, per-frame Telea "
          f"{psnr_in_hole(telea, truth, under):.2f} dB")
    print(f"vidfill demo: look at {output} (and {clip} for the input)")
    return 0
