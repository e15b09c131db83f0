"""Evaluation against gold labels: metrics, per-target breakdowns, confusion matrices, reports.

`stance evaluate MODEL_OR_RUN --gold FILE --out DIR [--against OTHER]`. MODEL_OR_RUN is
- a predictions run (a directory with run.json and predictions.jsonl, from `stance annotate`):
  the gold records are looked up by paragraph id and target;
- a model: a `stance train` directory, an adapter directory, `config` (the scorer the config
  names), a backend name (`embedding`, `adapter`, `nli`: the config with that backend), or any
  model name or path (the config's backend on that model). The gold texts are scored the way
  `stance annotate` scores paragraphs: the alias gate first (a target not in the config is an
  ad-hoc target named by the record, plus its `aliases` and the mention at `target_start/end`),
  then the scorer for the targets the gate lets through.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig, Target
from stance.errors import InputError
from stance.fileio import atomic_write_json, atomic_writer, dumps_line
from stance.labelled import FileSummary, LabelledRecord, label_counts, read_labelled
from stance.progress import Progress

BACKENDS = ("embedding", "adapter", "nli", "finetuned")
SCORE_DIGITS = 6
TOP_TARGETS_IN_REPORT = 20
MIN_RECORDS_FOR_TARGET_PLOT = 20
MAX_TARGET_PLOTS = 12


# ---------------------------------------------------------------------------------------- metrics


def compute_metrics(gold: Sequence[str], predicted: Sequence[str], label_order: Sequence[str], polar: Sequence[str] = ()) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1/support, F_avg and the confusion matrix.

    Macro-F1 averages over the labels that occur in `gold` or `predicted` (scikit-learn's
    default), listed in `label_order`. F_avg is the mean F1 of the `polar` labels (favorable and
    unfavorable; SemEval-2016 Task 6), a label absent from both sides counting 0. A ratio with a
    zero denominator is 0, as with scikit-learn's `zero_division=0`.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    seen = set(gold) | set(predicted)
    unknown = seen - set(label_order)
    labels = [label for label in label_order if label in seen] + sorted(unknown)
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g]][index[p]] += 1
    per_label: dict[str, dict[str, float]] = {}
    for label, i in index.items():
        tp = matrix[i][i]
        predicted_count = sum(row[i] for row in matrix)
        support = sum(matrix[i])
        precision = tp / predicted_count if predicted_count else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support, "predicted": predicted_count}
    n = len(gold)
    correct = sum(matrix[i][i] for i in range(len(labels)))
    return {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "macro_f1": sum(v["f1"] for v in per_label.values()) / len(per_label) if per_label else 0.0,
        "f_avg": (sum(per_label.get(label, {}).get("f1", 0.0) for label in polar) / len(polar)) if polar else None,
        "labels": labels,
        "per_label": per_label,
        "confusion": matrix,
    }


def polar_labels(config: StanceConfig) -> list[str]:
    """The stance labels F_avg averages: every stance label except a neutral one."""
    return [name for name in config.stance_label_names if name.lower() != "neutral"]


# ---------------------------------------------------------------------------------- predictions


@dataclass
class Prediction:
    label: str
    scores: dict[str, float]
    mentioned: bool


@dataclass
class SourceRun:
    """One model's (or run's) predictions on the gold records."""

    spec: str
    kind: str  # "model" or "run"
    model_version: str
    predictions: list[Prediction]
    seconds: float
    notes: list[str] = field(default_factory=list)


def resolve_scorer(spec: str, config: StanceConfig) -> Any:
    """The scorer that MODEL_OR_RUN names (see the module docstring)."""
    from stance.scoring import build_scorer
    from stance.scoring.adapter import AdapterScorer, is_adapter_dir

    if spec in ("config", "default"):
        return build_scorer(config)
    if spec in BACKENDS:
        return build_scorer(config.model_copy(update={"model": config.model.model_copy(update={"backend": spec})}))
    if is_adapter_dir(spec):
        return AdapterScorer(config, spec)
    return build_scorer(config, spec)


def is_run_dir(spec: str | Path) -> bool:
    path = Path(spec)
    return (path / "run.json").is_file() and (path / "predictions.jsonl").is_file()


def predict_with_scorer(scorer: Any, records: Sequence[LabelledRecord], config: StanceConfig, *, progress: bool = True,
                        chunk: int = 128) -> list[Prediction]:
    """Gate, then score, the way `stance annotate` does; one prediction per record."""
    from stance.mentions import MentionGate

    gate = MentionGate(config.targets)
    not_mentioned = config.not_mentioned.name
    texts: dict[str, dict[tuple, Target]] = {}
    keys: list[tuple[str, tuple] | None] = []
    for record in records:
        target = record.target_for(config)
        mentioned = record.span is not None or gate.mentions(record.text, target)
        if config.gate.enabled and not mentioned:
            keys.append(None)
            continue
        target_key = (target.name, target.aliases)
        texts.setdefault(record.text, {})[target_key] = target
        keys.append((record.text, target_key))
    scored: dict[tuple[str, tuple], dict[str, float]] = {}
    items = list(texts.items())
    with Progress(len(items), "evaluate", unit="texts", enabled=progress) as bar:
        for start in range(0, len(items), chunk):
            part = items[start : start + chunk]
            results = scorer.score([text for text, _ in part], [list(targets.values()) for _, targets in part])
            for (text, targets), result in zip(part, results, strict=True):
                for target_key, target in targets.items():
                    scored[(text, target_key)] = result.stance[target.name]
            bar.advance(len(part))
    predictions = []
    for key in keys:
        scores = dict.fromkeys(config.all_label_names, 0.0)
        if key is None:
            scores[not_mentioned] = 1.0
        else:
            scores.update(scored[key])
        label = max(scores, key=lambda name: scores[name])
        predictions.append(Prediction(label, {k: round(v, SCORE_DIGITS) for k, v in scores.items()}, key is not None))
    return predictions


def predict_from_run(run_dir: str | Path, records: Sequence[LabelledRecord]) -> tuple[list[Prediction], str, list[str]]:
    """Predictions of an annotate run, looked up by paragraph id and target."""
    from stance.fileio import iter_jsonl

    run_dir = Path(run_dir)
    wanted = {r.id for r in records}
    by_id: dict[str, dict[str, Any]] = {}
    versions: set[str] = set()
    for _, line in iter_jsonl(run_dir / "predictions.jsonl", "predictions"):
        if line.get("id") in wanted:
            by_id[line["id"]] = line
            versions.add(str(line.get("model_version")))
    missing = [r for r in records if r.id not in by_id]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(records)} gold records are not in {run_dir}/predictions.jsonl, e.g. {missing[0].source}"
            f" id {missing[0].id!r}; expected the run to cover the gold paragraphs (same inputs, same ids),"
            " or evaluate a model instead of a run"
        )
    predictions, notes = [], []
    changed = 0
    for record in records:
        line = by_id[record.id]
        result = line.get("stance", {}).get(record.target)
        if result is None:
            raise InputError(
                f"{record.source}: target {record.target!r} is not in the run's predictions for {record.id!r}"
                f" (it has {', '.join(line.get('stance', {}))}); expected a target of the run's config"
            )
        changed += line.get("text") != record.text
        predictions.append(Prediction(result["label"], dict(result["scores"]), bool(result.get("mentioned"))))
    if changed:
        notes.append(f"{changed} gold texts differ from the run's text for the same id")
    return predictions, ", ".join(sorted(versions)), notes


def run_source(spec: str, records: Sequence[LabelledRecord], config: StanceConfig, *, progress: bool = True) -> SourceRun:
    """Predictions for the gold records from a run directory or a model."""
    started = time.monotonic()
    if is_run_dir(spec):
        predictions, version, notes = predict_from_run(spec, records)
        return SourceRun(spec, "run", version, predictions, time.monotonic() - started, notes)
    scorer = resolve_scorer(spec, config)
    predictions = predict_with_scorer(scorer, records, config, progress=progress)
    return SourceRun(spec, "model", scorer.model_version, predictions, time.monotonic() - started)


# ---------------------------------------------------------------------------------------- reports


def source_metrics(records: Sequence[LabelledRecord], source: SourceRun, config: StanceConfig) -> dict[str, Any]:
    """Overall and per-target metrics of one source."""
    order = list(config.all_label_names)
    polar = polar_labels(config)
    gold = [r.label for r in records]
    predicted = [p.label for p in source.predictions]
    per_target: dict[str, Any] = {}
    by_target: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        by_target.setdefault(record.target, []).append(i)
    for target, indices in sorted(by_target.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        per_target[target] = compute_metrics([gold[i] for i in indices], [predicted[i] for i in indices], order, polar)
    return {
        "spec": source.spec,
        "kind": source.kind,
        "model_version": source.model_version,
        "seconds": round(source.seconds, 3),
        "notes": source.notes,
        "overall": compute_metrics(gold, predicted, order, polar),
        "per_target": per_target,
    }


@dataclass
class EvaluationResult:
    metrics: dict[str, Any]
    out_dir: Path | None
    files: list[str]


def evaluate_records(
    spec: str,
    records: Sequence[LabelledRecord],
    config: StanceConfig,
    *,
    out_dir: str | Path | None = None,
    against: str | None = None,
    gold: Sequence[FileSummary] = (),
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate `spec` (and `against`) on `records`; write the report files into `out_dir`."""
    if not records:
        raise InputError("no gold records to evaluate; expected at least one labelled record")
    # stance only: frames are not evaluated, and scoring them would cost as much again
    # (model versions that include the config's fingerprint differ from annotate's for this reason)
    scoring = config.model_copy(update={"frames": config.frames.model_copy(update={"enabled": False})})
    main = run_source(spec, records, scoring, progress=progress)
    other = run_source(against, records, scoring, progress=progress) if against else None
    metrics: dict[str, Any] = {
        "gold": {"files": [f.__dict__ for f in gold], "records": len(records), "labels": label_counts(records)},
        "label_order": list(config.all_label_names),
        "polar_labels": polar_labels(config),
        "model": source_metrics(records, main, config),
        "against": source_metrics(records, other, config) if other else None,
    }
    files: list[str] = []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _write_predictions(out / "predictions.jsonl", records, main)
        files.append("predictions.jsonl")
        if other:
            _write_predictions(out / "predictions_against.jsonl", records, other)
            files.append("predictions_against.jsonl")
        files += _plots(out, metrics)
        metrics["files"] = sorted([*files, "metrics.json", "report.md"])
        atomic_write_json(out / "metrics.json", metrics)
        with atomic_writer(out / "report.md") as handle:
            handle.write(report_markdown(metrics))
        files = metrics["files"]
    return EvaluationResult(metrics, Path(out_dir) if out_dir else None, files)


