"""The markdown tables of benchmarks/README.md, made from the JSON files in benchmarks/results/.

    python benchmarks/tables.py                  # print every table the README marks
    python benchmarks/tables.py FILE.json [...]  # print the tables of these files
    python benchmarks/tables.py --write          # rewrite the README's marked blocks in place
    python benchmarks/tables.py --check          # exit 1 if a marked block is not what the files give

A marked block in the README names a table (``TABLES`` below) and the files it is made from:

    <!-- table completion: completion-2026-12-01-readme.json -->
    (made by this script: one line per file, the table, the rows' notes)
    <!-- /table -->

After a new run, put its file's name in the block and run ``--write``. The files are those the
benchmark scripts write (benchmarks/common.py has the format) or transcriptions of older figures
(``"source"``; ``"table"`` names the one table such a file is for); a row's ``date`` and
``machine``, where a table mixes runs, become a column.
Only the standard library and numpy: no torch, no vidfill.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
BLOCK = re.compile(r"(<!-- table ([\w-]+): ([^>]*?) -->\n)(.*?)(<!-- /table -->)", re.S)


def load(path: Path) -> dict:
    """A results file; the older shapes too (a bare list of rows, ``machine`` as a string). Each
    row gets ``_date`` and ``_machine``: its own where it has them, else the file's."""
    data = json.loads(path.read_text())
    if isinstance(data, list):
        data = {"rows": data}
    machine = data.get("machine") or {}
    if isinstance(machine, str):
        machine = {"description": machine}
    data["machine"] = machine
    data["name"] = path.name
    date = str(data.get("date") or "")[:10]
    for row in data["rows"]:
        row["_date"] = row.get("date") or date
        row["_machine"] = row["machine"] if "machine" in row else machine.get("description")
        row["_file_machine"] = machine.get("description")
    return data


# ---------------------------------------------------------------------------------------------
# Formatting

