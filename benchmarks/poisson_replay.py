"""The Poisson solves of real runs, replayed: this checkout's solver against another's.

For each clip: its first frames at 432x240 with a still random blob (the completion benchmark's
holes, seeded by the clip's place in ``--clips``) or a long brush stroke (``--hole stroke``),
filled by the default pipeline (RAFT-small from ../shared, the flow-edge network), every call
to the solver recorded by its caller (flow completion, fusion, the harmonic fill). Each recorded solve is then run again by the baseline
solver (a ``poisson.py`` of another commit, ``--baseline-tolerance``) and by this one
(``--tolerance``) for the fusion and harmonic solves, both at its own for flow completion,
alternated, on one thread, CPU seconds (the least of ``--repeats``: the machine may be shared).
Printed per clip and caller: CG iterations, seconds per solve, and the largest difference inside
the hole from the baseline solver run to 1e-6 (px for flow, 8-bit levels for colour).

    git show 42da933:vidfill/stages/poisson.py > /tmp/poisson_before.py
    python benchmarks/poisson_replay.py --baseline /tmp/poisson_before.py [--clips blackswan,tennis]
        [--frames 8] [--hole blob|stroke] [--tolerance 1e-6] [--baseline-tolerance 1e-4]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from common import (SHARED, add_json_option, blob_holes, clip_folder, load_clip, settings_of,
                    write_results)
import vidfill.inpainters.harmonic as harmonic
import vidfill.stages.completion as completion
import vidfill.stages.fusion as fusion
import vidfill.stages.poisson as poisson
from vidfill.config import PipelineConfig, PoissonConfig
from vidfill.models.build import Models, build_edge_model, build_flow_model, build_inpainter
from vidfill.pipeline import inpaint_video
from vidfill.progress import Reporter

CALLERS = {"completion": completion, "fusion": fusion, "harmonic": harmonic}
UNIT = {"completion": 1.0, "fusion": 255.0, "harmonic": 255.0}


def stroke_holes(num_frames: int, size: tuple[int, int], seed: int) -> torch.Tensor:
    """(T, 1, H, W) bool: a still brush stroke 14 px wide across the frame."""
    rng = np.random.default_rng(seed)
    h, w = size
    points = np.stack([np.linspace(20, w - 20, 6), rng.uniform(40, h - 40, 6)], 1).astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.polylines(mask, [points], False, 1, thickness=14)
    return torch.from_numpy(np.repeat(mask[None, None] > 0, num_frames, 0))


def record_solves(frames: torch.Tensor, holes: torch.Tensor, models: Models) -> list[dict]:
    """Every solver call of one pipeline run: its caller, arguments and settings."""
    calls = []

    def recorder(caller: str):
        def solve(values, unknown, tx, ty, cfg, **options):
            calls.append({"caller": caller, "args": (values.clone(), unknown.clone(), tx.clone(),
                                                     ty.clone()), "cfg": cfg,
                          "options": {k: v.clone() if torch.is_tensor(v) else v
                                      for k, v in options.items()}})
            return poisson.poisson_solve(values, unknown, tx, ty, cfg, **options)
        return solve

    for caller, module in CALLERS.items():
        module.poisson_solve = recorder(caller)
    try:
        damaged = torch.where(holes, torch.zeros_like(frames), frames)
        inpaint_video(damaged, holes, PipelineConfig(), models=models,
                      reporter=Reporter(quiet=True))
    finally:
        for module in CALLERS.values():
            module.poisson_solve = poisson.poisson_solve
    return calls


def timed(solve, call: dict, cfg: PoissonConfig):
    """The result of one replayed solve and its CPU seconds."""
    start = time.process_time()
    result = solve(*call["args"], cfg, **call["options"])
    return result, time.process_time() - start


def replay(call: dict, baseline, tolerances: tuple[float, float], repeats: int) -> dict:
    """One recorded solve by the baseline and by this solver, alternated, at ``tolerances``
    (the baseline's, this one's) unless it is flow completion's (its own)."""
    cap = call["cfg"].max_iterations
    theirs, own = ((call["cfg"].tolerance,) * 2 if call["caller"] == "completion"
                   else tolerances)
    before_cfg = PoissonConfig(tolerance=theirs, max_iterations=cap, preconditioner="jacobi")
    after_cfg = PoissonConfig(tolerance=own, max_iterations=cap)
    reference = baseline.poisson_solve(*call["args"], PoissonConfig(1e-6, 20000, "jacobi"),
                                       **call["options"]).values
    inside = call["args"][1].expand_as(reference)
    seconds = {"before": [], "after": []}
    for _ in range(repeats):
        before, t = timed(baseline.poisson_solve, call, before_cfg)
        seconds["before"].append(t)
        after, t = timed(poisson.poisson_solve, call, after_cfg)
        seconds["after"].append(t)
    unit = UNIT[call["caller"]]
    return {"caller": call["caller"], "shape": list(call["args"][0].shape),
            "tolerance_before": before_cfg.tolerance, "tolerance_after": own,
            "iterations_before": before.iterations, "iterations_after": after.iterations,
            "s_before": min(seconds["before"]), "s_after": min(seconds["after"]),
            "diff_before": float((before.values - reference)[inside].abs().max()) * unit,
            "diff_after": float((after.values - reference)[inside].abs().max()) * unit}


