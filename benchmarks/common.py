"""What the benchmark scripts share: the shared clips, their frames at the benchmark size, the
seeded blob holes, per-frame Telea, and one format for results.

Every script writes its results as JSON (``--json PATH``; by default
``benchmarks/results/NAME-DATE.json``, see :func:`add_json_option`), one object:

    {"benchmark": "completion",                 # the script (memory: memory-rss, memory-psnr)
     "date": "2026-12-07T07:30:00+00:00",
     "commit": "<git rev-parse HEAD>", "dirty": false, "uncommitted": ["M vidfill/x.py", ...],
     "machine": {"description": "...", "platform": ..., "cpu": ..., "cores": ..., "threads": ...,
                 "torch": ..., "device": ..., "gpu": ...},
     "command": "python benchmarks/completion.py --frames 4",
     "settings": {...},                         # the script's options
     "rows": [...],                             # one object per case (the script's own fields)
     "summary": {...}}                          # optional: figures not in any row

Figures transcribed from an older README have ``"source"`` saying so and ``"recorded_in"``
(the commit that wrote them there); what the README did not state (commit, machine) is null
or left out. benchmarks/tables.py makes the README's tables from these files.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidfill.inpainters.opencv import inpaint_image
from vidfill import io

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
"""The shared clips and weights beside the checkout (not part of this repository)."""
CLIPS = SHARED / "data/clips"
SIZE = (240, 432)
"""(H, W) the benchmarks work at."""
RESULTS = REPO / "benchmarks/results"


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
    """Per-frame OpenCV Telea: the baseline every table has."""
    return torch.stack([inpaint_image(f, m) for f, m in zip(frames, holes)])


# ---------------------------------------------------------------------------------------------
# Results

def git_state() -> dict:
    """``commit`` (HEAD), ``dirty`` and ``uncommitted`` (``git status --porcelain`` lines) of the
    checkout the benchmarks run from; empty where git is not there."""
    def git(*command: str) -> str:
        try:
            return subprocess.run(["git", *command], cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    changed = git("status", "--porcelain").splitlines()
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(changed), "uncommitted": changed}


def machine(device: str = "cpu") -> dict:
    """Platform, CPU model, cores, torch and its threads, and the device the run used."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = None
    if device != "cpu" and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(torch.device(device))
    info = {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "device": device,
            "gpu": gpu}
    info["description"] = (f"{cpu}, {info['cores']} CPUs, torch {info['torch']} on {info['threads']} "
                           f"threads" + (f", {gpu}" if gpu else ""))
    return info


def default_json(name: str) -> Path:
    """benchmarks/results/NAME-DATE.json; NAME-DATE-HHMMSS.json where that exists already (a
    run never replaces an earlier one's file unless told to with ``--json``)."""
    now = datetime.datetime.now()
    path = RESULTS / f"{name}-{now:%Y-%m-%d}.json"
    return path if not path.exists() else RESULTS / f"{name}-{now:%Y-%m-%d-%H%M%S}.json"


def add_json_option(parser, name: str) -> None:
    """``--json PATH``: where the results go (default benchmarks/results/NAME-DATE.json)."""
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help=f"write the results here (default: benchmarks/results/{name}-DATE.json)")


def settings_of(args) -> dict:
    """The parsed options as JSON values (paths as strings), without ``--json`` itself."""
    out = {}
    for key, value in vars(args).items():
        if key == "json" or callable(value):
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, (list, tuple)):
            value = [str(v) if isinstance(v, Path) else v for v in value]
        out[key] = value
    return out


def _plain(value):
    """json.dumps's fallback: numpy scalars and arrays, tensors, paths."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def results(name: str, rows: list[dict], settings: dict, *, device: str = "cpu",
            summary: dict | None = None) -> dict:
    """The results object (see the module's docstring); :func:`write_results` writes it."""
    out = {"benchmark": name,
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           **git_state(), "machine": machine(device),
           "command": " ".join(["python", *sys.argv]), "settings": settings, "rows": rows}
    if summary:
        out["summary"] = summary
    return out


def write_results(path: Path | None, rows: list[dict], settings: dict, *, name: str | None = None,
                  device: str = "cpu", summary: dict | None = None, meta: dict | None = None) -> Path:
    """Write ``rows`` with commit, machine, date, command and ``settings`` to ``path`` (None: the
    default path of ``name``, the script's name by default); return the path. ``meta``: a
    results object made once at the start (a long run that rewrites its file after every case
    keeps the date and commit it started with)."""
    name = name or Path(sys.argv[0]).stem
    data = dict(meta) if meta else results(name, rows, settings, device=device, summary=summary)
    data["rows"] = rows
    if summary:
        data["summary"] = summary
    path = path or default_json(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=_plain) + "\n")
    return path


def load_results(path: Path) -> dict:
    """A results file as written by :func:`write_results`; the older shapes too (a bare list of
    rows, ``machine`` as a string, ``device`` beside it)."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, list):
        data = {"rows": data}
    if isinstance(data.get("machine"), str):
        data["machine"] = {"description": data["machine"], "device": data.get("device")}
    data.setdefault("machine", {})
    return data


def describe(data: dict) -> str:
    """One line: date, commit (and whether it had uncommitted changes), machine, command."""
    parts = [str(data.get("date") or "date unknown")]
    if data.get("commit"):
        dirty = data.get("dirty", bool(data.get("uncommitted")))
        parts.append(f"commit {data['commit'][:10]}{' with uncommitted changes' if dirty else ''}")
    elif data.get("recorded_in"):
        parts.append(f"recorded in {data['recorded_in']}")
    if data["machine"].get("description"):
        parts.append(data["machine"]["description"])
    if data["machine"].get("device"):
        parts.append(f"device {data['machine']['device']}")
    return ", ".join(parts) + (f": {data['command']}" if data.get("command") else "")
