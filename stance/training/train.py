"""`stance train`: labelled files -> a model directory (stance classifier, frame head, or both).

Where training starts (`--base`):
- `current` (the default): warm start from the model that made the pre-labels: `models/current`
  when it exists, else the config's own model (the shipped default for `model.backend: adapter`);
  a small review set then adapts that model instead of replacing it;
- a model directory or `shipped:NAME`: warm start from it;
- an encoder (`bundled:all-MiniLM-L6-v2`, a hub name, a path): a cold start with a new head.

A warm start from an adapter continues from the adapter merged into its base (all weights
train). `--adapter` trains a LoRA adapter instead, over a frozen encoder (cold) or over the
frozen warm model (an adapter on top of it: 2 MB instead of a full copy of the weights). Stance records train the classifier; frame records train the frame head; a directory
trained on only one of them keeps the other part of the model it started from.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import RunError, TrainingError
from stance.labelled import FileSummary, label_counts, read_labelled
from stance.training.data import ConflictPolicy, Split, TrainingData, read_training_files, split_stance
from stance.training.model import FRAME_HEAD_JSON, FRAME_HEAD_WEIGHTS, INPUT_FORMAT, StanceModel, resolve_model_dir

CURRENT = "current"
DEFAULT_MODELS_DIR = Path("models")
WARM_LEARNING_RATE = 3e-5
WARM_EPOCHS_SMALL = 6.0  # up to WARM_SMALL_DATA records: a few passes adapt without forgetting
WARM_SMALL_DATA = 1000
# A cold start (a new head on the raw encoder): measured on 2,000 NewsMTSC records, one epoch, NewsMTSC dev_rw/dev_mt
# macro-F1: 5e-5 and batch 32 gave 0.537/0.549; 1e-4 and 32: 0.604/0.576; 2e-4 and 16: 0.591/0.588; 1e-4 and 16: 0.721/0.602.
COLD_LEARNING_RATE = 1e-4
COLD_BATCH_SIZE = 16


@dataclass
class TrainSettings:
    """Everything that shapes `stance train` besides the data."""

    base: str = CURRENT
    models_dir: Path = DEFAULT_MODELS_DIR
    adapter: bool = False  # LoRA over a frozen encoder
    epochs: float | None = None  # None: 3, or WARM_EPOCHS_SMALL for a warm start on a small set
    max_steps: int | None = None
    batch_size: int | None = None  # None: 32, or COLD_BATCH_SIZE for a cold start of all weights
    learning_rate: float | None = None  # None: COLD_LEARNING_RATE cold, 3e-5 warm, 5e-4 for an adapter
    max_length: int | None = None
    seed: int = 42
    dev_fraction: float = 0.1
    patience: int = 3
    conflicts: ConflictPolicy = "majority"
    lora_rank: int = 8
    lora_alpha: float = 16.0
    one_pass: bool | None = None  # None: a one-pass model when the start is one (see stance.training.onepass)
    frame_vectors: str = "auto"  # what the frame head reads: encoder, stance-pass, auto (see stance.training.frames)
    name: str | None = None  # in model versions; default: the directory's name
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StartPoint:
    """What training starts from: a model directory (warm) or an encoder (cold)."""

    spec: str
    model: StanceModel | None
    encoder: str | None

    @property
    def warm(self) -> bool:
        return self.model is not None and self.model.kind is not None

    def describe(self) -> str:
        return f"{self.spec} ({'warm start' if self.warm else 'cold start from the encoder'})"


@dataclass
class TrainResult:
    out_dir: Path
    model_version: str
    seconds: float
    steps: int
    best_step: int | None
    dev_metrics: dict[str, Any] | None
    frame_metrics: dict[str, Any] | None
    start: StartPoint
    data: TrainingData
    split: Split | None


def resolve_start(base: str, config: StanceConfig, models_dir: Path) -> StartPoint:
    """The start point `--base` names (see the module docstring)."""
    from stance.scoring.factory import trained_model_name
    from stance.scoring.loading import resolve_model_source

    if base == CURRENT:
        current = models_dir / CURRENT
        if (current / "stance_model.json").is_file():
            return StartPoint(str(current.resolve()), StanceModel.from_pretrained(current), None)
        if config.model.backend in ("adapter", "finetuned"):
            spec = trained_model_name(config.model.name)
            return StartPoint(spec, StanceModel.from_pretrained(spec), None)
        base = config.model.name
    directory = resolve_model_dir(base)
    if directory is not None:
        return StartPoint(base, StanceModel.from_pretrained(directory), None)
    resolve_model_source(base)  # a clear error now for a missing path
    return StartPoint(base, None, base)


def train_model(
    files: list[Path], out_dir: str | Path, config: StanceConfig, settings: TrainSettings | None = None, *,
    dev_file: str | Path | None = None, overwrite: bool = False, progress: bool = True, frames: bool = True,
) -> TrainResult:
    """Train a model directory at `out_dir` from `files` (see the module docstring)."""
    settings = settings or TrainSettings()
    out = Path(out_dir)
    _check_out(out, overwrite)
    started = time.monotonic()
    start = resolve_start(settings.base, config, settings.models_dir)  # a missing base fails before the data is read
    data = read_training_files(files, config, conflicts=settings.conflicts)
    want_frames = frames and bool(config.frame_names) and len(data.frames) > 0
    if not data.stance and not want_frames:
        raise TrainingError(
            f"{', '.join(map(str, files))}: no record has a stance label ({', '.join(config.stance_label_names)}) or frames;"
            f" {data.dropped_not_mentioned} are {config.not_mentioned.name}, which the alias gate decides, not the model"
        )
    _announce(data, start, progress)
    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        info = _base_info(settings.name or out.name, config, settings, data, start)
        if _one_pass(settings, start):
            from stance.training.onepass import train_one_pass

            if not data.stance:
                raise TrainingError(f"{', '.join(map(str, files))}: no stance records; a one-pass model trains on stance records"
                                    " (frame records alone train a frame head: leave out --one-pass)")
            split = split_for(data, config, settings, dev_file)
            schedule = fit_settings_for(settings, start, len(split.train), cold_batch_size=32)  # one-pass: 32 cold too
            frame_metrics = train_one_pass(data, start, config, schedule, settings.adapter, work, info, split, want_frames, progress)
            info["data"].update(_split_facts(split))
        else:
            split = _train_stance(data, start, config, settings, work, info, dev_file, progress) if data.stance else None
            if split is None:
                _keep_stance_of(start, work, info)
            frame_metrics = _train_frames(data, config, settings, start, work, info, progress) if want_frames else _keep_frames_of(start, work, info)
        _finish(work, out, config, info)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    dev_metrics = None
    if split is not None and split.dev:
        from stance.evaluate import evaluate_records

        result = evaluate_records(str(out), split.dev, config, out_dir=out / "eval", gold=split.dev_files, progress=progress)
        dev_metrics = result.metrics["model"]["overall"]
        info["dev_metrics"] = _short_metrics(dev_metrics)
    from stance.training.model import write_card

    write_card(out, info)
    training = info.get("training") or {}
    return TrainResult(out, info["model_version"], time.monotonic() - started, int(training.get("steps") or 0), training.get("best_step"),
                       dev_metrics, frame_metrics, start, data, split)


def _one_pass(settings: TrainSettings, start: StartPoint) -> bool:
    """`--one-pass` as given; by default, when the start is a one-pass model."""
    if settings.one_pass is not None:
        return settings.one_pass
    return start.model is not None and start.model.kind == "one-pass"


def _train_stance(data: TrainingData, start: StartPoint, config: StanceConfig, settings: TrainSettings, work: Path,
                  info: dict[str, Any], dev_file: str | Path | None, progress: bool) -> Split:
    from stance.scoring.loading import load_pretrained
    from stance.training.model import classifier_loader
    from stance.training.trainer import fit

    labels = list(config.stance_label_names)
    split = split_for(data, config, settings, dev_file)
    from transformers import set_seed

    set_seed(settings.seed)  # a cold start's new head is initialised at load: the seed comes first
    if start.warm:
        assert start.model is not None
        if sorted(start.model.labels) != sorted(labels):
            raise TrainingError(f"{start.spec} predicts {start.model.labels}, the config's stance labels are {labels};"
                                " start from an encoder with --base, or use the model's config")
        model, tokenizer = start.model.load_classifier()
    else:
        from transformers import AutoTokenizer

        tokenizer = load_pretrained(AutoTokenizer, str(start.encoder), "tokenizer")
        model = load_pretrained(classifier_loader(labels), str(start.encoder), "base model")
    fit_settings = fit_settings_for(settings, start, len(split.train))
    result = fit(model, tokenizer, split.train, split.dev, config, fit_settings, work, progress=progress)
    log = result.facts.pop("log_history")
    from stance.fileio import atomic_write_json, file_sha256
    from stance.training.model import ADAPTER_WEIGHTS, save_model_dir

    kind = "lora" if settings.adapter else "full"
    stance: dict[str, Any] = {"kind": kind, "base": start.spec if start.warm else start.encoder}
    if start.warm:
        assert start.model is not None
        stance["started_from"] = start.spec
        stance["started_from_version"] = start.model.info.get("model_version")
        if kind == "lora":  # an adapter over the warm model: that model (merged, frozen) is its base
            stance["base_weights"] = start.model.weights_digests()
    if kind == "lora" and not start.warm:
        from stance.scoring.loading import resolve_model_source

        weights = Path(resolve_model_source(str(start.encoder))) / "model.safetensors"
        stance["base_sha256"] = file_sha256(weights) if weights.is_file() else None
    info["stance"] = stance
    info["settings"] = {**info["settings"], "fit": fit_settings.as_dict()}
    info["training"] = result.facts
    info["max_length"] = result.facts["max_length"]
    info["data"].update(_split_facts(split))
    save_model_dir(work, info, classifier=result.model, tokenizer=tokenizer)
    weights_file = work / (ADAPTER_WEIGHTS if kind == "lora" else "model.safetensors")
    stance["weights_sha256"] = file_sha256(weights_file) if weights_file.is_file() else None
    shutil.rmtree(work / "trainer", ignore_errors=True)
    atomic_write_json(work / "training_log.json", log)
    return split


def fit_settings_for(settings: TrainSettings, start: StartPoint, train_records: int, *, cold_batch_size: int = COLD_BATCH_SIZE) -> Any:
    """The fit's schedule from `settings` and the start: epochs, batch size and learning rate default by
    warm/cold/adapter (see TrainSettings); a cold start of every weight takes `cold_batch_size`."""
    from stance.training.trainer import FitSettings

    cold_full = not start.warm and not settings.adapter  # a new head on a raw encoder: more, smaller steps
    return FitSettings(
        epochs=settings.epochs or (WARM_EPOCHS_SMALL if start.warm and train_records <= WARM_SMALL_DATA else 3.0),
        max_steps=settings.max_steps, batch_size=settings.batch_size or (cold_batch_size if cold_full else 32),
        learning_rate=settings.learning_rate or (5e-4 if settings.adapter else WARM_LEARNING_RATE if start.warm else COLD_LEARNING_RATE),
        max_length=settings.max_length, seed=settings.seed, patience=settings.patience,
        lora_rank=settings.lora_rank if settings.adapter else None, lora_alpha=settings.lora_alpha,
    )


def split_for(data: TrainingData, config: StanceConfig, settings: TrainSettings, dev_file: str | Path | None) -> Split:
    """Stance records split into train and dev (`--dev FILE`, else a grouped share); at least two labels to train."""
    if dev_file is not None:
        dev_records, dev_summaries = read_labelled([dev_file], config, what="dev records")
        dev_records = [r for r in dev_records if r.label != config.not_mentioned.name]
        split = split_stance(data.stance, settings.dev_fraction, settings.seed, dev_records, dev_summaries, str(dev_file))
    else:
        split = split_stance(data.stance, settings.dev_fraction, settings.seed)
    seen = {r.label for r in split.train}
    if len(split.train) < 2 or len(seen) < 2:
        raise TrainingError(f"the training data has {len(split.train)} usable record(s) with label(s) {sorted(seen)};"
                            " expected at least two records and two different stance labels")
    return split


def _train_frames(data: TrainingData, config: StanceConfig, settings: TrainSettings, start: StartPoint, work: Path,
                  info: dict[str, Any], progress: bool) -> dict[str, Any]:
    from stance.scoring.encoder import SentenceEncoder
    from stance.training.frames import StancePassVectors, resolve_frame_vectors, train_frame_head

    m = config.model
    vectors = resolve_frame_vectors(settings.frame_vectors, start.model.frame_head if start.model is not None else None)
    source = config.frames.encoder if vectors == "encoder" else "the stance model's own pass"
    if progress:
        print(f"frames: training the frame head on {len(data.frames)} frame records (vectors: {source})", file=sys.stderr, flush=True)
    if vectors == "encoder":
        encoder: Any = SentenceEncoder(config.frames.encoder, m.device, m.max_length, m.batch_size, m.max_tokens_per_batch)
    elif info.get("stance"):
        from stance.training.model import write_card

        write_card(work, info)  # the stance classifier in `work` loads from here on: its own pass gives the vectors
        encoder = StancePassVectors(config, work)
    else:
        raise TrainingError("--frame-vectors stance-pass needs a stance classifier: give stance records, or start from a model that has one")
    result = train_frame_head(data.frames, config, encoder, seed=settings.seed)
    if vectors == "stance-pass":
        result.head.info["layers"] = encoder.layers
    result.head.save(work)
    info["frames"] = {"source": f"frame head (logistic regression per frame on {source} vectors)",
                      "encoder": encoder.model_name, "C": result.head.info.get("C")}
    info["frame_metrics"] = result.metrics
    info["data"]["frame_records"] = result.counts["paragraphs"]
    info["data"]["frame_documents"] = result.counts["documents"]
    info["data"]["frame_conflicts"] = data.frame_conflicts.as_dict()
    return result.metrics


def _keep_stance_of(start: StartPoint, work: Path, info: dict[str, Any]) -> None:
    """Frames only: the new directory keeps the stance classifier of the model it started from."""
    if not start.warm:
        info["stance"] = None
        info["stance_note"] = "none: trained on frame records only, from an encoder"
        return
    assert start.model is not None
    source = start.model.directory
    for path in source.iterdir():
        if path.is_file() and path.name not in (FRAME_HEAD_JSON, FRAME_HEAD_WEIGHTS, "README.md", "stance_model.json"):
            shutil.copy2(path, work / path.name)
    for key in ("stance", "labels", "label2id", "input_format", "max_length", "training", "dev_metrics"):
        if key in start.model.info:
            info[key] = start.model.info[key]
    info["stance"] = {**start.model.info["stance"], "kept_from": start.spec}


def _keep_frames_of(start: StartPoint, work: Path, info: dict[str, Any]) -> dict[str, Any] | None:
    """Stance only: the new directory keeps the frame head of the model it started from (if any)."""
    if start.model is None or start.model.frame_head is None:
        info["frames"] = {"source": "the configured frame scorer (this model has no frame head)"}
        return None
    for name in (FRAME_HEAD_JSON, FRAME_HEAD_WEIGHTS):
        shutil.copy2(start.model.directory / name, work / name)
    info["frames"] = {**(start.model.info.get("frames") or {}), "kept_from": start.spec}
    info["frame_metrics"] = start.model.info.get("frame_metrics")
    return None


def _finish(work: Path, out: Path, config: StanceConfig, info: dict[str, Any]) -> None:
    """Config and version written, the work directory moved into place."""
    import yaml

    from stance.training.model import write_card

    data = config.model_dump(mode="json")
    data["model"]["backend"] = "finetuned"
    data["model"]["name"] = str(out)
    with (work / "stance_config.yaml").open("w", encoding="utf-8") as handle:
        handle.write("# The config this model was trained with (stance labels, targets, gate, frames).\n")
        handle.write("# Use it with: stance annotate INPUTS --config THIS_FILE --model THE_MODEL_DIR --out RUN\n")
        yaml.safe_dump(data, handle, sort_keys=False, allow_unicode=True)
    write_card(work, info)
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    info["model_version"] = _annotator_version(config, out) if info.get("stance") else None
    write_card(out, info)


def _annotator_version(config: StanceConfig, model_dir: Path) -> str:
    """The model version this model's predictions carry under `config` (see stance.scoring.versions)."""
    from stance.annotator import Annotator
    from stance.scoring import build_scorer

    return Annotator(config, build_scorer(config, str(model_dir))).model_version


