"""Keyframe inpainters on static-camera, stationary-hole cases (issue 5).

Where the camera and the hole both stand still, no frame shows what the hole hides:
everything rests on the image inpainter that fills the keyframes, and on
propagation carrying that fill to the other frames without flicker. For each
static shared clip (the first frames at 432x240, a seeded stationary random blob
from benchmarks/completion.py, zeroed before anything runs), vidfill runs once per
inpainter and is compared with per-frame OpenCV Telea. Printed: PSNR and SSIM
inside the hole, the texture ratio (detail in the hole against the truth's,
:func:`vidfill.metrics.texture_ratio`), E_warp (x1e-3) over the frame and inside the hole
only (the flicker of the fill, without the motion around it; the untouched frames' own for
reference), keyframes per case and the inpainter's seconds per keyframe.

    python benchmarks/inpainters.py [--methods harmonic,telea,patchmatch,dip] [--frames 20] [--json out.json]
    python benchmarks/inpainters.py --summarise run1.json run2.json

The rows go to benchmarks/results/inpainters-DATE.json unless ``--json`` says where.

A method is an inpainter name, optionally with "+blend" (leftover.poisson_blend on).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from common import (SHARED, add_json_option, blob_holes, load_clip, load_results, settings_of, telea,
                    write_results)
from vidfill.config import parse_overrides, PipelineConfig
from vidfill.models.build import Models, build_inpainter
from vidfill.metrics import psnr_region, ssim_region, texture_ratio, warping_error
from vidfill.pipeline import inpaint_video

STATIC_CLIPS = ("davis480p_breakdance", "sttn240p_dogs-jump")
"""The shared clips shot from a (nearly) still camera (../shared/README.md)."""


def run_vidfill(damaged: torch.Tensor, holes: torch.Tensor, cfg: PipelineConfig
                ) -> tuple[torch.Tensor, int, float]:
    """vidfill's output, its number of keyframes and the inpainter's seconds per keyframe."""
    inpainter = build_inpainter(cfg)
    seconds: list[float] = []

    def timed(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        out = inpainter(image, hole)
        seconds.append(time.perf_counter() - start)
        return out

    result = inpaint_video(damaged, holes, cfg, models=Models(flow=None, edges=None, inpainter=timed))
    return result.frames, len(result.keyframes), float(np.mean(seconds)) if seconds else 0.0


def summarise(rows: list[dict]) -> None:
    """Print the mean of each method over the cases as a markdown table.

    The flicker ratio is the mean over cases of E_warp inside the hole divided by that of
    per-frame Telea on the same case (a ratio of means would be dominated by the cases
    where moving content crosses the hole, whose E_warp is 100x larger).
    """
    methods = list(dict.fromkeys(r["method"] for r in rows))
    floor = {(r["clip"], r["seed"]): r["ewarp_hole"] for r in rows if r["method"] == "per-frame telea"}
    print(f"{len(floor)} cases")
    print("| method | PSNR hole | SSIM hole | texture | E_warp (1e-3) | E_warp hole (1e-3) | "
          "E_warp hole / per-frame Telea's | keyframes | s/keyframe |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        mean = {k: float(np.mean([r.get(k, np.nan) for r in mine]))
                for k in ("psnr_hole", "ssim_hole", "texture", "ewarp", "ewarp_hole", "keyframes",
                          "s_per_keyframe")}
        ratio = float(np.mean([r["ewarp_hole"] / floor[r["clip"], r["seed"]] for r in mine]))
        print(f"| {method} ({len(mine)}) | {mean['psnr_hole']:.2f} | {mean['ssim_hole']:.4f} | "
              f"{mean['texture']:.2f} | {mean['ewarp']:.3f} | {mean['ewarp_hole']:.3f} | {ratio:.2f} | "
              f"{mean['keyframes']:.1f} | {mean['s_per_keyframe']:.2f} |")
    truth = [r for r in rows if r["method"] == "per-frame telea" and "ewarp_hole_truth" in r]
    if truth:
        whole = [r["ewarp_truth"] for r in truth if "ewarp_truth" in r]
        print(f"E_warp of the untouched frames: {np.mean(whole) if whole else float('nan'):.3f}, "
              f"in the hole {np.mean([r['ewarp_hole_truth'] for r in truth]):.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="harmonic,telea,ns,patchmatch,dip,harmonic+blend,patchmatch+blend,dip+blend")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--clips", default=",".join(STATIC_CLIPS))
    p.add_argument("--seeds", default="", help="hole seeds (default: each clip's seed in completion.py)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a CPU shared with other jobs, small ops on 2 "
                        "threads wait for the busy core)")
    add_json_option(p, "inpainters")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a pipeline setting, e.g. --set dip.iterations=200 (repeatable)")
    p.add_argument("--summarise", type=Path, nargs="+", metavar="JSON",
                   help="only print the table of rows saved by earlier runs (--json)")
    args = p.parse_args()
    if args.summarise:
        summarise([row for path in args.summarise for row in load_results(path)["rows"]])
        return
    torch.set_num_threads(args.threads)
    all_clips = sorted(d.name for d in (SHARED / "data/clips").iterdir() if d.is_dir())
    base = PipelineConfig().replace(flow={"method": "dis"}, **parse_overrides(args.set))
    rows = []
    for clip in args.clips.split(","):
        truth = load_clip(SHARED / "data/clips" / clip, args.frames)
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [all_clips.index(clip)]
        for seed in seeds:
            holes = blob_holes(truth.shape[0], False, seed)
            damaged = torch.where(holes, torch.zeros_like(truth), truth)
            truth_flicker = warping_error(truth, truth, region=holes)
            truth_flicker_all = warping_error(truth, truth)
            for method in ["per-frame telea", *args.methods.split(",")]:
                start = time.perf_counter()
                if method == "per-frame telea":
                    result, keys = telea(damaged, holes), truth.shape[0]
                    per_key = (time.perf_counter() - start) / truth.shape[0]
                else:
                    inpainter, _, blend = method.partition("+")
                    cfg = base.replace(leftover={"method": inpainter, "poisson_blend": blend == "blend"})
                    result, keys, per_key = run_vidfill(damaged, holes, cfg)
                row = {"clip": clip, "seed": seed, "method": method,
                       "psnr_hole": psnr_region(result, truth, holes),
                       "ssim_hole": ssim_region(result, truth, holes),
                       "texture": texture_ratio(result, truth, holes),
                       "ewarp": warping_error(result, truth),
                       "ewarp_hole": warping_error(result, truth, region=holes),
                       "ewarp_hole_truth": truth_flicker, "ewarp_truth": truth_flicker_all,
                       "keyframes": keys,
                       "s_per_keyframe": per_key, "s_total": time.perf_counter() - start}
                rows.append(row)
                print(f"{clip:<22} seed {seed} {method:<17} hole PSNR {row['psnr_hole']:6.2f}  "
                      f"SSIM {row['ssim_hole']:.4f}  texture {row['texture']:.2f}  E_warp {row['ewarp']:.3f} hole {row['ewarp_hole']:.3f}  keyframes {keys:3d}  "
                      f"{per_key:6.2f} s/keyframe  {row['s_total']:6.1f} s", flush=True)
    print(f"\nmean over the cases ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, DIS flow, {args.frames} frames, "
          f"{' '.join(args.set) or 'defaults'}):")
    summarise(rows)
    path = write_results(args.json, rows, settings_of(args), name="inpainters")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
