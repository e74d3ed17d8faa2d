"""Weights manifest and lookup: explicit path -> checkpoints folder -> torch hub cache -> download.

Constructors never load files; :func:`load_state_dict` finds, verifies and converts a
checkpoint and returns it (or ``None`` with the reason, so that the caller can
fall back to a classical method and say so).
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from importlib import resources
from dataclasses import dataclass
from pathlib import Path

import torch

from vidfill.errors import VidfillError
from vidfill.models import raft
from vidfill.models.flow_edges import EdgeGenerator
from vidfill.models.gated import GatedGenerator

StateDict = dict[str, torch.Tensor]

DOWNLOAD_TIMEOUT_S = 30.0
"""A stalled connection gives up after this long and vidfill falls back to a classical method."""


@dataclass(frozen=True)
class WeightsEntry:
    """One downloadable checkpoint and what it takes to use it."""

    name: str
    url: str | None
    """Where to download it; None: it ships in checkpoints/ (weights this project trained)."""
    sha256_prefix: str
    """Leading hex digits of the file's sha256 (torchvision publishes the first 8, in the file name)."""
    licence: str
    normalisation: str
    """What the network expects as input, in words (the adapter in the stage module applies it)."""
    build: Callable[[], torch.nn.Module]
    """Builds the network with random weights (never loads a file)."""

    @property
    def filename(self) -> str:
        if self.url is None:
            return f"{self.name}-{self.sha256_prefix}.pth" if self.sha256_prefix else f"{self.name}.pth"
        return self.url.rsplit("/", 1)[-1]


def _torchvision_entry(name: str) -> WeightsEntry:
    """The entry of RAFT network ``name``, read from its torchvision weights
    (:data:`vidfill.models.raft.WEIGHTS`): the url, the sha256 prefix that torchvision puts in
    the file name (found as ``torch.hub`` finds it to check a download), the transforms and the
    smallest input."""
    published = raft.WEIGHTS[name]
    filename = published.url.rsplit("/", 1)[-1]
    min_h, min_w = published.meta["min_size"]
    return WeightsEntry(
        name=name,
        url=published.url,
        sha256_prefix=torch.hub.HASH_REGEX.search(filename).group(1),
        licence="BSD-3-Clause (torchvision; RAFT by princeton-vl)",
        normalisation=f"torchvision's {published.transforms.__name__} transforms: "
                      f"{published.transforms().describe()} At least {min_h}x{min_w}, "
                      "H and W multiples of 8.",
        build=raft.BUILDERS[name],
    )


