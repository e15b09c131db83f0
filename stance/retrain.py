"""Closing the loop: train on reviewed data, evaluate against the current model on the same
held-out file, and promote the new model only when it is better.

The current model is the `current` symlink in the models directory (absent: the config's own
scorer, i.e. the zero-shot default). Every decision is appended to `promotions.jsonl` there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import TrainingError
from stance.fileio import dumps_line
from stance.labelled import document_groups, read_labelled
from stance.train import TrainSettings, train_model

CURRENT = "current"
PROMOTIONS = "promotions.jsonl"


@dataclass
class RetrainResult:
    new_model: Path
    previous: str
    new_macro_f1: float
    previous_macro_f1: float
    promoted: bool
    report_dir: Path


def current_model(models_dir: Path) -> str:
    """The model `models_dir/current` points to, or `config` (the config's scorer) when there is none."""
    link = models_dir / CURRENT
    return str(link.resolve()) if link.exists() else "config"


def retrain_and_promote(
    files: list[Path],
    heldout: Path,
    models_dir: Path,
    config: StanceConfig,
    settings: TrainSettings,
    *,
    name: str | None = None,
    min_gain: float = 0.0,
    progress: bool = True,
) -> RetrainResult:
    """Train `models_dir/<name>`, compare it with the current model on `heldout` (macro-F1) and
    point `models_dir/current` at it when it beats the current one by more than `min_gain`."""
    from stance.evaluate import evaluate_records

    models_dir.mkdir(parents=True, exist_ok=True)
    heldout_records, heldout_files = read_labelled([heldout], config, what="held-out records")
    training, _ = read_labelled(files, config, what="training records")
    groups = document_groups([*heldout_records, *training])
    shared = set(groups[: len(heldout_records)]) & set(groups[len(heldout_records) :])
    if shared:
        raise TrainingError(
            f"{heldout} shares {len(shared)} document(s) or text(s) with the training files; expected held-out"
            " paragraphs from other documents, or the comparison would flatter the new model"
        )
    previous = current_model(models_dir)
    name = name or "stance-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    new_dir = models_dir / name
    train_model(files, new_dir, config, settings, progress=progress)
    report_dir = new_dir / "heldout"
    result = evaluate_records(str(new_dir), heldout_records, config, out_dir=report_dir, against=previous,
                              gold=heldout_files, progress=progress)
    new_f1 = result.metrics["model"]["overall"]["macro_f1"]
    old_f1 = result.metrics["against"]["overall"]["macro_f1"]
    promoted = new_f1 > old_f1 + min_gain
    if promoted:
        _point(models_dir / CURRENT, new_dir)
    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "new": str(new_dir),
        "new_version": result.metrics["model"]["model_version"],
        "previous": previous,
        "previous_version": result.metrics["against"]["model_version"],
        "heldout": str(heldout),
        "heldout_sha256": heldout_files[0].sha256,
        "new_macro_f1": round(new_f1, 4),
        "previous_macro_f1": round(old_f1, 4),
        "min_gain": min_gain,
        "promoted": promoted,
    }
    with (models_dir / PROMOTIONS).open("a", encoding="utf-8") as handle:
        handle.write(dumps_line(record))
    return RetrainResult(new_dir, previous, new_f1, old_f1, promoted, report_dir)


def _point(link: Path, target: Path) -> None:
    """Re-point the symlink atomically (a new link renamed over the old one)."""
    temporary = link.with_name(f".{link.name}.new")
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target.resolve(), link.parent.resolve()), temporary)
    os.replace(temporary, link)


def describe(result: RetrainResult) -> str:
    """What happened, and what to run next."""
    verdict = "promoted" if result.promoted else "kept the current model"
    lines = [
        f"new {result.new_model}: macro-F1 {result.new_macro_f1:.3f} vs {result.previous_macro_f1:.3f} for {result.previous} -> {verdict}",
        f"report: {result.report_dir}/report.md",
    ]
    if result.promoted:
        current = result.new_model.parent / CURRENT
        lines.append(f"next batch: stance annotate NEW_ARTICLES/ --model {current} --out RUN")
        lines.append(f"or in a config:  model: {{backend: finetuned, name: {current}}}")
    return "\n".join(lines)


def promotions(models_dir: Path) -> list[dict[str, Any]]:
    path = models_dir / PROMOTIONS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