def number(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def mean(rows: list[dict], key: str, weights: str | None = None):
    """The mean of ``key`` over the rows that have it (NaN ignored, as the scripts' nanmean);
    weighted by ``weights`` where given; None where no row has it."""
    pairs = [(r[key], r.get(weights, 1) if weights else 1) for r in rows
             if r.get(key) is not None and not (isinstance(r[key], float) and math.isnan(r[key]))]
    if not pairs:
        return None
    if weights:
        return sum(v * w for v, w in pairs) / sum(w for _, w in pairs)
    return float(np.mean([v for v, _ in pairs]))


def label(row: dict) -> str:
    return row.get("label") or row["method"]


def groups(rows: list[dict], key=label) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


def measured(rows: list[dict]) -> str:
    """When and where the rows were measured, where that is not the file's ("" for no rows)."""
    dates = sorted({r["_date"] for r in rows})
    text = " / ".join(dates)
    machines = {r["_machine"] for r in rows if r["_machine"] != r["_file_machine"]}
    if machines:
        text += " (" + "; ".join(m or "machine not stated" for m in sorted(machines, key=str)) + ")"
    return text


def table(header: list[str], lines: list[list[str]], rows_of_lines: list[list[dict]] | None = None) -> list[str]:
    """A markdown table; columns that are "-" on every line are left out; a "measured" column
    where the lines' rows differ in date or machine."""
    if rows_of_lines is not None:
        whens = [measured(rows) for rows in rows_of_lines]
        if len(set(whens) - {""}) > 1:
            header = [*header, "measured"]
            lines = [[*line, when] for line, when in zip(lines, whens)]
    keep = [i for i in range(len(header)) if i == 0 or any(line[i] != "-" for line in lines)]
    out = ["| " + " | ".join(header[i] for i in keep) + " |", "|" + "---|" * len(keep)]
    out += ["| " + " | ".join(line[i] for i in keep) + " |" for line in lines]
    return out


def notes(rows: list[dict], name=label) -> list[str]:
    """The rows' own notes, one line each (after a blank line: a list must not run into the table)."""
    seen = dict.fromkeys(f"{name(r)}: {r['note']}" for r in rows if r.get("note"))
    return ["", *(f"- {n}" for n in seen)] if seen else []


# ---------------------------------------------------------------------------------------------
# Tables, one per benchmark (and a few views); each takes the loaded files, returns lines

def completion(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    columns = [("psnr", ".2f"), ("psnr_hole", ".2f"), ("ssim", ".4f"), ("ewarp", ".3f"), ("seam", ".2f"),
               ("texture", ".2f"), ("s_per_frame", ".2f")]
    lines, members = [], []
    for name, mine in groups(rows).items():
        lines.append([name, *(number(mean(mine, k), spec) for k, spec in columns)])
        members.append(mine)
    for f in files:
        truth = (f.get("summary") or {}).get("ewarp_truth")
        if truth is not None:
            lines.append(["the untouched frames", *["-"] * 3, number(truth, ".3f"), *["-"] * 3])
            members.append(f["rows"][:1])
    return table(["method", "PSNR", "PSNR hole", "SSIM", "E_warp (1e-3)", "seam", "texture", "s/frame"],
                 lines, members) + notes(rows)


def completion_cases(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"] if r.get("clip")]
    methods = list(groups(rows))
    cases = groups(rows, key=lambda r: (r["clip"], r["hole"]))
    lines = []
    for (clip, hole), mine in cases.items():
        by = groups(mine)
        lines.append([clip, hole, *(number(mean(by.get(m, []), "psnr_hole"), ".2f") for m in methods)])
    out = table(["clip", "hole", *(f"{m}: PSNR hole" for m in methods)], lines)
    for m, mine in groups(rows).items():
        counts = {}
        for r in mine:
            counts[r["_date"]] = counts.get(r["_date"], 0) + 1
        out.append(f"- {m}: " + ", ".join(f"{n} cases measured {d}" for d, n in sorted(counts.items())))
    return out


def davis_recipe(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    lines, members = [], []
    for name, mine in groups(rows).items():
        if "psnr_frames" in mine[0]:  # rows of a run: PSNR pooled over every frame of every clip
            psnr = float(np.mean([v for r in mine for v in r["psnr_frames"]]))
            ssim, speed = mean(mine, "ssim", "frames"), mean(mine, "s_per_frame", "frames")
        else:
            psnr, ssim, speed = mean(mine, "psnr"), mean(mine, "ssim"), mean(mine, "s_per_frame")
        lines.append([name, number(psnr, ".2f"), number(ssim, ".4f"), number(mean(mine, "psnr_hole"), ".2f"),
                      number(mean(mine, "texture"), ".2f"), number(mean(mine, "ewarp"), ".3f"),
                      number(speed, ".2f")])
        members.append(mine)
    runs = [r for r in rows if "ewarp_truth" in r]
    if runs:
        first = groups(runs)[label(runs[0])]
        lines.append(["untouched frames", "-", "-", "-", "-", number(mean(first, "ewarp_truth"), ".3f"), "-"])
        members.append(first)
    published = [p for f in files for p in (f.get("summary") or {}).get("published", [])][:3]
    if published:
        lines.append([" / ".join(p["method"] for p in published) + " (published, 50 other DAVIS clips "
                      "and masks)", " / ".join(f"{p['psnr']:.2f}" for p in published),
                      " / ".join(f"{p['ssim']:.3f}" for p in published), "-", "-", "-", "-"])
        members.append([])  # the papers' figures: no date of ours
    return table(["method", "PSNR", "SSIM (65x65)", "PSNR hole", "texture", "E_warp (1e-3)", "s/frame"],
                 lines, members) + notes(rows)


def davis_clips(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    for r in rows:
        if "psnr_frames" in r:
            r["psnr"] = float(np.mean(r["psnr_frames"]))
    fields = [k for k in ("psnr", "psnr_hole", "texture", "ewarp") if any(r.get(k) is not None for r in rows)]
    names = {"psnr": "PSNR", "psnr_hole": "hole PSNR", "texture": "texture", "ewarp": "E_warp"}
    specs = {"psnr": ".2f", "psnr_hole": ".2f", "texture": ".2f", "ewarp": ".3f"}
    methods = list(groups(rows))
    lines, members = [], []
    for clip, mine in groups(rows, key=lambda r: r["clip"]).items():
        by = groups(mine)
        cells = [" / ".join(number(by[m][0].get(k), specs[k]) for k in fields) if m in by else "-"
                 for m in methods]
        share = mine[0].get("hole_share")
        truth = mine[0].get("ewarp_truth")
        lines.append([clip, str(mine[0]["frames"]), number(share * 100 if share is not None else None, ".1f"),
                      *cells, number(truth, ".3f")])
        members.append(mine)
    shown = " / ".join(names[k] for k in fields)
    header = ["clip", "frames", "hole (% of frame)", *(f"{m}: {shown}" for m in methods), "untouched E_warp"]
    return table(header, lines, members) + notes(rows, name=lambda r: f"{r['clip']}, {label(r)}")


def inpainters(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    floor = {(r["clip"], r["seed"]): r["ewarp_hole"] for r in rows
             if r.get("method") == "per-frame telea" and "seed" in r}
    lines, members = [], []
    for name, mine in groups(rows).items():
        if floor and all((r.get("clip"), r.get("seed")) in floor for r in mine):
            ratio = float(np.mean([r["ewarp_hole"] / floor[r["clip"], r["seed"]] for r in mine]))
        else:
            ratio = mean(mine, "flicker_ratio")
        cases = f" ({len(mine)})" if "seed" in mine[0] else ""
        lines.append([name + cases, *(number(mean(mine, k), s) for k, s in (
            ("psnr_hole", ".2f"), ("ssim_hole", ".4f"), ("texture", ".2f"), ("ewarp", ".3f"),
            ("ewarp_hole", ".3f"))), number(ratio, ".2f"), number(mean(mine, "keyframes"), ".1f"),
            number(mean(mine, "s_per_keyframe"), ".2f")])
        members.append(mine)
    truth = [r for r in rows if r.get("method") == "per-frame telea" and "ewarp_hole_truth" in r]
    if truth:
        lines.append(["the untouched frames", "-", "-", "-", number(mean(truth, "ewarp_truth"), ".3f"),
                      number(mean(truth, "ewarp_hole_truth"), ".3f"), "-", "-", "-"])
        members.append(truth)
    return table(["method", "PSNR hole", "SSIM hole", "texture", "E_warp (1e-3)", "E_warp hole (1e-3)",
                  "E_warp hole / per-frame Telea's", "keyframes", "s/keyframe"], lines, members) + notes(rows)


def flow_edges(files: list[dict]) -> list[str]:
    lines, members = [], []
    keys = ("diffusion", "network", "true", "precision", "recall", "edge_s_per_field")
    for f in files:
        given = (f.get("summary") or {}).get("mean") or {}
        values = {k: given[k] if k in given else mean(f["rows"], k) for k in keys}
        lines.append([str(len(f["rows"])), *(number(values[k], ".3f") for k in keys)])
        members.append(f["rows"])
    return table(["cases", "diffusion", "network edges", "true edges (bound)", "edge precision",
                  "edge recall", "edges s/field"], lines, members)


STAGES = ("flow", "refine flow", "completion", "propagation", "leftovers", "still frames")


def stage_profile(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    stages = [*STAGES, *sorted({s for r in rows for s in r.get("s_by_stage", {})} - set(STAGES))]
    lines = [[r["preset"], f"{r['clip'].removeprefix('davis480p_')}, {r.get('hole', 'blob')}, "
              f"{r['frames']} frames", r["size"], number(r["s_per_frame"], ".2f"),
              *(number(r.get("s_by_stage", {}).get(s), ".3f") for s in stages),
              number(r.get("peak_rss_gb"), ".2f")] for r in rows]
    return table(["preset", "clip, hole", "size", "s/frame", *stages, "peak RSS (GB)"], lines,
                 [[r] for r in rows])


def busy(files: list[dict]) -> list[str]:
    lines, members = [], []
    for f in files:
        for name, fig in f["summary"].items():
            mine = [r for r in f["rows"] if r["variant"] == name]
            how = ", ".join(f"{k}={v}" for k, v in (mine[0].get("env") or {}).items()) or "-"
            lines.append([name, how, str(len(mine) // 2), number(fig["alone"], ".2f"),
                          number(fig["beside"], ".2f"), number(fig["ratio"], ".2f")])
            members.append(mine)
    return table(["variant", "environment", "runs each", "s/frame alone", "beside the load",
                  "ratio"], lines, members)


def window_cost(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    lines = [[r["run"], str(r["windows"]), str(r["frames_filled"]), number(r["seconds"], ".1f"),
              number(r["ratio"], ".2f")] for r in rows]
    return table(["run", "windows", "frames filled", "s", "ratio to 60 frames"], lines,
                 [[r] for r in rows])


def poisson_speed(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    lines = [[r["device"], r["size"], number(r["s_per_frame"], ".3f"), str(r["iterations"]),
              number(r["max_error"], ".3f"), f"{r['tolerance']:g}"] for r in rows]
    return table(["device", "size", "s/frame", "CG iterations", "max error (8-bit levels)", "tolerance"],
                 lines, [[r] for r in rows])


def memory_rss(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    lines = [[r.get("pipeline", "fast"), str(r["frames"]), r["size"], str(r["windows"]),
              number(r["peak_rss_gb"], ".2f"), number(r["s_per_frame"], ".2f")] for r in rows]
    return table(["preset", "frames", "size", "windows", "peak RSS (GB)", "s/frame"], lines,
                 [[r] for r in rows]) + notes(rows, name=lambda r: f"{r.get('pipeline', 'fast')}, {r['frames']} x {r['size']}")


def memory_psnr(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    lines = [[r["clip"], str(r["frames"]), str(r["windows"]), number(r["psnr_whole"], ".2f"),
              number(r["psnr_windowed"], ".2f"), number(r["difference"], "+.2f"),
              f"{r['ewarp_whole']:.3f} / {r['ewarp_windowed']:.3f}"] for r in rows]
    return table(["clip", "frames", "windows", "hole PSNR, whole clip", "hole PSNR, windowed", "difference",
                  "E_warp in the hole (1e-3), whole / windowed"], lines, [[r] for r in rows])


def ranges(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    lines = [[r.get("label") or str(r["handles"]), f"{r['seam_max'][0]:.0f}, {r['seam_max'][1]:.0f}",
              f"{r['seam_mean'][0]:.2f}, {r['seam_mean'][1]:.2f}", number(r["range_max"], ".0f"),
              number(r["range_mean"], ".2f")] for r in rows]
    return table(["handles", "seam max (first, last)", "seam mean (first, last)", "range max", "range mean"],
                 lines, [[r] for r in rows])


OBJECT_COLUMNS = (("psnr", ".2f"), ("psnr_fp", ".2f"), ("psnr_mask", ".2f"), ("psnr_fringe", ".2f"),
                  ("ssim_fp", ".4f"), ("texture_fp", ".2f"), ("ewarp_fp", ".3f"), ("s_per_frame", ".2f"))


def objects(files: list[dict]) -> list[str]:
    """Each method's figures averaged over the pairs it ran on (dB averaged too), as
    objects.py --tables prints them."""
    rows = [r for f in files for r in f["rows"]]
    pairs = {r["pair"] for r in rows}
    lines, members = [], []
    for name, mine in groups(rows).items():
        grown = sorted({r["dilate_used"] for r in mine if "dilate_used" in r})
        text = name + (f" ({len(mine)} pairs)" if len(mine) != len(pairs) else "")
        lines.append([text, "/".join(map(str, grown)) or "-",
                      *(number(mean(mine, k), spec) for k, spec in OBJECT_COLUMNS)])
        members.append(mine)
    return table(["method", "grown (px)", "PSNR", "PSNR footprint", "PSNR tight mask", "PSNR fringe",
                  "SSIM footprint", "texture footprint", "E_warp footprint (1e-3)", "s/frame"], lines, members)


def objects_pairs(files: list[dict]) -> list[str]:
    rows = [r for f in files for r in f["rows"]]
    pairs = list(dict.fromkeys(r["pair"] for r in rows))
    lines = []
    for name, mine in groups(rows).items():
        by = {r["pair"]: r for r in mine}
        lines.append([name, *(number(by[p]["psnr_fp"], ".2f") if p in by else "-" for p in pairs)])
    return table(["method: PSNR footprint", *pairs], lines)


def overlay(files: list[dict]) -> list[str]:
    """Per composite: PSNR inside the overlay of recover, fill and Telea, their flicker beside
    the untouched frames', the seconds of the two fills, find-overlay's IoU."""
    rows = [r for f in files for r in f["rows"]]
    lines, members = [], []
    for (clip, name, encoding), mine in groups(rows, key=lambda r: (r["clip"], r["overlay"], r["encoding"])).items():
        by = {r["method"]: r for r in mine}
        get = lambda m, k, spec: number(by[m][k], spec) if m in by else "-"  # noqa: E731
        iou = "-"
        if "iou" in mine[0]:
            iou = "error" if mine[0].get("find_error") else "refused" if mine[0]["iou"] is None else f"{mine[0]['iou']:.3f}"
        lines.append([f"{clip} ({mine[0]['camera']})", name, encoding,
                      *(get(m, "psnr", ".2f") for m in ("recover", "fill", "telea", "input")),
                      f"{get('recover', 'ewarp', '.3f')} / {get('fill', 'ewarp', '.3f')} / "
                      f"{number(mine[0]['ewarp_truth'], '.3f')}",
                      f"{get('recover', 's_per_frame', '.2f')} / {get('fill', 's_per_frame', '.2f')}", iou])
        members.append(mine)
    return table(["clip", "overlay", "encoding", "recover", "fill", "Telea", "as given",
                  "E_warp recover / fill / untouched", "s/frame recover / fill", "find-overlay IoU"],
                 lines, members)


def overlay_methods(files: list[dict]) -> list[str]:
    """Per composite and method (settings compared, ``recover/SECTION.KEY=VALUE``): PSNR,
    texture ratio and E_warp inside the overlay, beside the untouched frames' E_warp."""
    rows = [r for f in files for r in f["rows"] if r["method"] != "input"]
    lines, members = [], []
    for (clip, name, encoding, method), mine in groups(
            rows, key=lambda r: (r["clip"], r["overlay"], r["encoding"], r["method"])).items():
        row = mine[0]
        lines.append([f"{clip} ({row['camera']})", name, encoding, method, number(row["psnr"], ".2f"),
                      number(row.get("texture"), ".2f"),
                      f"{number(row['ewarp'], '.3f')} / {number(row['ewarp_truth'], '.3f')}",
                      number(row["s_per_frame"], ".2f")])
        members.append(mine)
    return table(["clip", "overlay", "encoding", "method", "PSNR", "texture", "E_warp / untouched",
                  "s/frame"], lines, members)


TABLES = {
    "completion": ("completion", completion), "completion-cases": ("completion", completion_cases),
    "davis_recipe": ("davis_recipe", davis_recipe), "davis_recipe-clips": ("davis_recipe", davis_clips),
    "inpainters": ("inpainters", inpainters), "flow_edges": ("flow_edges", flow_edges),
    "stage_profile": ("stage_profile", stage_profile), "busy": ("busy", busy),
    "window_cost": ("window_cost", window_cost),
    "poisson_speed": ("poisson_speed", poisson_speed), "memory-rss": ("memory-rss", memory_rss),
    "memory-psnr": ("memory-psnr", memory_psnr), "ranges": ("ranges", ranges),
    "objects": ("objects", objects), "objects-pairs": ("objects", objects_pairs),
    "overlay": ("overlay", overlay), "overlay-methods": ("overlay", overlay_methods),
}
"""Table name -> (the benchmark whose files it reads, the function that makes it)."""


def source_line(data: dict) -> str:
    """Where a file's figures come from, in one line."""
    parts = [str(data.get("date") or "date not stated")[:10]]
    if data.get("commit"):
        parts.append(f"commit {data['commit'][:10]}" + (" with uncommitted changes" if data.get("dirty") else ""))
    if data.get("recorded_in"):
        parts.append(f"recorded in {data['recorded_in']}")
    if data["machine"].get("description"):
        parts.append(data["machine"]["description"])
    if data.get("source"):
        parts.append(data["source"].split(" (")[0])
    return f"`results/{data['name']}`: " + ", ".join(parts) + "."


def make(name: str, files: list[str], folder: Path = RESULTS) -> list[str]:
    """The lines of table ``name`` made from ``files`` (names in ``folder``)."""
    benchmark, function = TABLES[name]
    loaded = [load(folder / file) for file in files]
    for data in loaded:
        if data.get("benchmark", benchmark) != benchmark:
            raise SystemExit(f"{data['name']}: a {data['benchmark']} file, not {benchmark}")
    return [source_line(d) for d in loaded] + [""] + function(loaded)


def blocks(text: str):
    for m in BLOCK.finditer(text):
        yield m, m[2], m[3].split()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path, help="results files: print their tables")
    p.add_argument("--readme", type=Path, default=README)
    p.add_argument("--write", action="store_true", help="rewrite the README's marked blocks")
    p.add_argument("--check", action="store_true", help="exit 1 if a marked block differs")
    args = p.parse_args()
    if args.files:
        for path in args.files:
            data = load(path)
            for name, (benchmark, _) in TABLES.items():
                if data.get("table", name) == name and data.get("benchmark") == benchmark:
                    print(f"<!-- table {name}: {path.name} -->")
                    print("\n".join(make(name, [path.name], path.resolve().parent)))
                    print()
        return
    text = args.readme.read_text()
    stale = []

    def replace(m: re.Match) -> str:
        made = "\n".join(make(m[2], m[3].split())) + "\n"
        if made != m[4]:
            stale.append(m[2])
        return m[1] + made + m[5]

    new = BLOCK.sub(replace, text)
    if args.write:
        if new != text:
            args.readme.write_text(new)
        print(f"{args.readme}: {len(stale)} of {len(list(blocks(text)))} tables rewritten"
              + (f" ({', '.join(stale)})" if stale else ""))
    elif args.check:
        if stale:
            sys.exit(f"{args.readme}: not what benchmarks/results/ gives: {', '.join(stale)} "
                     "(python benchmarks/tables.py --write)")
        print(f"{args.readme}: {len(list(blocks(text)))} tables as benchmarks/results/ gives them")
    else:
        for m, name, files in blocks(text):
            print(f"<!-- table {name}: {' '.join(files)} -->")
            print("\n".join(make(name, files)))
            print()


if __name__ == "__main__":
    main()