def load_baseline(path: Path):
    """The solver module in ``path`` (another commit's vidfill/stages/poisson.py)."""
    spec = importlib.util.spec_from_file_location("poisson_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    logging.getLogger("vidfill").setLevel(logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", type=Path, required=True, help="the poisson.py to compare with")
    p.add_argument("--clips", default="blackswan,tennis")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--hole", choices=("blob", "stroke"), default="blob")
    p.add_argument("--tolerance", type=float, default=PoissonConfig().tolerance,
                   help="this solver's tolerance for the fusion and harmonic solves")
    p.add_argument("--baseline-tolerance", type=float, default=1e-4,
                   help="the baseline's tolerance for them (1e-4: the default before 1e-6)")
    p.add_argument("--repeats", type=int, default=2)
    add_json_option(p, "poisson_replay")
    args = p.parse_args()
    baseline = load_baseline(args.baseline)
    cfg = PipelineConfig()
    models = Models(flow=build_flow_model(cfg.flow, SHARED / "checkpoints/raft-small.pth"),
                    edges=build_edge_model(cfg.edges, Reporter()), inpainter=build_inpainter(cfg))
    rows = []
    for seed, name in enumerate(args.clips.split(",")):
        frames = load_clip(clip_folder(name), args.frames)
        holes = (stroke_holes(frames.shape[0], frames.shape[-2:], seed) if args.hole == "stroke"
                 else blob_holes(frames.shape[0], False, seed))
        calls = record_solves(frames, holes, models)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        tolerances = (args.baseline_tolerance, args.tolerance)
        mine = [dict(replay(call, baseline, tolerances, args.repeats), clip=name) for call in calls]
        torch.set_num_threads(threads)
        rows += mine
        print_rows(name, mine)
    path = write_results(args.json, rows, settings_of(args), name="poisson_replay")
    print(f"results: {path}")


def print_rows(clip: str, rows: list[dict]) -> None:
    """One table line per caller: solves, iterations, seconds per solve, largest differences."""
    print(f"\n{clip}: | caller | solves | iterations before -> after | s/solve before -> after | "
          f"max diff before / after |")
    for caller in CALLERS:
        mine = [r for r in rows if r["caller"] == caller]
        if not mine:
            continue
        mean = {k: statistics.mean(r[k] for r in mine)
                for k in ("iterations_before", "iterations_after", "s_before", "s_after")}
        print(f"| {caller} | {len(mine)} | {mean['iterations_before']:.0f} -> "
              f"{mean['iterations_after']:.1f} | "
              f"{mean['s_before']:.4f} -> {mean['s_after']:.4f} | "
              f"{max(r['diff_before'] for r in mine):.4f} / {max(r['diff_after'] for r in mine):.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
