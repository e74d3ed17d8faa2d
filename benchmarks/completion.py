"""Video-completion benchmark (DESIGN.md): fill synthetic holes in real footage, compare to it.

For every clip in ../shared/data/clips: the first 40 frames at 432x240, a seeded
random-blob hole, stationary and moving (one run each), filled by vidfill (RAFT-small
from ../shared/checkpoints, and OpenCV DIS) and by per-frame OpenCV Telea. Printed:
PSNR over the frame (mean over frames) and inside the hole (pooled), SSIM, E_warp
(x1e-3, flow of the untouched frames), the texture ratio (detail in the hole against the
truth's, :func:`vidfill.metrics.texture_ratio`) and seconds per frame of each stage.

    python benchmarks/completion.py [--methods raft,dis,telea] [--dilate 4] [--json out.json]

The rows go to benchmarks/results/completion-DATE.json unless ``--json`` says where
(benchmarks/common.py has the format).

``--methods truth-flow`` is a bound, not a method: vidfill's propagation given RAFT-small's
flow of the untouched frames (what perfect flow completion would give).
"""

from __future__ import annotations

import argparse
import logging
import platform
import time

import numpy as np
import torch

# the shared helpers, re-exported: older scripts and tests/test_ranges.py import them from here
from common import (CLIPS, SHARED, SIZE, add_json_option, blob_holes, clip_folder,  # noqa: F401
                    clip_source, load_clip, settings_of, telea, write_results)
from vidfill.config import PipelineConfig, parse_overrides
from vidfill.metrics import (psnr_frames, psnr_region, seam_error, ssim_frames, texture_ratio,
                             warping_error)
from vidfill.stages.flow import estimate_flow
from vidfill.models.build import Models, build_edge_model, build_flow_model, build_inpainter
from vidfill.pipeline import fill_along_flow, inpaint_video
from vidfill.progress import Reporter


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
    add_json_option(p, "completion")
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
    path = write_results(args.json, rows, settings_of(args), name="completion",
                         summary={"ewarp_truth": float(np.mean(truth_ewarp))})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