def evaluate_files(
    spec: str, gold_paths: Sequence[str | Path], config: StanceConfig, *, out_dir: str | Path | None = None,
    against: str | None = None, progress: bool = True,
) -> EvaluationResult:
    """`stance evaluate`: read the gold file(s) and evaluate."""
    records, summaries = read_labelled(gold_paths, config, what="gold records")
    _check_unique(records)
    return evaluate_records(spec, records, config, out_dir=out_dir, against=against, gold=summaries, progress=progress)


def _check_unique(records: Sequence[LabelledRecord]) -> None:
    seen: dict[tuple[str, str, Any], str] = {}
    for record in records:
        key = (record.id, record.target, record.span)
        if key in seen:
            raise InputError(f"{record.source}: id {record.id!r} with target {record.target!r} was already labelled at {seen[key]}; expected one gold label per paragraph and target")
        seen[key] = record.source


def _write_predictions(path: Path, records: Sequence[LabelledRecord], source: SourceRun) -> None:
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
    import re

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


def print_evaluation(result: EvaluationResult) -> None:
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
        console.print(f"{source['spec']}: version {source['model_version']}, {source['seconds']:.1f} s")
        for note in source["notes"]:
            console.print(f"[yellow]note[/yellow]: {note}")
    if result.out_dir:
        console.print(f"wrote {result.out_dir}/: {', '.join(result.files)}")


def _short(spec: str) -> str:
    return spec if len(spec) <= 30 else "..." + spec[-27:]