MANIFEST: dict[str, WeightsEntry] = {
    "raft_small": _torchvision_entry("raft_small"),
    "raft_large": _torchvision_entry("raft_large"),
    "flow_edges": WeightsEntry(
        name="flow_edges",
        url=None,
        sha256_prefix="48654c3f",
        licence="Apache-2.0 (trained by vidfill on synthetic flow; checkpoints/flow_edges.md)",
        normalisation="vidfill.stages.edges.network_input: flow minus its known mean, / 10 px; edges; mask",
        build=EdgeGenerator,  # its default widths are those of the shipped checkpoint
    ),
    "gated_inpainter": WeightsEntry(
        name="gated_inpainter",
        url=None,
        sha256_prefix="",
        licence="that of the user's checkpoint (none is published with vidfill)",
        normalisation="RGB float in [-1, 1], hole zeroed, hole mask 1; H and W multiples of 8",
        build=GatedGenerator,
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_state_dict(foreign: StateDict, reference: StateDict, source: str) -> StateDict:
    """Map a checkpoint in another layout onto ``reference``'s names.

    Handles ``module.`` prefixes (DataParallel) and princeton-vl RAFT checkpoints,
    whose tensors are torchvision's in the same order under other names: tensors
    are matched by position and every shape is checked.
    """
    stripped = {k.removeprefix("module."): v for k, v in foreign.items()}
    if stripped.keys() == reference.keys():
        return stripped
    if len(stripped) != len(reference):
        raise VidfillError(
            f"{source}: not a checkpoint for this network "
            f"({len(stripped)} tensors, expected {len(reference)})")
    converted = {}
    for (name, ref), (theirs, tensor) in zip(reference.items(), stripped.items()):
        if tensor.shape != ref.shape:
            raise VidfillError(
                f"{source}: tensor {theirs} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(ref.shape)} for {name}")
        converted[name] = tensor
    return converted


def _read_checkpoint(path: Path) -> StateDict:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise VidfillError(f"{path}: cannot read checkpoint ({type(exc).__name__})") from None
    if isinstance(data, dict) and "state_dict" in data:
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise VidfillError(f"{path}: not a state dict")
    return data


def checkpoint_dirs() -> list[Path]:
    """Folders searched for manifest files, in order: $VIDFILL_CHECKPOINTS, then the weights shipped
    with the package (``checkpoints/`` of the repository, installed as ``vidfill.checkpoints``)."""
    dirs = []
    if os.environ.get("VIDFILL_CHECKPOINTS"):
        dirs.append(Path(os.environ["VIDFILL_CHECKPOINTS"]))
    dirs.append(Path(str(resources.files("vidfill.checkpoints"))))
    return dirs


def _check_hash(entry: WeightsEntry, path: Path) -> None:
    """VidfillError unless ``path``'s sha256 starts with the manifest's prefix."""
    if entry.sha256_prefix:
        digest = sha256_of(path)
        if not digest.startswith(entry.sha256_prefix):
            raise VidfillError(f"{path}: sha256 {digest[:12]}... does not match the manifest's "
                               f"{entry.sha256_prefix}; the file is damaged or altered")


def hub_path(entry: WeightsEntry) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / entry.filename


def _download(entry: WeightsEntry, target: Path) -> None:
    """Fetch ``entry.url`` to ``target`` (atomically), checking the hash prefix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".part-{os.getpid()}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torch.hub's urlopen has no timeout of its own
    try:
        torch.hub.download_url_to_file(entry.url, str(partial), progress=False)
        digest = sha256_of(partial)
        if not digest.startswith(entry.sha256_prefix):
            raise VidfillError(
                f"{entry.url}: sha256 {digest[:12]}... does not match {entry.sha256_prefix}")
        os.replace(partial, target)
    finally:
        socket.setdefaulttimeout(previous)
        partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class Resolved:
    state_dict: StateDict | None
    note: str
    """Where the weights came from, or why there are none (one line)."""


def load_state_dict(name: str, explicit: Path | None = None, *, download: bool = True) -> Resolved:
    """Find the weights for manifest entry ``name``, converted to its network's layout.

    Order: ``explicit`` (a missing or wrong file there is an error, not a fallback),
    $VIDFILL_CHECKPOINTS and checkpoints/, the torch hub cache, a hash-checked
    download into that cache. ``state_dict`` is None when none is reachable.
    """
    entry = MANIFEST[name]
    reference = entry.build().state_dict()
    if explicit is not None:
        if not explicit.is_file():
            raise VidfillError(f"{explicit}: weights file not found")
        return Resolved(convert_state_dict(_read_checkpoint(explicit), reference, str(explicit)),
                        f"{name} weights from {explicit}")
    for folder in checkpoint_dirs():
        path = folder / entry.filename
        if path.is_file():
            _check_hash(entry, path)
            sd = convert_state_dict(_read_checkpoint(path), reference, str(path))
            return Resolved(sd, f"{name} weights from {path}")
    if entry.url is None:  # not downloadable: it ships in checkpoints/, or the user brings it
        places = " or ".join(str(d) for d in checkpoint_dirs())
        return Resolved(None, f"no {name} weights found ({entry.filename} is in none of {places})")
    cached = hub_path(entry)
    if not cached.is_file():
        if not download:
            return Resolved(None, f"no {name} weights found (downloads disabled)")
        try:
            _download(entry, cached)
        except (OSError, VidfillError) as exc:  # URLError is an OSError
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Resolved(None, f"no {name} weights found and download failed ({reason})")
    sd = convert_state_dict(_read_checkpoint(cached), reference, str(cached))
    return Resolved(sd, f"{name} weights from {cached}")
