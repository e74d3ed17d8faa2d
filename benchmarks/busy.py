"""The default on a busy machine: seconds per frame alone and beside a CPU load on the same cores,
for thread settings given as environment variables and for other checkouts, runs alternated.

    python benchmarks/busy.py [--clip davis480p_breakdance] [--size 240x432] [--frames 20]
                              [--load 2] [--repeats 2]
                              [--variant NAME:VAR=VALUE,VAR=VALUE ...]
                              [--checkout NAME:PATH ...] [--json OUT]

The clip's first frames at the size, with the completion benchmark's stationary blob hole, are
filled by ``vidfill.fill`` with the preset in a fresh process (the environment a user's shell
would give it: OpenMP reads its variables once, at start; ``--checkout`` imports vidfill from
another git worktree, e.g. an older commit, with this one's environment), alone and then beside
``--load`` processes that spin in a Python loop (``while True: pass``, one core each); variants
and checkouts in turn, the whole round ``--repeats`` times. Timed: ``fill`` alone, not the
imports and model loading. Rows: s/frame and the stages of each run; the summary, per variant,
the median s/frame alone and beside the load and their ratio. Run it on an otherwise idle
machine: the load it adds is the only one it may measure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from common import REPO, SHARED, add_json_option, blob_holes, clip_source, settings_of
from common import write_results
from vidfill import io

CHILD = """
import json, sys, time
from pathlib import Path
from vidfill import build_models, fill, load_preset  # first: vidfill may set OpenMP's variables
import torch
from vidfill.progress import Reporter
data = torch.load(sys.argv[1])
cfg = load_preset(sys.argv[2])
models = build_models(cfg, raft_weights=Path(sys.argv[3]))
if len(sys.argv) > 4:  # --threads N
    from vidfill.host import fixed_threads
    fixed_threads(int(sys.argv[4]))
reporter = Reporter(quiet=True)
start = time.perf_counter()
fill(data["frames"], data["holes"], cfg, models=models, reporter=reporter)
total = time.perf_counter() - start
print(json.dumps({"seconds": total, "threads": torch.get_num_threads(),
                  "stages_s": dict(reporter.timings)}))
"""


def spin(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def timed_fill(data: Path, checkout: Path, pipeline: str, env: dict) -> dict:
    env = dict(env)
    threads = [env.pop("THREADS")] if "THREADS" in env else []
    done = subprocess.run([sys.executable, "-c", CHILD, str(data), pipeline,
                           str(SHARED / "checkpoints/raft-small.pth"), *threads],
                          env={**os.environ, "PYTHONPATH": str(checkout), **env}, cwd=checkout,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{checkout}: the timed run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def named(text: str) -> tuple[str, str]:
    name, _, rest = text.partition(":")
    return name, rest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", default="davis480p_breakdance")
    p.add_argument("--size", default="240x432", help="HxW")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--pipeline", default="default")
    p.add_argument("--load", type=int, default=2, help="busy processes beside the run")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--variant", action="append", default=[],
                   help="NAME:VAR=VALUE,... the environment of one variant (default: none added); "
                        "THREADS=N: vidfill's --threads N")
    p.add_argument("--checkout", action="append", default=[],
                   help="NAME:PATH another checkout to time, with no variables added")
    add_json_option(p, "busy")
    args = p.parse_args()
    runs = [(name, REPO, dict(a.split("=", 1) for a in rest.split(",") if a))
            for name, rest in map(named, args.variant or ["this:"])]
    runs += [(name, Path(path).resolve(), {}) for name, path in map(named, args.checkout)]
    h, w = map(int, args.size.split("x"))
    frames, _ = io.read_frames(clip_source(SHARED / "data/clips" / args.clip))
    frames = F.interpolate(frames[:args.frames].float(), size=(h, w), mode="area")
    frames = frames.round().to(torch.uint8)
    holes = blob_holes(len(frames), False, 0, (h, w))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "clip.pt"
        torch.save({"frames": torch.where(holes, torch.zeros_like(frames), frames),
                    "holes": holes}, data)
        for repeat in range(args.repeats):
            for beside in (False, True):
                for name, checkout, env in runs:
                    load = spin(args.load) if beside else []
                    try:
                        run = timed_fill(data, checkout, args.pipeline, env)
                    finally:
                        for proc in load:
                            proc.kill()
                            proc.wait()
                    row = {"variant": name, "checkout": str(checkout), "env": env,
                           "beside": beside, "load": args.load, "repeat": repeat,
                           "s_per_frame": run["seconds"] / len(frames), "threads": run["threads"],
                           "s_by_stage": {k: v / len(frames) for k, v in run["stages_s"].items()}}
                    rows.append(row)
                    print(f"{name:>16} {'beside' if beside else 'alone':>6} "
                          f"{row['s_per_frame']:6.2f} s/frame", flush=True)
    summary = {}
    for name, _, _ in runs:
        alone = statistics.median(r["s_per_frame"] for r in rows
                                  if r["variant"] == name and not r["beside"])
        beside = statistics.median(r["s_per_frame"] for r in rows
                                   if r["variant"] == name and r["beside"])
        summary[name] = {"alone": alone, "beside": beside, "ratio": beside / alone}
        print(f"{name:>16}: alone {alone:.2f}, beside {beside:.2f} s/frame ({beside / alone:.2f}x)")
    path = write_results(args.json, rows, settings_of(args), name="busy", summary=summary)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
