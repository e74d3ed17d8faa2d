"""``vidfill train flow-edges``: train vidfill's own networks (see :mod:`vidfill.models.train`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vidfill.models.train import TrainConfig, export, train_flow_edges
from vidfill.models.weights import sha256_of


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vidfill train", description="Train vidfill's own networks.")
    p.add_argument("network", choices=["flow-edges"])
    p.add_argument("--run", type=Path, required=True, help="run folder (state.pt, log.jsonl)")
    p.add_argument("--resume", action="store_true", help="go on from the run folder's state")
    p.add_argument("--export", type=Path, help="also write the trained weights into this folder")
    for name, fld in TrainConfig.__dataclass_fields__.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(fld.default), default=fld.default)
    args = p.parse_args(argv)
    cfg = TrainConfig(**{name: getattr(args, name) for name in TrainConfig.__dataclass_fields__})
    model = train_flow_edges(args.run, cfg, resume=args.resume)
    if args.export:
        path = export(model, args.export)
        print(f"wrote {path} (sha256 {sha256_of(path)})")
    return 0
