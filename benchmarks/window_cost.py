"""What a clip a little longer than one window costs: tennis (70 frames, its removal masks of a
player and his shadow), 432x240, the default preset with RAFT-small, filled through the same
windows as the command line. Prints the seconds for its first 60 frames, for all 70 as planned
now (one stretched window), and for all 70 as two full windows (``window.stretch = 0``, the plan
before), with the ratios to 60 frames; the three runs one after another, alone.

    python benchmarks/window_cost.py
"""

from __future__ import annotations

import time

from completion import SHARED, SIZE, load_clip
from vidfill import build_models, fill, load_preset
from vidfill import io
from vidfill.windows import plan_windows

CLIP = SHARED / "data/clips/davis480p_tennis"


def main() -> None:
    frames = load_clip(CLIP, 70)
    masks, _ = io.read_masks(CLIP / "masks", len(frames), SIZE)
    cfg = load_preset("default")
    models = build_models(cfg, raft_weights=SHARED / "checkpoints/raft-small.pth")
    runs = [("60 frames", 60, cfg), ("70 frames, one stretched window", 70, cfg),
            ("70 frames, two windows (stretch 0)", 70, cfg.replace(window={"stretch": 0.0}))]
    seconds = {}
    print("| run | windows | frames filled | s | ratio to 60 frames |\n|---|---|---|---|---|")
    for name, n, run_cfg in runs:
        plan = plan_windows(n, run_cfg.window)
        start = time.perf_counter()
        fill(frames[:n], masks[:n], run_cfg, models=models)
        seconds[name] = time.perf_counter() - start
        print(f"| {name} | {len(plan)} | {sum(w.stop - w.start for w in plan)} | "
              f"{seconds[name]:.1f} | {seconds[name] / seconds['60 frames']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
