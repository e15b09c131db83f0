"""Closing the loop: train on reviewed data, compare with the current model, promote only when better.

The current model is the `current` symlink in the models directory (absent: the config's own
scorer, i.e. the shipped default). The comparison is on a fixed held-out file when one is given;
otherwise by cross-validation on the reviewed data, grouped by document: each fold's model is
trained (warm, from the current model) without that fold's documents and judged on them against
the current model's labels for the same records. Promotion re-points `current` atomically; every
decision is appended to `promotions.jsonl`. When the new model is not better, the result says how
many more reviewed labels the learning curve (the same comparison at half the data) suggests.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import TrainingError
from stance.fileio import dumps_line
from stance.labelled import document_groups, document_key, read_labelled
from stance.records import LabelledRecord
from stance.training.train import CURRENT, TrainSettings, train_model

PROMOTIONS = "promotions.jsonl"
DEFAULT_FOLDS = 3


@dataclass
class RetrainResult:
    new_model: Path
    previous: str
    new_macro_f1: float
    previous_macro_f1: float
    promoted: bool
    report_dir: Path | None
    method: str  # "held-out file ..." or "3-fold cross-validation ..."
    records: int
    advice: str | None = None


def current_model(models_dir: Path) -> str:
    """The model `models_dir/current` points to, or `config` (the config's scorer) when there is none."""
    link = models_dir / CURRENT
    return str(link.resolve()) if link.exists() else "config"


def retrain_and_promote(
    files: list[Path], heldout: Path | None, models_dir: Path, config: StanceConfig, settings: TrainSettings, *,
    name: str | None = None, min_gain: float = 0.0, folds: int = DEFAULT_FOLDS, progress: bool = True,
) -> RetrainResult:
    """Train `models_dir/<name>` on `files`, compare it with the current model (on `heldout`, else by
    grouped cross-validation) and point `models_dir/current` at it when its macro-F1 is higher by
    more than `min_gain`."""
    from stance.evaluate import evaluate_records

    models_dir.mkdir(parents=True, exist_ok=True)
    settings = replace(settings, models_dir=models_dir)
    previous = current_model(models_dir)
    name = name or "stance-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    new_dir = models_dir / name
    training, _ = read_labelled(files, config, what="training records")
    stance_records = [r for r in training if r.label != config.not_mentioned.name]
    report_dir: Path | None = None
    if heldout is not None:
        heldout_records, heldout_files = read_labelled([heldout], config, what="held-out records")
        groups = document_groups([*heldout_records, *training])
        if set(groups[: len(heldout_records)]) & set(groups[len(heldout_records):]):
            raise TrainingError(f"{heldout} shares document(s) or text(s) with the training files; expected held-out paragraphs"
                                " from other documents, or the comparison would flatter the new model")
        train_model(files, new_dir, config, settings, progress=progress)
        report_dir = new_dir / "heldout"
        result = evaluate_records(str(new_dir), heldout_records, config, out_dir=report_dir, against=previous, gold=heldout_files, progress=progress)
        new_f1, old_f1 = result.metrics["model"]["overall"]["macro_f1"], result.metrics["against"]["overall"]["macro_f1"]
        method = f"held-out file {heldout} ({len(heldout_records)} records)"
        evaluated = len(heldout_records)
    else:
        new_f1, old_f1, evaluated = cross_validate(stance_records, previous, config, settings, folds=folds, progress=progress)
        method = f"{folds}-fold cross-validation grouped by document on {evaluated} reviewed records"
        train_model(files, new_dir, config, settings, progress=progress)
    promoted = new_f1 > old_f1 + min_gain
    if promoted:
        _point(models_dir / CURRENT, new_dir)
    advice = None if promoted else _advice(stance_records, previous, config, settings, new_f1, old_f1, folds, heldout, progress)
    _log(models_dir, {
        "time": datetime.now(UTC).isoformat(timespec="seconds"), "new": str(new_dir), "previous": previous, "method": method,
        "new_macro_f1": round(new_f1, 4), "previous_macro_f1": round(old_f1, 4), "min_gain": min_gain, "promoted": promoted,
        "records": len(stance_records),
    })
    return RetrainResult(new_dir, previous, new_f1, old_f1, promoted, report_dir, method, evaluated, advice)


def cross_validate(
    records: list[LabelledRecord], previous: str, config: StanceConfig, settings: TrainSettings, *, folds: int = DEFAULT_FOLDS,
    progress: bool = True,
) -> tuple[float, float, int]:
    """(new macro-F1, previous model's macro-F1, records judged) over grouped folds of `records`."""
    from stance.evaluate import run_source
    from stance.metrics import classification_metrics

    groups = document_groups(records)
    distinct = sorted(set(groups))
    if len(distinct) < folds:
        raise TrainingError(f"the reviewed data comes from {len(distinct)} document(s); expected at least {folds} for"
                            f" {folds}-fold cross-validation (pass a held-out file with --heldout instead)")
    # groups in a seeded, machine-independent order, dealt to the folds in turn
    ranked = sorted(distinct, key=lambda g: hashlib.sha256(f"{settings.seed}:{document_key(records[groups.index(g)])}".encode()).hexdigest())
    fold_of = {g: i % folds for i, g in enumerate(ranked)}
    gold: list[str] = []
    new_labels: list[str] = []
    with tempfile.TemporaryDirectory(prefix="stance-cv-") as scratch:
        for fold in range(folds):
            test = [r for r, g in zip(records, groups, strict=True) if fold_of[g] == fold]
            train = [r for r, g in zip(records, groups, strict=True) if fold_of[g] != fold]
            path = Path(scratch) / f"fold{fold}.jsonl"
            path.write_text("".join(dumps_line(r.to_json()) for r in train), encoding="utf-8")
            model_dir = Path(scratch) / f"model{fold}"
            train_model([path], model_dir, config, settings, progress=progress, frames=False)
            predictions = run_source(str(model_dir), test, config, progress=False).predictions
            gold += [r.label for r in test]
            new_labels += [p.label for p in predictions]
            shutil.rmtree(model_dir, ignore_errors=True)
    old_labels = [p.label for p in run_source(previous, records_in_order(records, groups, fold_of, folds), config, progress=False).predictions]
    order, polar = list(config.all_label_names), list(config.polar_label_names)
    new_f1 = classification_metrics(gold, new_labels, order, polar)["macro_f1"]
    old_f1 = classification_metrics(gold, old_labels, order, polar)["macro_f1"]
    return new_f1, old_f1, len(gold)


def records_in_order(records: list[LabelledRecord], groups: list[int], fold_of: dict[int, int], folds: int) -> list[LabelledRecord]:
    """The records in the order the folds judged them (fold 0's first)."""
    return [r for fold in range(folds) for r, g in zip(records, groups, strict=True) if fold_of[g] == fold]


def _advice(records: list[LabelledRecord], previous: str, config: StanceConfig, settings: TrainSettings, new_f1: float, old_f1: float,
            folds: int, heldout: Path | None, progress: bool) -> str:
    """What to do when the new model is not better: more labels, how many the curve suggests."""
    gap = old_f1 - new_f1
    base = f"the new model scored macro-F1 {new_f1:.3f} against {old_f1:.3f} for the current one on {len(records)} reviewed pairs"
    if heldout is not None or len(records) < 40:
        return base + "; review more paragraphs (push the next batch with `stance push RUN --limit N`) and retrain"
    half = records[: len(records) // 2]
    try:
        half_f1, _, _ = cross_validate(half, previous, config, settings, folds=folds, progress=progress)
    except TrainingError:
        return base + "; review more paragraphs and retrain"
    slope = new_f1 - half_f1  # macro-F1 gained by doubling the data
    if slope <= 0.005:
        return base + (f"; with half the data it scored {half_f1:.3f}: more labels of the same kind are not improving it."
                       " Check the labels' agreement (stance pull prints it), or train with --base to change the starting point")
    doublings = gap / slope
    needed = int(math.ceil(len(records) * (2 ** doublings - 1)))
    return base + (f"; with half the data it scored {half_f1:.3f} ({slope:+.3f} per doubling): about {needed} more reviewed pairs"
                   " should close the gap; review them and run retrain again")


def _point(link: Path, target: Path) -> None:
    """Re-point the symlink atomically (a new link renamed over the old one)."""
    temporary = link.with_name(f".{link.name}.new")
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target.resolve(), link.parent.resolve()), temporary)
    os.replace(temporary, link)


def _log(models_dir: Path, record: dict[str, Any]) -> None:
    with (models_dir / PROMOTIONS).open("a", encoding="utf-8") as handle:
        handle.write(dumps_line(record))


def describe(result: RetrainResult) -> str:
    """What happened, and what to run next."""
    verdict = "promoted" if result.promoted else "kept the current model"
    lines = [
        f"new {result.new_model}: macro-F1 {result.new_macro_f1:.3f} vs {result.previous_macro_f1:.3f} for {result.previous} -> {verdict}",
        f"judged by {result.method}",
    ]
    if result.report_dir is not None:
        lines.append(f"report: {result.report_dir}/report.md")
    if result.promoted:
        current = result.new_model.parent / CURRENT
        lines.append(f"next batch: stance annotate NEW_ARTICLES/ --model {current} --out RUN")
    elif result.advice:
        lines.append(f"what to do: {result.advice}")
    return "\n".join(lines)


def promotions(models_dir: Path) -> list[dict[str, Any]]:
    path = models_dir / PROMOTIONS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
