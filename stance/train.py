"""Training: labelled records -> a target-conditioned classifier -> a self-describing model directory.

`stance train FILES... --out DIR` fine-tunes a sequence-classification model (the bundled
MiniLM by default) on (target, marked text) pairs with the config's stance labels, with the
`transformers` Trainer: class-weighted loss, fixed seeds, a dev split grouped by document,
evaluation on dev macro-F1 twice per epoch, early stopping and the best dev state kept. The
output directory holds the weights, tokenizer, `stance_model.json` (labels, input format, model
version: the marker that makes `stance annotate --model DIR` use it), the config used, a model
card (README.md) and the dev evaluation report (eval/).

`not_mentioned` records are left out of training: the alias gate decides not_mentioned before
the model runs (and still does with the gate off, see stance/scoring/targeted.py), so the model
only learns to tell stances apart; the card counts the records left out.

`train_adapter` trains the same task as a LoRA adapter over the frozen encoder (the shipped default).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import RunError, TrainingError
from stance.fileio import atomic_write_json, atomic_writer, file_sha256
from stance.labelled import FileSummary, document_groups, grouped_split, label_counts, read_labelled
from stance.records import LabelledRecord
from stance.scoring.loading import FINETUNED_MARKER, load_pretrained, resolve_model_source
from stance.scoring.targeted import INPUT_FORMAT, model_inputs

DEFAULT_BASE = "bundled:all-MiniLM-L6-v2"


@dataclass
class TrainSettings:
    """Everything that shapes training; written to the model card and stance_model.json."""

    base: str = DEFAULT_BASE
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int | None = None  # None: the config's model.max_length
    seed: int = 42
    dev_fraction: float = 0.1
    evals_per_epoch: int = 2
    patience: int = 3  # evaluations without a better dev macro-F1 before stopping
    class_weights: bool = True
    lora_rank: int | None = None  # set: train a LoRA adapter over the frozen base instead of everything
    lora_alpha: float = 16.0
    lora_dropout: float = 0.1


@dataclass
class PreparedData:
    """Training and dev records after validation, plus what the model card reports about them."""

    train: list[LabelledRecord]
    dev: list[LabelledRecord]
    files: list[FileSummary]
    dev_files: list[FileSummary]
    dropped_not_mentioned: int
    duplicates: int
    left_out_for_dev_overlap: int
    dev_source: str


@dataclass
class TrainResult:
    out_dir: Path
    model_version: str
    seconds: float
    steps: int
    best_step: int | None
    dev_metrics: dict[str, Any] | None
    data: PreparedData
    log: list[dict[str, Any]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- data


def prepare_data(files: Sequence[str | Path], config: StanceConfig, settings: TrainSettings, dev_file: str | Path | None = None) -> PreparedData:
    """Read and validate the training files (and the dev file), drop not_mentioned, split dev off by document."""
    if not files:
        raise TrainingError("no training files given; expected one or more JSON Lines files of labelled records")
    records, summaries = read_labelled(files, config, what="training records")
    records, dropped = _without_not_mentioned(records, config)
    records, duplicates = _deduplicated(records)
    if not records:
        raise TrainingError(
            f"{', '.join(map(str, files))}: no record has a stance label ({', '.join(config.stance_label_names)});"
            f" all {dropped} are {config.not_mentioned.name}, which the alias gate decides, not the model"
        )
    dev_summaries: list[FileSummary] = []
    left_out = 0
    if dev_file is not None:
        dev, dev_summaries = read_labelled([dev_file], config, what="dev records")
        dev, _ = _without_not_mentioned(dev, config)
        # leave out training records that share a document or a text with dev: no leakage
        groups = document_groups([*dev, *records])
        dev_groups = set(groups[: len(dev)])
        kept = [r for r, g in zip(records, groups[len(dev) :], strict=True) if g not in dev_groups]
        left_out = len(records) - len(kept)
        train, source = kept, f"file {dev_file}"
    else:
        train_idx, dev_idx = grouped_split(records, settings.dev_fraction, settings.seed)
        train, dev = [records[i] for i in train_idx], [records[i] for i in dev_idx]
        source = f"{settings.dev_fraction:.0%} of the training records, grouped by document (seed {settings.seed})"
    labels_seen = {r.label for r in train}
    if len(train) < 2 or len(labels_seen) < 2:
        raise TrainingError(
            f"the training data has {len(train)} usable record(s) with label(s) {sorted(labels_seen)};"
            " expected at least two records and two different stance labels"
        )
    return PreparedData(train, dev, summaries, dev_summaries, dropped, duplicates, left_out, source)


def _without_not_mentioned(records: list[LabelledRecord], config: StanceConfig) -> tuple[list[LabelledRecord], int]:
    kept = [r for r in records if r.label != config.not_mentioned.name]
    return kept, len(records) - len(kept)


def _deduplicated(records: list[LabelledRecord]) -> tuple[list[LabelledRecord], int]:
    """The last label wins for a repeated (id, target, span): a later file corrects an earlier one."""
    latest: dict[tuple[str, str, Any], int] = {}
    for i, record in enumerate(records):
        latest[(record.id, record.target, record.span)] = i
    keep = sorted(latest.values())
    return [records[i] for i in keep], len(records) - len(keep)


def encode_records(records: Sequence[LabelledRecord], config: StanceConfig, tokenizer: Any, label2id: dict[str, int], max_length: int) -> Any:
    """A `datasets.Dataset` of tokenized (target, marked text) pairs with label ids."""
    from datasets import Dataset

    from stance.scoring.targeted import encode_pairs

    firsts, seconds = [], []
    for record in records:
        first, second, _ = model_inputs(record.text, record.target_for(config), record.span)
        firsts.append(first)
        seconds.append(second)
    features = encode_pairs(tokenizer, firsts, seconds, max_length)
    columns: dict[str, list[Any]] = {key: [f[key] for f in features] for key in features[0]} if features else {}
    columns["labels"] = [label2id[r.label] for r in records]
    return Dataset.from_dict(columns)


def class_weights(records: Sequence[LabelledRecord], labels: Sequence[str]) -> list[float]:
    """Inverse-frequency weights, mean 1 over the labels present (absent labels weigh 1)."""
    counts = Counter(r.label for r in records)
    present = [label for label in labels if counts[label]]
    total = sum(counts.values())
    return [total / (len(present) * counts[label]) if counts[label] else 1.0 for label in labels]


# --------------------------------------------------------------------------------------- training


def _trainer_classes() -> tuple[Any, Any, Any]:
    """The weighted Trainer and the callbacks (defined here so that importing stance.train is light)."""
    import torch
    from transformers import Trainer, TrainerCallback

    class WeightedTrainer(Trainer):
        """Cross-entropy with per-class weights against the label imbalance."""

        def __init__(self, *args: Any, loss_weights: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.loss_weights = loss_weights

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            weight = self.loss_weights.to(outputs.logits.device) if self.loss_weights is not None else None
            loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weight)
            return (loss, outputs) if return_outputs else loss

    class BestDevState(TrainerCallback):
        """Keeps the trainable parameters of the best dev macro-F1 in memory, stops after `patience`
        evaluations without improvement, and makes sure the last step is evaluated."""

        def __init__(self, patience: int) -> None:
            self.patience = patience
            self.best: float | None = None
            self.best_step: int | None = None
            self.best_state: dict[str, Any] | None = None
            self.bad = 0
            self.last_eval_step = -1

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step >= state.max_steps and self.last_eval_step != state.global_step:
                control.should_evaluate = True

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float], model: Any = None, **kwargs: Any) -> None:
            self.last_eval_step = state.global_step
            value = metrics.get("eval_macro_f1")
            if value is None or model is None:
                return
            if self.best is None or value > self.best + 1e-9:
                self.best, self.best_step, self.bad = value, state.global_step, 0
                self.best_state = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
            else:
                self.bad += 1
                if self.bad >= self.patience:
                    control.should_training_stop = True

        def restore(self, model: Any) -> None:
            if self.best_state is not None:
                missing = set(self.best_state) - {n for n, _ in model.named_parameters()}
                if missing:
                    raise RuntimeError(f"cannot restore the best dev state: {sorted(missing)[:3]} ...")
                model.load_state_dict(self.best_state, strict=False)

    class ProgressLines(TrainerCallback):
        """Plain progress lines (steps, loss, rate, time left, dev scores) on stderr."""

        def __init__(self, show_steps: bool) -> None:
            self.show_steps = show_steps
            self.started = time.monotonic()

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            logs = logs or {}
            elapsed = time.monotonic() - self.started
            if "eval_macro_f1" in logs:
                print(
                    f"dev @ step {state.global_step}: macro-F1 {logs['eval_macro_f1']:.3f}, accuracy {logs.get('eval_accuracy', 0):.3f}"
                    f" (best {max(logs['eval_macro_f1'], state.best_metric or 0):.3f})",
                    file=sys.stderr,
                    flush=True,
                )
            elif "loss" in logs and self.show_steps and state.global_step:
                rate = state.global_step / elapsed
                left = (state.max_steps - state.global_step) / rate if rate else 0
                print(
                    f"train: step {state.global_step}/{state.max_steps} (epoch {state.epoch:.2f}), loss {logs['loss']:.4f},"
                    f" {rate:.2f} steps/s, about {left / 60:.1f} min left",
                    file=sys.stderr,
                    flush=True,
                )

    return WeightedTrainer, BestDevState, ProgressLines


def _load_base(base: str, labels: Sequence[str]) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    class _Classifier:
        @staticmethod
        def from_pretrained(source: str) -> Any:
            return AutoModelForSequenceClassification.from_pretrained(
                source,
                num_labels=len(labels),
                id2label=dict(enumerate(labels)),
                label2id={label: i for i, label in enumerate(labels)},
                ignore_mismatched_sizes=True,  # a base with another head (a previous stance model, an NLI model)
            )

    tokenizer = load_pretrained(AutoTokenizer, base, "tokenizer")
    model = load_pretrained(_Classifier, base, "base model")
    return tokenizer, model


def check_base(base: str) -> str:
    """The base's local directory or hub name; raises ModelError at once for a missing path."""
    return resolve_model_source(base)