def _base_info(name: str, config: StanceConfig, settings: TrainSettings, data: TrainingData, start: StartPoint) -> dict[str, Any]:
    import importlib.metadata

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    labels = list(config.stance_label_names)
    return {
        "format": "stance-model", "format_version": 2, "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": labels, "label2id": {label: i for i, label in enumerate(labels)},
        "not_mentioned": f"{config.not_mentioned.name} is decided by the alias gate, not by this model (no such class)",
        "input_format": INPUT_FORMAT, "max_length": settings.max_length or config.model.max_length,
        "start": start.describe(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in settings.__dict__.items() if k != "extra"},
        "data": {
            "train_files": [f.__dict__ for f in data.files],
            "left_out_not_mentioned": data.dropped_not_mentioned,
            "left_out_duplicates": data.duplicates,
            "document_stance_records": len(data.document_stance),
            "conflicts": data.conflicts.as_dict(),
        },
        "environment": {n: version(n) for n in ("stance", "torch", "transformers", "peft", "datasets", "scikit-learn")},
    }


def _split_facts(split: Split) -> dict[str, Any]:
    return {
        "dev_files": [f.__dict__ for f in split.dev_files], "dev_source": split.dev_source,
        "train_records": len(split.train), "dev_records": len(split.dev),
        "train_labels": label_counts(split.train), "dev_labels": label_counts(split.dev),
        "left_out_sharing_a_document_with_dev": split.left_out_for_dev_overlap,
    }


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file; expected a directory for the model")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise RunError(f"--out {out} already exists and is not empty; use --overwrite to replace it, or another --out")


