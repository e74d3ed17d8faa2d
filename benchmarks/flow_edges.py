"""Flow-completion benchmark (issue 4): end-point error inside holes on real flows.

For every clip in ../shared/data/clips: RAFT-small flow (../shared/checkpoints) of the
untouched first 40 frames at 432x240, forward, every ``--every``-th field; the seeded
random-blob holes of benchmarks/completion.py (stationary and moving), grown by the
pipeline's ``completion.hole_dilate``. The flow inside the hole is completed three ways:

- diffusion: the harmonic fill (no edges);
- network: Canny edges of the known flow, completed by the edge network;
- true edges: Canny edges of the untouched flow inside the hole (an upper bound).

Printed per clip: mean EPE (px) inside the hole for each, and the edge network's
precision and recall inside the hole (2 px tolerance) against the true edges.

    python benchmarks/flow_edges.py [--weights FILE] [--cache DIR] [--every 3] [--json out.json]

The rows and their mean go to benchmarks/results/flow_edges-DATE.json unless ``--json`` says where.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from common import SHARED, add_json_option, blob_holes, load_clip, settings_of, write_results
from vidfill.models import weights
from vidfill.stages.completion import complete_flow
from vidfill.config import FlowConfig, PipelineConfig
from vidfill.stages.edges import complete_edges, flow_edges
from vidfill.stages.flow import estimate_flow
from vidfill.stages.holes import smooth_fill
from vidfill.models.build import build_flow_model
from vidfill.stages.holes import dilate_holes
from vidfill.models.train import precision_recall

NUM_FRAMES = 40


def clip_flow(clip: Path, model: torch.nn.Module, cache: Path | None) -> torch.Tensor:
    """(39, 2, 240, 432) forward RAFT-small flow of the untouched frames (cached if asked)."""
    cached = cache / f"{clip.name}.pt" if cache else None
    if cached and cached.is_file():
        return torch.load(cached)["fwd"]
    flow = estimate_flow(load_clip(clip, NUM_FRAMES), FlowConfig(), model)
    if cached:
        cache.mkdir(parents=True, exist_ok=True)
        torch.save({"fwd": flow.fwd, "bwd": flow.bwd}, cached)
    return flow.fwd


def load_edge_model(path: Path | None) -> torch.nn.Module:
    """The edge network from an exported file, a training run's state.pt, or the manifest."""
    entry = weights.MANIFEST["flow_edges"]
    if path is None:
        found = weights.load_state_dict("flow_edges", download=False)
        if found.state_dict is None:
            raise SystemExit(found.note)
        state = found.state_dict
    else:
        state = torch.load(path, map_location="cpu", weights_only=False)
        state = state.get("model", state)
    model = entry.build()
    model.load_state_dict(state)
    return model.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, help="edge network file or run state.pt (default: manifest)")
    p.add_argument("--cache", type=Path, help="folder to keep the RAFT flows in between runs")
    p.add_argument("--every", type=int, default=3, help="use every N-th flow field (default 3)")
    p.add_argument("--clips", help="comma-separated clip names (default: all)")
    p.add_argument("--threshold", type=float, help="edge probability threshold (default: the config's)")
    add_json_option(p, "flow_edges")
    args = p.parse_args()
    torch.set_num_threads(2)
    cfg = PipelineConfig()
    edge_cfg = cfg.edges if args.threshold is None else replace(cfg.edges, threshold=args.threshold)
    edge_model = load_edge_model(args.weights)
    raft = build_flow_model(cfg.flow, SHARED / "checkpoints" / "raft-small.pth")
    clips = sorted((SHARED / "data" / "clips").iterdir())
    rows = []
    print(f"{'clip':28} {'hole':10} {'diffusion':>9} {'network':>9} {'true edges':>10} "
          f"{'precision':>9} {'recall':>7}")
    for seed, clip in enumerate(clips):
        if args.clips and clip.name not in args.clips.split(","):
            continue
        flow = clip_flow(clip, raft, args.cache)[::args.every]
        for moving in (False, True):
            holes = blob_holes(NUM_FRAMES, moving, seed)[:-1][::args.every]
            holes = dilate_holes(holes, cfg.completion.hole_dilate)
            no_hole = torch.zeros_like(holes)
            started = time.perf_counter()
            true_edges = flow_edges(flow, no_hole, edge_cfg)
            known = flow_edges(smooth_fill(flow, holes), holes, edge_cfg)
            drawn = complete_edges(edge_model, flow, known, holes, edge_cfg)
            seconds = time.perf_counter() - started
            upper = known | (true_edges & holes)
            epe = {}
            for name, guide in (("diffusion", None), ("network", drawn), ("true", upper)):
                filled = complete_flow(flow, holes, edges=guide, cut_weight=cfg.completion.cut_weight).flow
                epe[name] = float((filled - flow).norm(dim=1)[holes[:, 0]].mean())
            precision, recall = precision_recall(drawn, true_edges, holes)
            row = {"clip": clip.name, "moving": moving, **epe, "precision": precision,
                   "recall": recall, "edge_s_per_field": seconds / len(flow)}
            rows.append(row)
            print(f"{clip.name:28} {'moving' if moving else 'stationary':10} {epe['diffusion']:9.3f} "
                  f"{epe['network']:9.3f} {epe['true']:10.3f} {precision:9.3f} {recall:7.3f}", flush=True)
    mean = {k: float(np.nanmean([r[k] for r in rows]))
            for k in ("diffusion", "network", "true", "precision", "recall", "edge_s_per_field")}
    print(f"{'mean':39} {mean['diffusion']:9.3f} {mean['network']:9.3f} {mean['true']:10.3f} "
          f"{mean['precision']:9.3f} {mean['recall']:7.3f}")
    print(f"edges (Canny + network) {mean['edge_s_per_field']:.3f} s per field; "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
    path = write_results(args.json, rows, settings_of(args), name="flow_edges", summary={"mean": mean})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
