"""What a clip a little longer than one window costs: tennis (70 frames, its removal masks of a
player and his shadow), 432x240, the default preset with RAFT-small, filled through the same
windows as the command line. Prints the seconds for its first 60 frames, for all 70 as planned
now (one stretched window), and for all 70 as two full windows (``window.stretch = 0``, the plan
before), with the ratios to 60 frames; the three runs one after another, alone.

    python benchmarks/window_cost.py [--json OUT]

The runs go to benchmarks/results/window_cost-DATE.json unless ``--json`` says where.
"""

from __future__ import annotations

import argparse
import time

from common import SHARED, SIZE, add_json_option, load_clip, settings_of, write_results
from vidfill import build_models, fill, load_preset
from vidfill import io
from vidfill.windows import plan_windows

CLIP = SHARED / "data/clips/davis480p_tennis"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_json_option(p, "window_cost")
    args = p.parse_args()
    frames = load_clip(CLIP, 70)
    masks, _ = io.read_masks(CLIP / "masks", len(frames), SIZE)
    cfg = load_preset("default")
    models = build_models(cfg, raft_weights=SHARED / "checkpoints/raft-small.pth")
    runs = [("60 frames", 60, cfg), ("70 frames, one stretched window", 70, cfg),
            ("70 frames, two windows (stretch 0)", 70, cfg.replace(window={"stretch": 0.0}))]
    seconds, rows = {}, []
    print("| run | windows | frames filled | s | ratio to 60 frames |\n|---|---|---|---|---|")
    for name, n, run_cfg in runs:
        plan = plan_windows(n, run_cfg.window)
        start = time.perf_counter()
        fill(frames[:n], masks[:n], run_cfg, models=models)
        seconds[name] = time.perf_counter() - start
        print(f"| {name} | {len(plan)} | {sum(w.stop - w.start for w in plan)} | "
              f"{seconds[name]:.1f} | {seconds[name] / seconds['60 frames']:.2f} |", flush=True)
        rows.append({"run": name, "frames": n, "windows": len(plan),
                     "frames_filled": sum(w.stop - w.start for w in plan), "seconds": seconds[name],
                     "ratio": seconds[name] / seconds["60 frames"]})
    path = write_results(args.json, rows, settings_of(args), name="window_cost")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
