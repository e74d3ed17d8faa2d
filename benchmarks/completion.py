"""Video-completion benchmark (DESIGN.md): fill synthetic holes in real footage, compare to it.

For every clip in ../shared/data/clips: the first 40 frames at 432x240, a seeded
random-blob hole, stationary and moving (one run each), filled by vidfill (RAFT-small
from ../shared/checkpoints, and OpenCV DIS) and by per-frame OpenCV Telea. Printed:
PSNR over the frame (mean over frames) and inside the hole (pooled), SSIM, E_warp
(x1e-3, flow of the untouched frames), the texture ratio (detail in the hole against the
truth's, :func:`vidfill.metrics.texture_ratio`) and seconds per frame of each stage.

    python benchmarks/completion.py [--methods raft,dis,telea] [--dilate 4] [--json out.json]

``--methods truth-flow`` is a bound, not a method: vidfill's propagation given RAFT-small's
flow of the untouched frames (what perfect flow completion would give).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidfill.io import media as io
from vidfill.config import PipelineConfig, parse_overrides
from vidfill.inpainters.opencv import inpaint_image
from vidfill.metrics import (psnr_frames, psnr_region, seam_error, ssim_frames, texture_ratio,
                             warping_error)
from vidfill.stages.flow import estimate_flow
from vidfill.models.build import Models, build_edge_model, build_flow_model, build_inpainter
from vidfill.pipeline import fill_along_flow, inpaint_video
from vidfill.progress import Reporter

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIZE = (240, 432)
CLIPS = SHARED / "data/clips"


def clip_source(folder: Path) -> Path:
    """The frames of a shared clip: its frames/ folder or its one video."""
    if (folder / "frames").is_dir():
        return folder / "frames"
    return next(p for p in sorted(folder.iterdir()) if p.suffix in io.VIDEO_EXTENSIONS)


def clip_folder(name: str) -> Path:
    """The shared clip whose folder name ends with ``name`` (``tennis`` -> davis480p_tennis)."""
    found = [d for d in sorted(CLIPS.iterdir()) if d.is_dir() and d.name.split("_", 1)[-1] == name]
    if len(found) != 1:
        raise SystemExit(f"{name}: no such clip in {CLIPS} (have: "
                         f"{', '.join(d.name.split('_', 1)[-1] for d in sorted(CLIPS.iterdir()))})")
    return found[0]


def load_clip(folder: Path, num_frames: int) -> torch.Tensor:
    """(T, 3, 240, 432) uint8: the first frames, area-resized."""
    frames, _ = io.read_frames(clip_source(folder))
    frames = frames[:num_frames]
    return F.interpolate(frames.float(), size=SIZE, mode="area").round().to(torch.uint8)


def blob_holes(num_frames: int, moving: bool, seed: int,
               size: tuple[int, int] = SIZE) -> torch.Tensor:
    """(T, 1, H, W) bool: a random blob (about 6% of the frame), fixed or drifting and bouncing."""
    rng = np.random.default_rng(seed)
    h, w = size
    bh, bw = h // 3, w // 4
    noise = cv2.GaussianBlur(rng.random((bh, bw)).astype(np.float32), (0, 0), 6 * h / SIZE[0])
    yy, xx = np.mgrid[:bh, :bw]
    envelope = 1 - ((yy - bh / 2) / (bh / 2)) ** 2 - ((xx - bw / 2) / (bw / 2)) ** 2
    blob = (noise - noise.mean()) * 8 + envelope > 0.35
    y, x = rng.uniform(0, h - bh), rng.uniform(0, w - bw)
    vy, vx = (rng.uniform(-2, 2), rng.uniform(2, 4) * rng.choice([-1, 1])) if moving else (0, 0)
    masks = np.zeros((num_frames, 1, h, w), bool)
    for t in range(num_frames):
        masks[t, 0, int(y):int(y) + bh, int(x):int(x) + bw] = blob
        y, x = y + vy, x + vx
        if not 0 <= y <= h - bh:
            vy, y = -vy, min(max(y, 0), h - bh)
        if not 0 <= x <= w - bw:
            vx, x = -vx, min(max(x, 0), w - bw)
    return torch.from_numpy(masks)


def telea(frames: torch.Tensor, holes: torch.Tensor) -> torch.Tensor:
    return torch.stack([inpaint_image(f, m) for f, m in zip(frames, holes)])


def truth_flow_fill(truth: torch.Tensor, damaged: torch.Tensor, holes: torch.Tensor,
                    cfg: PipelineConfig, raft: torch.nn.Module) -> torch.Tensor:
    """A bound, not a method: propagation, fusion and keyframes given RAFT-small's flow of the
    untouched frames (motion inside the hole included), with no flow completion."""
    flow = estimate_flow(truth, cfg.flow, raft)  # propagation samples it at its working size
    return fill_along_flow(damaged, holes, flow.fwd, flow.bwd, cfg, Reporter(quiet=True),
                           inpainter=build_inpainter(cfg)).frames


def evaluate(result: torch.Tensor, truth: torch.Tensor, holes: torch.Tensor) -> dict[str, float]:
    return {"psnr": psnr_frames(result, truth), "psnr_hole": psnr_region(result, truth, holes),
            "ssim": ssim_frames(result, truth), "ewarp": warping_error(result, truth),
            "seam": seam_error(result, truth, holes), "texture": texture_ratio(result, truth, holes)}


def main() -> None:
    logging.getLogger("vidfill").setLevel(logging.ERROR)  # the per-case fallback notes are known
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="raft,dis,telea")
    p.add_argument("--dilate", type=int, default=PipelineConfig().mask.dilate)
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--clips", default="", help="comma-separated clip names (default: all)")
    p.add_argument("--holes", default="stationary,moving")
    p.add_argument("--json", type=Path, help="also write the rows here")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a pipeline setting, e.g. --set fusion.method=colour (repeatable)")
    args = p.parse_args()
    clips = sorted(d for d in (SHARED / "data/clips").iterdir() if d.is_dir())
    # A clip's hole seed is its place among all clips, so --clips runs the same holes.
    seeds = {folder.name: i for i, folder in enumerate(clips)}
    if args.clips:
        clips = [c for c in clips if c.name in args.clips.split(",")]
    methods = args.methods.split(",")
    cfg = PipelineConfig().replace(mask={"dilate": args.dilate}, **parse_overrides(args.set))
    raft = None
    if {"raft", "truth-flow"} & set(methods):
        raft = build_flow_model(cfg.flow, SHARED / "checkpoints/raft-small.pth")
    edge_model = build_edge_model(cfg.edges, Reporter())
    inpainter = build_inpainter(cfg)
    rows, truth_ewarp = [], []
    for folder in clips:
        seed = seeds[folder.name]
        truth = load_clip(folder, args.frames)
        truth_ewarp.append(warping_error(truth, truth))
        for kind in args.holes.split(","):
            holes = blob_holes(truth.shape[0], kind == "moving", seed)
            damaged = torch.where(holes, torch.zeros_like(truth), truth)  # nothing of the truth leaks in
            for method in methods:
                start = time.perf_counter()
                if method == "telea":
                    result, timings = telea(damaged, holes), {}
                elif method == "truth-flow":
                    result, timings = truth_flow_fill(truth, damaged, holes, cfg, raft), {}
                else:
                    reporter = Reporter(quiet=True)
                    models = Models(flow=raft if method == "raft" else None, edges=edge_model,
                                    inpainter=inpainter)
                    out = inpaint_video(damaged, holes, cfg, models=models, reporter=reporter)
                    result, timings = out.frames, out.timings
                seconds = time.perf_counter() - start
                row = {"clip": folder.name, "hole": kind, "method": method, **evaluate(result, truth, holes),
                       "s_per_frame": seconds / truth.shape[0],
                       **{f"s_{k}": v / truth.shape[0] for k, v in timings.items()}}
                rows.append(row)
                print(f"{row['clip']:<26} {kind:<10} {method:<6} PSNR {row['psnr']:6.2f}  "
                      f"hole {row['psnr_hole']:6.2f}  SSIM {row['ssim']:.4f}  E_warp {row['ewarp']:.3f}  "
                      f"seam {row['seam']:5.2f}  texture {row['texture']:.2f}  "
                      f"{row['s_per_frame']:.2f} s/frame", flush=True)
    print(f"\nmean over {len(rows) // len(methods)} cases ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, dilate {args.dilate}, {' '.join(args.set) or 'defaults'}):")
    print("| method | PSNR | PSNR hole | SSIM | E_warp (1e-3) | seam | texture | s/frame | s/frame by stage |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        mean = {k: float(np.mean([r[k] for r in mine]))
                for k in ("psnr", "psnr_hole", "ssim", "ewarp", "seam", "texture", "s_per_frame")}
        stages = sorted({k for r in mine for k in r if k.startswith("s_") and k != "s_per_frame"})
        by_stage = ", ".join(f"{k[2:]} {np.mean([r.get(k, 0.0) for r in mine]):.3f}" for k in stages)
        print(f"| {method} | {mean['psnr']:.2f} | {mean['psnr_hole']:.2f} | {mean['ssim']:.4f} | "
              f"{mean['ewarp']:.3f} | {mean['seam']:.2f} | {mean['texture']:.2f} | "
              f"{mean['s_per_frame']:.2f} | {by_stage or '-'} |")
    print(f"E_warp of the untouched frames (what a perfect fill would score): {np.mean(truth_ewarp):.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