def _fit(data: PreparedData, config: StanceConfig, settings: TrainSettings, work_dir: Path, progress: bool) -> tuple[Any, Any, Any, dict[str, Any]]:
    """Train; returns (model with the best dev state, tokenizer, LoRA module names or None, facts)."""
    import torch
    from transformers import DataCollatorWithPadding, TrainingArguments, set_seed

    from stance.metrics import classification_metrics

    labels = list(config.stance_label_names)
    label2id = {label: i for i, label in enumerate(labels)}
    max_length = settings.max_length or config.model.max_length
    set_seed(settings.seed)
    tokenizer, model = _load_base(settings.base, labels)
    lora_modules = None
    if settings.lora_rank:
        from stance.scoring.lora import add_lora

        lora_modules = add_lora(model, settings.lora_rank, settings.lora_alpha, settings.lora_dropout)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    train_set = encode_records(data.train, config, tokenizer, label2id, max_length)
    dev_set = encode_records(data.dev, config, tokenizer, label2id, max_length) if data.dev else None

    steps_per_epoch = max(1, math.ceil(len(train_set) / settings.batch_size))
    total_steps = settings.max_steps or math.ceil(steps_per_epoch * settings.epochs)
    eval_steps = max(1, min(total_steps, math.ceil(steps_per_epoch / max(1, settings.evals_per_epoch))))
    show_bars = progress and sys.stderr.isatty()
    args = TrainingArguments(
        output_dir=str(work_dir / "trainer"),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=max(64, settings.batch_size),
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_ratio,
        lr_scheduler_type="linear",
        eval_strategy="steps" if dev_set is not None else "no",
        eval_steps=eval_steps,
        save_strategy="no",  # the best dev state is kept in memory by BestDevState
        logging_strategy="steps",
        logging_steps=max(1, min(50, total_steps // 20 or 1)),
        report_to="none",
        seed=settings.seed,
        data_seed=settings.seed,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: less padding, faster on CPU
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=not show_bars,
        log_level="error",
    )
    polar = list(config.polar_label_names)

    def dev_metrics(prediction: Any) -> dict[str, float]:
        predicted = prediction.predictions.argmax(-1)
        m = classification_metrics([labels[i] for i in prediction.label_ids], [labels[i] for i in predicted], labels, polar)
        return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "f_avg": m["f_avg"] or 0.0}

    weighted_trainer, best_dev_state, progress_lines = _trainer_classes()
    best = best_dev_state(settings.patience)
    callbacks = [best] + ([progress_lines(show_steps=not show_bars)] if progress else [])
    weights = torch.tensor(class_weights(data.train, labels), dtype=torch.float32) if settings.class_weights else None
    trainer = weighted_trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=dev_metrics if dev_set is not None else None,
        callbacks=callbacks,
        loss_weights=weights,
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # raw log dicts on stdout; ProgressLines says it better
    started = time.monotonic()
    output = trainer.train()
    seconds = time.monotonic() - started
    best.restore(trainer.model)
    model = trainer.model.to("cpu").eval()
    facts = {
        "seconds": round(seconds, 1),
        "steps": int(output.global_step),
        "steps_per_epoch": steps_per_epoch,
        "epochs_done": round(output.global_step / steps_per_epoch, 2),
        "eval_every_steps": eval_steps,
        "best_step": best.best_step,
        "best_dev_macro_f1_in_training": best.best,
        "stopped_early": output.global_step < total_steps,
        "trainable_parameters": trainable,
        "device": str(trainer.args.device),
        "max_length": max_length,
        "class_weights": dict(zip(labels, weights.tolist(), strict=True)) if weights is not None else None,
        "log_history": trainer.state.log_history,
    }
    shutil.rmtree(work_dir / "trainer", ignore_errors=True)
    return model, tokenizer, lora_modules, facts


# ------------------------------------------------------------------------------------------ train


def train_model(
    files: Sequence[str | Path],
    out_dir: str | Path,
    config: StanceConfig,
    settings: TrainSettings | None = None,
    *,
    dev_file: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult:
    """`stance train`: fine-tune `settings.base` on `files` into the model directory `out_dir`."""
    settings = settings or TrainSettings()
    out = Path(out_dir)
    _check_out(out, overwrite)
    check_base(settings.base)
    data = prepare_data(files, config, settings, dev_file)
    _announce(data, settings, progress)
    started = time.monotonic()
    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    model, tokenizer, _, facts = _fit(data, config, settings, work, progress)
    model.save_pretrained(work)
    tokenizer.save_pretrained(work)
    weights = work / "model.safetensors"
    info = _model_info(f"finetuned:{out.name}", config, settings, data, facts)
    info["weights_sha256"] = file_sha256(weights) if weights.is_file() else None
    atomic_write_json(work / FINETUNED_MARKER, info)
    _write_config(work / "stance_config.yaml", config, backend="finetuned", name=str(out))
    atomic_write_json(work / "training_log.json", facts.pop("log_history"))
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    version = info["model_version"] = _annotator_version(config, str(out))
    atomic_write_json(out / FINETUNED_MARKER, info)

    dev_metrics = None
    if data.dev:
        from stance.evaluate import evaluate_records

        result = evaluate_records(str(out), data.dev, config, out_dir=out / "eval", gold=data.dev_files, progress=progress)
        dev_metrics = result.metrics["model"]["overall"]
        info["dev_metrics"] = _short_metrics(dev_metrics)
        atomic_write_json(out / FINETUNED_MARKER, info)
    with atomic_writer(out / "README.md") as handle:
        handle.write(model_card(info, out.name, kind="finetuned"))
    return TrainResult(out, version, time.monotonic() - started, facts["steps"], facts["best_step"], dev_metrics, data)


def train_adapter(
    files: Sequence[str | Path],
    out_dir: str | Path,
    config: StanceConfig,
    settings: TrainSettings,
    *,
    dev_file: str | Path | None = None,
    report_dir: str | Path | None = None,
    name: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a LoRA adapter over the frozen `settings.base`; writes adapter.safetensors + adapter.json + README.md.

    `name` goes into the model version (default: the directory's name)."""
    from safetensors.torch import save_file

    from stance.scoring.adapter import ADAPTER_FORMAT, ADAPTER_JSON, ADAPTER_WEIGHTS
    from stance.scoring.lora import DEFAULT_FULL_PARAMETERS, adapter_tensors

    if not settings.lora_rank:
        raise TrainingError("train_adapter needs settings.lora_rank (for example 8)")
    out = Path(out_dir)
    _check_out(out, overwrite, allowed={ADAPTER_JSON, ADAPTER_WEIGHTS, "README.md"})
    source = check_base(settings.base)
    data = prepare_data(files, config, settings, dev_file)
    _announce(data, settings, progress)
    started = time.monotonic()
    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    model, _, lora_modules, facts = _fit(data, config, settings, work, progress)
    tensors = adapter_tensors(model, lora_modules)
    save_file(tensors, str(work / ADAPTER_WEIGHTS), metadata={"format": ADAPTER_FORMAT})
    base_weights = Path(source) / "model.safetensors"
    name = name or out.name
    info = _model_info(f"adapter:{name}", config, settings, data, facts)
    info["name"] = name
    info["weights_sha256"] = file_sha256(work / ADAPTER_WEIGHTS)
    info["format"] = ADAPTER_FORMAT
    info["base_sha256"] = file_sha256(base_weights) if base_weights.is_file() else None
    info["lora"] = {
        "rank": settings.lora_rank,
        "alpha": settings.lora_alpha,
        "scale": settings.lora_alpha / settings.lora_rank,
        "modules": lora_modules,
        "full_parameters": DEFAULT_FULL_PARAMETERS,
        "stored_tensors": len(tensors),
        "stored_parameters": sum(t.numel() for t in tensors.values()),
    }
    info["training"].pop("log_history", None)
    facts.pop("log_history", None)
    atomic_write_json(work / ADAPTER_JSON, info)
    out.mkdir(parents=True, exist_ok=True)
    for file_name in (ADAPTER_WEIGHTS, ADAPTER_JSON):
        os.replace(work / file_name, out / file_name)
    shutil.rmtree(work, ignore_errors=True)
    version = info["model_version"] = _annotator_version(config, str(out))
    atomic_write_json(out / ADAPTER_JSON, info)

    dev_metrics = None
    if data.dev:
        from stance.evaluate import evaluate_records

        report = Path(report_dir) if report_dir else out / "eval"
        info["eval_report"] = str(report)
        result = evaluate_records(str(out), data.dev, config, out_dir=report, gold=data.dev_files, progress=progress)
        dev_metrics = result.metrics["model"]["overall"]
        info["dev_metrics"] = _short_metrics(dev_metrics)
        atomic_write_json(out / ADAPTER_JSON, info)
    with atomic_writer(out / "README.md") as handle:
        handle.write(model_card(info, name, kind="adapter"))
    return TrainResult(out, version, time.monotonic() - started, facts["steps"], facts["best_step"], dev_metrics, data)


def _annotator_version(config: StanceConfig, model_dir: str) -> str:
    """The model version predictions of this model carry under `config` (see stance.scoring.versions)."""
    from stance.annotator import Annotator
    from stance.scoring import build_scorer

    return Annotator(config, build_scorer(config, model_dir)).model_version


def _check_out(out: Path, overwrite: bool, allowed: set[str] | None = None) -> None:
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file; expected a directory for the model")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        names = {p.name for p in out.iterdir()}
        if allowed is None or not names <= allowed | {"eval"}:
            raise RunError(f"--out {out} already exists and is not empty; use --overwrite to replace it, or another --out")


def _announce(data: PreparedData, settings: TrainSettings, progress: bool) -> None:
    if not progress:
        return
    print(
        f"training on {len(data.train)} records ({', '.join(f'{k} {v}' for k, v in label_counts(data.train).items())}),"
        f" dev {len(data.dev)} ({data.dev_source}); base {settings.base}",
        file=sys.stderr,
        flush=True,
    )
    if data.dropped_not_mentioned:
        print(f"left out {data.dropped_not_mentioned} not_mentioned record(s): the alias gate decides those", file=sys.stderr)


def _short_metrics(overall: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": overall["n"],
        "accuracy": round(overall["accuracy"], 4),
        "macro_f1": round(overall["macro_f1"], 4),
        "f_avg": round(overall["f_avg"], 4) if overall["f_avg"] is not None else None,
        "per_label_f1": {k: round(v["f1"], 4) for k, v in overall["per_label"].items()},
    }


def _model_info(version: str, config: StanceConfig, settings: TrainSettings, data: PreparedData, facts: dict[str, Any]) -> dict[str, Any]:
    import importlib.metadata

    labels = list(config.stance_label_names)
    return {
        "format": "stance-finetuned",
        "format_version": 1,
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "base": settings.base,
        "labels": labels,
        "label2id": {label: i for i, label in enumerate(labels)},
        "not_mentioned": f"{config.not_mentioned.name} is decided by the alias gate, not by this model (no such class)",
        "input_format": INPUT_FORMAT,
        "max_length": facts["max_length"],
        "frames": {"source": "embedding scorer (this model has no frame head)", "encoder": config.frames.encoder},
        "config_fingerprint": config.fingerprint(),
        "settings": asdict(settings),
        "training": {k: v for k, v in facts.items() if k != "log_history"},
        "data": {
            "train_files": [f.__dict__ for f in data.files],
            "dev_files": [f.__dict__ for f in data.dev_files],
            "dev_source": data.dev_source,
            "train_records": len(data.train),
            "dev_records": len(data.dev),
            "train_labels": label_counts(data.train),
            "dev_labels": label_counts(data.dev),
            "left_out_not_mentioned": data.dropped_not_mentioned,
            "left_out_duplicates": data.duplicates,
            "left_out_sharing_a_document_with_dev": data.left_out_for_dev_overlap,
        },
        "environment": {
            name: _version(importlib.metadata, name) for name in ("stance", "torch", "transformers", "datasets")
        },
    }


def _version(metadata: Any, name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _write_config(path: Path, config: StanceConfig, *, backend: str, name: str) -> None:
    import yaml

    data = config.model_dump(mode="json")
    data["model"]["backend"] = backend
    data["model"]["name"] = name
    with atomic_writer(path) as handle:
        handle.write("# The config this model was trained with (stance labels, targets, gate, frames).\n")
        handle.write("# Use it with: stance annotate INPUTS --config THIS_FILE --model THE_MODEL_DIR --out RUN\n")
        yaml.safe_dump(data, handle, sort_keys=False, allow_unicode=True)


def model_card(info: dict[str, Any], name: str, *, kind: str) -> str:
    """README.md of a model directory: what it is, data with hashes and counts, settings, metrics."""
    data, training, settings = info["data"], info["training"], info["settings"]
    lines = [
        "---",
        "library_name: transformers" if kind == "finetuned" else "library_name: stance",
        "pipeline_tag: text-classification",
        f"base_model: {info['base']}",
        "tags: [stance, target-dependent-sentiment, stance-project]",
        "---",
        "",
        f"# {name}",
        "",
        (
            "A target-conditioned stance classifier written by `stance train`."
            if kind == "finetuned"
            else "A LoRA adapter over the frozen base encoder, written by `scripts/train_adapter.py`."
        ),
        f"Model version (stamped on every prediction made with the config it was trained with): `{info['model_version']}`.",
        "",
        "## Labels and input",
        "",
        f"- stance labels: {', '.join(info['labels'])}; {info['not_mentioned']}",
        "- input: a text pair: the target's name, then the text with each mention of the target"
        " (alias matches, or the annotated span) wrapped in `@ ... @`; one model serves every target",
        f"- longest input in training: {info['max_length']} tokens",
        f"- frames: {info['frames']['source']}, encoder {info['frames']['encoder']}",
        "",
        "## Data",
        "",
        "| file | sha256 | records | labels |",
        "|---|---|---|---|",
    ]
    for role, files in (("train", data["train_files"]), ("dev", data["dev_files"])):
        for f in files:
            labels = ", ".join(f"{k} {v}" for k, v in f["labels"].items())
            lines.append(f"| {role}: `{f['path']}` | `{f['sha256'][:16]}` | {f['records']} | {labels} |")
    lines += [
        "",
        f"- used for training: {data['train_records']} records ({', '.join(f'{k} {v}' for k, v in data['train_labels'].items())})",
        f"- dev: {data['dev_records']} records ({', '.join(f'{k} {v}' for k, v in data['dev_labels'].items())}); {data['dev_source']}",
        f"- left out: {data['left_out_not_mentioned']} not_mentioned, {data['left_out_duplicates']} repeated (id, target),"
        f" {data['left_out_sharing_a_document_with_dev']} sharing a document or text with dev",
        "",
        "## Training",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    for key, value in settings.items():
        if value is not None and (kind == "adapter" or not key.startswith("lora_")):
            lines.append(f"| {key} | {value} |")
    for key in ("steps", "epochs_done", "best_step", "stopped_early", "seconds", "device", "trainable_parameters"):
        lines.append(f"| {key} | {training.get(key)} |")
    weights = training.get("class_weights")
    if weights:
        lines.append("| class weights | " + ", ".join(f"{k} {v:.3f}" for k, v in weights.items()) + " |")
    lines += ["", "## Dev results", ""]
    metrics = info.get("dev_metrics")
    if metrics:
        lines += [
            "Computed like `stance evaluate` (alias gate, then the model) on the dev records; the full report",
            f"(per label, per target, confusion matrices, one prediction per record) is in `{info.get('eval_report', 'eval/')}`.",
            "",
            "| n | accuracy | macro-F1 | F_avg | " + " | ".join(f"F1 {k}" for k in metrics["per_label_f1"]) + " |",
            "|---|---|---|---|" + "---|" * len(metrics["per_label_f1"]),
            f"| {metrics['n']} | {metrics['accuracy']:.3f} | {metrics['macro_f1']:.3f} | {metrics['f_avg']:.3f} | "
            + " | ".join(f"{v:.3f}" for v in metrics["per_label_f1"].values())
            + " |",
        ]
    else:
        lines.append("No dev records: nothing to report (training ran for the fixed number of steps).")
    lines += ["", "## Use", "", "```bash"]
    if kind == "finetuned":
        lines += [
            f"stance annotate ARTICLES/ --model {name} --out RUN            # pre-annotate with this model",
            f"stance evaluate {name} --gold HELDOUT.jsonl --out REPORT       # evaluate it",
        ]
    else:
        lines += ["stance annotate ARTICLES/ --config configs/default.yaml --out RUN   # model.backend: adapter"]
    lines += ["```", ""]
    env = info.get("environment", {})
    lines.append("Trained with " + ", ".join(f"{k} {v}" for k, v in env.items() if v) + f", {info['created_at']}.")
    return "\n".join(lines) + "\n"

