"""The package's layers: each module imports only the layers below it, and nothing imports in a
cycle (a stage that imported the CLI, or io that imported a stage, fails here)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vidfill"

LAYER_OF = {"config": "core", "types": "core", "errors": "core", "progress": "core", "host": "core",
            "stages": "stages", "io": "io", "inpainters": "inpainters", "models": "models",
            "models.build": "build", "models.train": "build",
            "metrics": "metrics", "pipeline": "pipeline", "windows": "pipeline", "overlays": "pipeline", "api": "api",
            "job": "job", "cli": "cli", "": "root"}
"""First name (or first two) under vidfill -> layer ("": the package's own __init__). ``models`` holds
the networks and their weights lookup, which the stages and inpainters import; ``build`` the
modules of models/ that assemble what a config names (build.py) or train a network (train.py)."""

BELOW = {
    "core": {"core"},
    "models": {"core", "models"},
    "stages": {"core", "models", "stages"},
    "io": {"core", "io"},
    "inpainters": {"core", "models", "stages", "inpainters"},
    "build": {"core", "models", "stages", "inpainters", "build"},
    "metrics": {"core", "stages", "metrics"},
    "pipeline": {"core", "models", "stages", "inpainters", "build", "io", "pipeline"},
    "api": {"core", "models", "stages", "inpainters", "build", "pipeline", "api"},
    "job": {"core", "models", "stages", "inpainters", "build", "io", "pipeline", "api", "job"},
    "cli": {"core", "models", "stages", "inpainters", "build", "io", "pipeline", "api", "job", "metrics",
            "cli"},
    "root": set(LAYER_OF.values()),
}
"""Layer -> the layers its modules may import."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether the dotted ``name`` is a module or package of vidfill (not a name inside one)."""
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """The vidfill modules ``path`` imports, anywhere in it (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("vidfill")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vidfill"):
            for alias in node.names:  # "from vidfill.io import masks" imports vidfill.io.masks,
                candidate = f"{node.module}.{alias.name}"  # "from vidfill import io" vidfill.io
                found.add(candidate if is_module(candidate) else node.module)
    return found


def layer(module: str) -> str:
    parts = module.split(".")[1:]
    return LAYER_OF.get(".".join(parts[:2]), LAYER_OF[parts[0] if parts else ""])


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer():
    for module in GRAPH:
        assert layer(module) in BELOW, module


def test_modules_import_only_the_layers_below():
    wrong = [f"{m} ({layer(m)}) imports {d} ({layer(d)})" for m, deps in GRAPH.items() for d in deps
             if d != "vidfill" and layer(d) not in BELOW[layer(m)]]
    wrong += [f"{m} imports the package root" for m, deps in GRAPH.items()
              if "vidfill" in deps and m != "vidfill"]
    assert wrong == []


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(GRAPH.get(module, ())):
            if dep == module or dep not in GRAPH:
                continue
            if state.get(dep) == 1:
                cycles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_layer_check_catches_a_stage_importing_the_cli():
    assert "cli" not in BELOW[layer("vidfill.stages.flow")]
    assert "stages" not in BELOW[layer("vidfill.io.masks")]
    assert "build" not in BELOW[layer("vidfill.stages.edges")]  # a stage takes its network built
    assert "stages" not in BELOW[layer("vidfill.models.gated")]  # a network knows no stage
