"""Memory and speed on long clips, and what temporal windows cost in quality.

``rss``: for each (frames, size), real footage (../shared davis480p_blackswan, looped back and
forth; resized for other sizes) is written once as an H.264 mp4 with a moving-blob mask folder,
then ``vidfill INPUT MASKS -o OUT.mp4 --pipeline PRESET`` runs in a fresh subprocess (``fast``
by default: DIS flow, no network, so CPU time stays sane; ``default`` is what users run: RAFT,
refinement passes, non-local frames); printed: its peak RSS (ru_maxrss of that child, from
os.wait4) and seconds per frame (wall clock, decoding and encoding included).

``psnr``: hole PSNR of the windowed against the whole-clip pipeline on the shared clips that
are longer than one window (all their frames at 432x240, a moving blob hole as in
benchmarks/completion.py, DIS flow), and the E_warp of each fill inside the hole (flicker).

    python benchmarks/memory.py rss [--runs 60x854x480,300x854x480] [--pipeline default] [--keep DIR]
    python benchmarks/memory.py psnr [--clips NAME,...] [--window 60/10/15] [--set SECTION.KEY=VALUE]

The rows go to benchmarks/results/memory-rss-DATE.json (memory-psnr-DATE.json) unless ``--json``
says where.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidfill import io
from vidfill.config import parse_overrides, load_preset
from vidfill.metrics import psnr_region, warping_error
from vidfill.models.build import build_models
from vidfill.pipeline import inpaint_video
from vidfill.windows import fill_in_windows, plan_windows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (SHARED, add_json_option, blob_holes, clip_source, load_clip,  # noqa: E402
                    settings_of, write_results)

FOOTAGE = SHARED / "data" / "clips" / "davis480p_blackswan"
RAFT_WEIGHTS = SHARED / "checkpoints" / "raft-small.pth"


def looped_frames(num_frames: int, size: tuple[int, int]) -> Iterator[torch.Tensor]:
    """``num_frames`` frames ``(3, H, W)`` uint8 of the footage played forwards, backwards, ..."""
    source, _ = io.read_frames(clip_source(FOOTAGE))
    if tuple(source.shape[-2:]) != size:
        source = F.interpolate(source.float(), size=size, mode="bicubic").clamp(0, 255).round()
        source = source.to(torch.uint8)
    order = list(range(len(source))) + list(range(len(source) - 2, 0, -1))
    for t in range(num_frames):
        yield source[order[t % len(order)]]


def moving_blob(num_frames: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """``(H, W)`` uint8 0/255 masks: an ellipse of 1/5 x 1/7 of the frame drifting and bouncing."""
    h, w = size
    bh, bw = h // 5, w // 7
    y, x, vy, vx = h / 3, w / 4, 1.3 * h / 480, 3.1 * w / 854
    for _ in range(num_frames):
        mask = np.zeros(size, np.uint8)
        cv2.ellipse(mask, (int(x + bw / 2), int(y + bh / 2)), (bw // 2, bh // 2), 0, 0, 360, 255, -1)
        yield mask
        y, x = y + vy, x + vx
        if not 0 <= y <= h - bh:
            vy, y = -vy, min(max(y, 0), h - bh)
        if not 0 <= x <= w - bw:
            vx, x = -vx, min(max(x, 0), w - bw)


def make_inputs(folder: Path, num_frames: int, size: tuple[int, int]) -> tuple[Path, Path]:
    video, masks = folder / f"in_{num_frames}x{size[1]}x{size[0]}.mp4", folder / f"masks_{num_frames}x{size[1]}x{size[0]}"
    if not video.exists():
        info = io.VideoInfo(source=video, fps=Fraction(25), time_base=None, pts=None, has_audio=False)
        io.write_stream(video, looped_frames(num_frames, size), num_frames, info, crf=17)
    if not masks.exists():
        masks.mkdir()
        for t, mask in enumerate(moving_blob(num_frames, size)):
            cv2.imwrite(str(masks / f"m{t:05d}.png"), mask)
    return video, masks


def run_rss(runs: list[tuple[int, tuple[int, int]]], keep: Path | None,
            pipeline: str = "fast") -> list[dict]:
    window = load_preset(pipeline).window
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__}; preset {pipeline}, windows of {window.length} frames "
          f"overlapping by {window.overlap}")
    print("| preset | frames | size | windows | peak RSS (GB) | s/frame |")
    print("|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for num_frames, size in runs:
            video, masks = make_inputs(folder, num_frames, size)
            out = Path(scratch) / "out.mp4"
            command = [sys.executable, "-m", "vidfill.cli", str(video), str(masks), "-o", str(out),
                       "--pipeline", pipeline, "-q", "--raft-weights", str(RAFT_WEIGHTS)]
            start = time.perf_counter()
            proc = subprocess.Popen(command)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{' '.join(command)} failed")
            windows = len(plan_windows(num_frames, window))
            print(f"| {pipeline} | {num_frames} | {size[1]}x{size[0]} | {windows} | {usage.ru_maxrss / 1e6:.2f} | "
                  f"{seconds / num_frames:.2f} |", flush=True)
            rows.append({"pipeline": pipeline, "frames": num_frames, "size": f"{size[1]}x{size[0]}", "windows": windows,
                         "peak_rss_gb": usage.ru_maxrss / 1e6, "s_per_frame": seconds / num_frames})
            out.unlink()
    return rows


def run_psnr(clips: list[str], length: int, overlap: int, lookahead: int,
             settings: list[str]) -> list[dict]:
    cfg = load_preset("fast").replace(**parse_overrides(settings)).replace(
        window={"length": length, "overlap": overlap, "lookahead": lookahead})
    print(f"DIS flow, 432x240, moving blob hole; windows of {length} frames overlapping by {overlap}, "
          f"looking {lookahead} ahead{''.join(', ' + s for s in settings)}")
    print("| clip | frames | windows | hole PSNR whole clip | hole PSNR windowed | difference | "
          "E_warp in the hole, whole / windowed |")
    print("|---|---|---|---|---|---|---|")
    names = sorted(p.name for p in (SHARED / "data" / "clips").iterdir())
    rows = []
    models = build_models(cfg)
    for name in clips:
        frames = load_clip(SHARED / "data" / "clips" / name, 10_000)
        holes = blob_holes(len(frames), moving=True, seed=names.index(name))
        damaged = torch.where(holes, torch.zeros_like(frames), frames)
        whole = inpaint_video(damaged, holes, cfg, models=models).frames
        windowed = torch.stack(list(fill_in_windows(damaged, holes, len(frames), cfg, models)))
        a, b = psnr_region(whole, frames, holes), psnr_region(windowed, frames, holes)
        flicker = [warping_error(x, frames, region=holes) for x in (whole, windowed)]
        print(f"| {name} | {len(frames)} | {len(plan_windows(len(frames), cfg.window))} | {a:.2f} | "
              f"{b:.2f} | {b - a:+.2f} | {flicker[0]:.3f} / {flicker[1]:.3f} |", flush=True)
        rows.append({"clip": name, "frames": len(frames), "windows": len(plan_windows(len(frames), cfg.window)),
                     "psnr_whole": a, "psnr_windowed": b, "difference": b - a,
                     "ewarp_whole": flicker[0], "ewarp_windowed": flicker[1]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rss = sub.add_parser("rss")
    rss.add_argument("--runs", default="60x854x480,300x854x480",
                     help="FRAMESxWIDTHxHEIGHT,... (e.g. 100x854x480,1000x854x480,300x1920x1080)")
    rss.add_argument("--pipeline", default="fast",
                     help="the preset the command line runs (fast: DIS flow, no network; default: RAFT)")
    rss.add_argument("--keep", type=Path, help="keep the generated inputs in this folder")
    add_json_option(rss, "memory-rss")
    psnr = sub.add_parser("psnr")
    psnr.add_argument("--clips", default="davis480p_car-roundabout,davis480p_breakdance,"
                      "davis480p_tennis,sttn240p_dogs-jump,propainter_running_car")
    psnr.add_argument("--window", default="60/10/15", help="LENGTH/OVERLAP/LOOKAHEAD")
    psnr.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                      help="override a setting of the fast preset (repeatable)")
    add_json_option(psnr, "memory-psnr")
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.command == "rss":
        runs = []
        for item in args.runs.split(","):
            frames, width, height = map(int, item.split("x"))
            runs.append((frames, (height, width)))
        rows = run_rss(runs, args.keep, args.pipeline)
    else:
        length, overlap, lookahead = map(int, args.window.split("/"))
        rows = run_psnr(args.clips.split(","), length, overlap, lookahead, args.set)
    path = write_results(args.json, rows, settings_of(args), name=f"memory-{args.command}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
