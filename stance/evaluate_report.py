"""The files of an evaluation: metrics.json, report.md, confusion-matrix PNGs, per-record predictions.

Everything here works on the metrics dictionary that `stance.evaluate` computes, so every figure
in report.md can be recomputed from metrics.json and predictions.jsonl.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stance.fileio import atomic_write_json, atomic_writer, dumps_line
from stance.records import LabelledRecord

TOP_TARGETS_IN_REPORT = 20
MIN_RECORDS_FOR_TARGET_PLOT = 20
MAX_TARGET_PLOTS = 12


def write_report(out: Path, metrics: dict[str, Any], records: Sequence[LabelledRecord], main: Any, other: Any | None) -> list[str]:
    """Write every report file into `out`; returns their names (also stored in metrics["files"])."""
    out.mkdir(parents=True, exist_ok=True)
    files = ["predictions.jsonl"]
    _write_predictions(out / "predictions.jsonl", records, main)
    if other:
        _write_predictions(out / "predictions_against.jsonl", records, other)
        files.append("predictions_against.jsonl")
    files += _plots(out, metrics)
    metrics["files"] = sorted([*files, "metrics.json", "report.md"])
    atomic_write_json(out / "metrics.json", metrics)
    with atomic_writer(out / "report.md") as handle:
        handle.write(report_markdown(metrics))
    return metrics["files"]


def _write_predictions(path: Path, records: Sequence[LabelledRecord], source: Any) -> None:
    with atomic_writer(path) as handle:
        for record, prediction in zip(records, source.predictions, strict=True):
            handle.write(
                dumps_line(
                    {
                        "id": record.id,
                        "target": record.target,
                        "gold": record.label,
                        "label": prediction.label,
                        "correct": record.label == prediction.label,
                        "mentioned": prediction.mentioned,
                        "scores": prediction.scores,
                        "model_version": source.model_version,
                    }
                )
            )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _summary_rows(metrics: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """(row name, value per source) for the overall table."""
    sources = [metrics["model"]] + ([metrics["against"]] if metrics.get("against") else [])
    rows: list[tuple[str, list[float | None]]] = [
        ("accuracy", [s["overall"]["accuracy"] for s in sources]),
        ("macro-F1", [s["overall"]["macro_f1"] for s in sources]),
        ("F_avg", [s["overall"]["f_avg"] for s in sources]),
    ]
    labels = list(dict.fromkeys(label for s in sources for label in s["overall"]["labels"]))
    for label in labels:
        for part, key in (("P", "precision"), ("R", "recall"), ("F1", "f1")):
            rows.append((f"{label} {part}", [s["overall"]["per_label"].get(label, {}).get(key) for s in sources]))
    return rows


def report_markdown(metrics: dict[str, Any]) -> str:
    """The human-readable report: overall table (side by side with `against`), per target, files."""
    model, other = metrics["model"], metrics.get("against")
    gold = metrics["gold"]
    lines = ["# Evaluation report", ""]
    for f in gold["files"]:
        lines.append(f"- gold: `{f['path']}` (sha256 `{f['sha256'][:12]}`, {f['records']} records)")
    lines.append(f"- gold labels: {', '.join(f'{k} {v}' for k, v in gold['labels'].items())}")
    lines.append(f"- model: `{model['spec']}` ({model['kind']}, version `{model['model_version']}`, {model['seconds']:.1f} s)")
    if other:
        lines.append(f"- against: `{other['spec']}` ({other['kind']}, version `{other['model_version']}`, {other['seconds']:.1f} s)")
    for note in model["notes"] + (other["notes"] if other else []):
        lines.append(f"- note: {note}")
    lines += ["", "## Overall", ""]
    header = ["metric", "model"] + (["against", "model - against"] if other else [])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for name, values in _summary_rows(metrics):
        cells = [_fmt(v) for v in values]
        if other:
            a, b = values
            cells.append("n/a" if a is None or b is None else f"{a - b:+.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Per target", ""]
    targets = list(model["per_target"])
    header = ["target", "n", "accuracy", "macro-F1", "F_avg"] + (["against macro-F1"] if other else [])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for target in targets[:TOP_TARGETS_IN_REPORT]:
        m = model["per_target"][target]
        row = [target.replace("|", "\\|"), str(m["n"]), _fmt(m["accuracy"]), _fmt(m["macro_f1"]), _fmt(m["f_avg"])]
        if other:
            row.append(_fmt(other["per_target"][target]["macro_f1"]))
        lines.append("| " + " | ".join(row) + " |")
    if len(targets) > TOP_TARGETS_IN_REPORT:
        lines.append(f"\n{len(targets) - TOP_TARGETS_IN_REPORT} more targets (fewer records each) are in metrics.json.")
    frame_rows = [(s["spec"], level, m) for s in [model] + ([other] if other else []) for level, m in (s.get("frames") or {}).items()]
    if frame_rows:
        lines += ["", "## Frames", "", "| model | level | n | micro-F1 | macro-F1 | frames per item (gold / predicted) |", "|---|---|---|---|---|---|"]
        for spec, level, m in frame_rows:
            lines.append(f"| `{spec}` | {level} | {m['n']} | {m['micro_f1']:.3f} | {m['macro_f1']:.3f} |"
                         f" {m['gold_per_item']:.2f} / {m['predicted_per_item']:.2f} |")
    lines += ["", "## Confusion matrix (rows: gold, columns: predicted)", ""]
    for source in [model] + ([other] if other else []):
        overall = source["overall"]
        lines.append(f"`{source['spec']}`:\n")
        lines.append("| gold \\ predicted | " + " | ".join(overall["labels"]) + " |")
        lines.append("|" + "---|" * (len(overall["labels"]) + 1))
        for label, row in zip(overall["labels"], overall["confusion"], strict=True):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
        lines.append("")
    if metrics.get("files"):
        lines += ["## Files", "", *[f"- `{name}`" for name in metrics["files"]], ""]
    return "\n".join(lines) + "\n"


def _plots(out: Path, metrics: dict[str, Any]) -> list[str]:
    files = []
    sources = [("", metrics["model"])] + ([("against_", metrics["against"])] if metrics.get("against") else [])
    for prefix, source in sources:
        name = f"{prefix}confusion.png"
        plot_confusion(source["overall"], f"{source['spec']}: all targets", out / name)
        files.append(name)
        plotted = 0
        for target, m in source["per_target"].items():
            if m["n"] < MIN_RECORDS_FOR_TARGET_PLOT or plotted >= MAX_TARGET_PLOTS:
                continue
            name = f"{prefix}confusion_{_slug(target)}.png"
            plot_confusion(m, f"{source['spec']}: {target}", out / name)
            files.append(name)
            plotted += 1
    return files


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:40] or "target"


def plot_confusion(metrics: dict[str, Any], title: str, path: Path) -> None:
    """A confusion matrix PNG: cells coloured by the row share (cividis, colour-blind safe),
    labelled with count and share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = metrics["labels"], metrics["confusion"]
    shares = [[v / sum(row) if sum(row) else 0.0 for v in row] for row in matrix]
    size = 1.4 + 1.1 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(shares, cmap="cividis", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            colour = "black" if shares[i][j] > 0.55 else "white"
            ax.text(j, i, f"{value}\n{shares[i][j]:.0%}", ha="center", va="center", color=colour, fontsize=9)
    short = title if len(title) < 60 else "..." + title[-57:]
    ax.set_title(f"{short}\nacc {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} (n={metrics['n']})", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_evaluation(result: Any) -> None:
    """The terminal table: overall metrics (side by side with --against) and the largest targets."""
    import sys

    from rich.console import Console
    from rich.table import Table

    metrics = result.metrics
    model, other = metrics["model"], metrics.get("against")
    console = Console(file=sys.stdout, width=120 if not sys.stdout.isatty() else None)
    table = Table(title=f"{metrics['gold']['records']} gold records")
    table.add_column("metric")
    table.add_column(_short(model["spec"]), justify="right")
    if other:
        table.add_column(_short(other["spec"]), justify="right")
        table.add_column("difference", justify="right")
    for name, values in _summary_rows(metrics):
        cells = [_fmt(v) for v in values]
        if other:
            a, b = values
            cells.append("" if a is None or b is None else f"{a - b:+.3f}")
        table.add_row(name, *cells)
    console.print(table)
    targets = Table(title="per target (largest 10)")
    targets.add_column("target")
    targets.add_column("n", justify="right")
    targets.add_column("macro-F1", justify="right")
    targets.add_column("accuracy", justify="right")
    if other:
        targets.add_column("against macro-F1", justify="right")
    for target in list(model["per_target"])[:10]:
        m = model["per_target"][target]
        row = [target, str(m["n"]), _fmt(m["macro_f1"]), _fmt(m["accuracy"])]
        if other:
            row.append(_fmt(other["per_target"][target]["macro_f1"]))
        targets.add_row(*row)
    console.print(targets)
    for source in [model] + ([other] if other else []):
        for level, m in (source.get("frames") or {}).items():
            console.print(f"{source['spec']}: frames, {level} level ({m['n']}): micro-F1 {m['micro_f1']:.3f}, macro-F1 {m['macro_f1']:.3f},"
                          f" {m['predicted_per_item']:.2f} frames per item (people: {m['gold_per_item']:.2f})")
        console.print(f"{source['spec']}: version {source['model_version']}, {source['seconds']:.1f} s")
        for note in source["notes"]:
            console.print(f"[yellow]note[/yellow]: {note}")
    if result.out_dir:
        console.print(f"wrote {result.out_dir}/: {', '.join(result.files)}")


def _short(spec: str) -> str:
    return spec if len(spec) <= 30 else "..." + spec[-27:]