def _announce(data: TrainingData, start: StartPoint, progress: bool) -> None:
    if not progress:
        return
    counts = ", ".join(f"{k} {v}" for k, v in label_counts(data.stance).items())
    print(f"training on {len(data.stance)} stance records ({counts}) and {len(data.frames)} frame records; start: {start.describe()}",
          file=sys.stderr, flush=True)
    if data.dropped_not_mentioned:
        print(f"left out {data.dropped_not_mentioned} not_mentioned record(s): the alias gate decides those", file=sys.stderr)
    if data.conflicts.disagreements:
        c = data.conflicts
        print(f"annotators disagreed on {c.disagreements} (paragraph, target) pair(s): {c.resolved} resolved, {c.dropped} dropped"
              f" (--conflicts {c.policy}), {c.adjudicated} settled by a reviewer's decision", file=sys.stderr)


def _short_metrics(overall: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": overall["n"], "accuracy": round(overall["accuracy"], 4), "macro_f1": round(overall["macro_f1"], 4),
        "f_avg": round(overall["f_avg"], 4) if overall["f_avg"] is not None else None,
        "per_label_f1": {k: round(v["f1"], 4) for k, v in overall["per_label"].items()},
    }


__all__ = ["CURRENT", "FileSummary", "StartPoint", "TrainResult", "TrainSettings", "resolve_start", "train_model"]
