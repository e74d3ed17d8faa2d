"""Per-stage profile of a preset: seconds per frame of each stage and peak RSS (and peak GPU
memory on CUDA), on one shared clip at a given size with the completion benchmark's stationary
blob hole, or the DAVIS recipe's brush stroke for that clip (``--hole stroke``: the stroke
``davis_recipe.py`` draws on it in its default run).

    python benchmarks/stage_profile.py [--clip davis480p_blackswan] [--size 480x854] [--frames 30]
                                 [--hole blob|stroke] [--pipeline default] [--device cuda]
                                 [--json OUT]

The figures and the table are those of ``vidfill --profile`` (:mod:`vidfill.job.profile`): one
source for them. The stages go to benchmarks/results/stage_profile-DATE.json unless ``--json``
says where; each row also holds the whole profile.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from common import SHARED, add_json_option, blob_holes, clip_source, settings_of, write_results
from davis_recipe import CLIPS, brush_strokes
from vidfill import build_models, fill, load_preset
from vidfill import io
from vidfill.job.profile import build_profile, profile_table
from vidfill.progress import Reporter


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", default="davis480p_blackswan")
    p.add_argument("--size", default="480x854", help="HxW")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--pipeline", default="default")
    p.add_argument("--hole", choices=("blob", "stroke"), default="blob",
                   help="the completion benchmark's stationary blob, or the DAVIS recipe's stroke")
    p.add_argument("--device", default="cpu", help="where vidfill works: cpu, cuda, cuda:1, ...")
    add_json_option(p, "stage_profile")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch sees no CUDA device here")
    h, w = map(int, args.size.split("x"))
    frames, _ = io.read_frames(clip_source(SHARED / "data/clips" / args.clip))
    frames = F.interpolate(frames[:args.frames].float(), size=(h, w), mode="area").round().to(torch.uint8)
    if args.hole == "stroke":  # the stroke of the recipe's default run (its seed: the clip's place)
        seed = CLIPS.index(args.clip) if args.clip in CLIPS else 0
        holes = torch.from_numpy(brush_strokes((h, w), seed)).expand(len(frames), 1, h, w).contiguous()
    else:
        holes = blob_holes(len(frames), False, 0, (h, w))
    cfg = load_preset(args.pipeline)
    models = build_models(cfg, raft_weights=SHARED / "checkpoints/raft-small.pth", device=device)
    frames, holes = frames.to(device), holes.to(device)
    reporter = Reporter(quiet=True)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    fill(torch.where(holes, torch.zeros_like(frames), frames), holes, cfg, models=models,
         reporter=reporter)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    total = time.perf_counter() - start
    profile = build_profile(reporter.timings, total, len(frames), (h, w), device,
                            input=args.clip, preset=args.pipeline)
    print("\n".join(profile_table(profile)))
    n = profile["frames"]
    row = {"clip": args.clip, "preset": args.pipeline, "size": f"{w}x{h}", "frames": n,
           "hole": args.hole, "device": str(device),
           "s_per_frame": profile["s_per_frame"], "peak_rss_gb": profile["peak_rss_gb"],
           "s_by_stage": {stage: seconds / n for stage, seconds in profile["stages_s"].items()},
           "profile": profile}
    path = write_results(args.json, [row], settings_of(args), name="stage_profile")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
