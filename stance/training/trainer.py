"""Fitting the target-conditioned stance classifier: one pipeline for full fine-tuning and LoRA.

The `transformers` Trainer on CPU (CUDA when present): class-weighted cross-entropy, fixed
seeds (the same seed gives the same weights), length-grouped batches, evaluation on dev macro-F1
a few times per epoch with the best dev state kept and early stopping, or, when dev would be too
small to choose on (`MIN_DEV_FOR_SELECTION` records), a fixed number of epochs and no selection
(the model card says which). LoRA adapters are peft's (`get_peft_model`), saved as peft saves them.

Importing this module imports torch and transformers: only the training commands do.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_callback import PrinterCallback

from stance.config import StanceConfig
from stance.metrics import classification_metrics
from stance.records import LabelledRecord
from stance.scoring.targeted import encode_pairs, model_inputs

MIN_DEV_FOR_SELECTION = 30
# the attention projections and both feed-forward layers of every transformer block
LORA_TARGETS = r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
# trained in full beside the LoRA matrices: the classification head, the pooler in front of it, the layer norms (tiny)
LORA_FULLY_TRAINED = ["classifier", "pooler", "LayerNorm"]


@dataclass
class FitSettings:
    """What shapes one fit; written to the model card."""

    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int | None = None  # None: the config's model.max_length
    seed: int = 42
    evals_per_epoch: int = 2
    patience: int = 3  # evaluations without a better dev macro-F1 before stopping
    class_weights: bool = True
    lora_rank: int | None = None  # set: train a LoRA adapter over the frozen base instead of every weight
    lora_alpha: float = 16.0
    lora_dropout: float = 0.1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def encode_records(records: Sequence[LabelledRecord], config: StanceConfig, tokenizer: Any, label2id: dict[str, int], max_length: int) -> Any:
    """A `datasets.Dataset` of tokenized (target, marked text) pairs with label ids."""
    from datasets import Dataset

    from stance.scoring.targeted import gate_for

    gate = gate_for(config)
    firsts, seconds = [], []
    for record in records:
        first, second, _ = model_inputs(record.text, record.target_for(config), gate, record.span)
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
        if state.global_step >= state.max_steps and self.last_eval_step != state.global_step and args.eval_strategy != "no":
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
            print(f"dev @ step {state.global_step}: macro-F1 {logs['eval_macro_f1']:.3f}, accuracy {logs.get('eval_accuracy', 0):.3f}",
                  file=sys.stderr, flush=True)
        elif "loss" in logs and self.show_steps and state.global_step:
            rate = state.global_step / elapsed
            left = (state.max_steps - state.global_step) / rate if rate else 0
            print(f"train: step {state.global_step}/{state.max_steps} (epoch {state.epoch:.2f}), loss {logs['loss']:.4f},"
                  f" {rate:.2f} steps/s, about {left / 60:.1f} min left", file=sys.stderr, flush=True)


def add_lora(model: Any, settings: FitSettings) -> Any:
    """The model wrapped by peft: LoRA on every attention and feed-forward layer, head, pooler and layer norms trained in full."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=settings.lora_rank, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout, task_type="SEQ_CLS",
                      target_modules=LORA_TARGETS, modules_to_save=list(LORA_FULLY_TRAINED))
    return get_peft_model(model, lora)


@dataclass
class FitResult:
    model: Any  # on the CPU, eval mode; a peft model when LoRA was trained
    facts: dict[str, Any]


def fit(
    model: Any, tokenizer: Any, train: Sequence[LabelledRecord], dev: Sequence[LabelledRecord], config: StanceConfig,
    settings: FitSettings, work_dir: Path, *, progress: bool = True,
) -> FitResult:
    """Train `model` (a sequence classifier with the config's stance labels) on `train`."""
    labels = list(config.stance_label_names)
    label2id = {label: i for i, label in enumerate(labels)}
    max_length = settings.max_length or config.model.max_length
    set_seed(settings.seed)
    if settings.lora_rank:
        model = add_lora(model, settings)
    else:
        for parameter in model.parameters():  # a merged adapter loads frozen (inference): every weight trains here
            parameter.requires_grad_(True)
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    select = len(dev) >= MIN_DEV_FOR_SELECTION
    train_set = encode_records(train, config, tokenizer, label2id, max_length)
    dev_set = encode_records(dev, config, tokenizer, label2id, max_length) if select else None
    steps_per_epoch = max(1, math.ceil(len(train_set) / settings.batch_size))
    total_steps = settings.max_steps or math.ceil(steps_per_epoch * settings.epochs)
    eval_steps = max(1, min(total_steps, math.ceil(steps_per_epoch / max(1, settings.evals_per_epoch))))
    show_bars = progress and sys.stderr.isatty()
    args = TrainingArguments(
        output_dir=str(work_dir / "trainer"), num_train_epochs=settings.epochs, max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.batch_size, per_device_eval_batch_size=max(64, settings.batch_size),
        learning_rate=settings.learning_rate, weight_decay=settings.weight_decay, warmup_steps=settings.warmup_ratio,
        lr_scheduler_type="linear", eval_strategy="steps" if select else "no", eval_steps=eval_steps,
        save_strategy="no",  # the best dev state is kept in memory by BestDevState
        logging_strategy="steps", logging_steps=max(1, min(50, total_steps // 20 or 1)), report_to="none",
        seed=settings.seed, data_seed=settings.seed,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: less padding, faster on CPU
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=not show_bars, log_level="error",
    )
    polar = list(config.polar_label_names)

    def dev_metrics(prediction: Any) -> dict[str, float]:
        predicted = prediction.predictions.argmax(-1)
        m = classification_metrics([labels[i] for i in prediction.label_ids], [labels[i] for i in predicted], labels, polar)
        return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "f_avg": m["f_avg"] or 0.0}

    best = BestDevState(settings.patience)
    weights = torch.tensor(class_weights(train, labels), dtype=torch.float32) if settings.class_weights else None
    trainer = WeightedTrainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=dev_set, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=dev_metrics if select else None, callbacks=[best] + ([ProgressLines(show_steps=not show_bars)] if progress else []),
        loss_weights=weights,
    )
    trainer.remove_callback(PrinterCallback)  # raw log dicts on stdout; ProgressLines says it better
    started = time.monotonic()
    output = trainer.train()
    seconds = time.monotonic() - started
    best.restore(trainer.model)
    selection = (f"best dev macro-F1 of {output.global_step // eval_steps + 1} evaluations on {len(dev)} dev records" if select else
                 f"none: the dev split holds {len(dev)} records (fewer than {MIN_DEV_FOR_SELECTION}); trained for the fixed number of steps")
    facts = {
        "seconds": round(seconds, 1), "steps": int(output.global_step), "steps_per_epoch": steps_per_epoch,
        "epochs_done": round(output.global_step / steps_per_epoch, 2), "eval_every_steps": eval_steps if select else None,
        "best_step": best.best_step, "best_dev_macro_f1_in_training": best.best, "stopped_early": output.global_step < total_steps,
        "model_selection": selection, "trainable_parameters": trainable, "device": str(trainer.args.device), "max_length": max_length,
        "class_weights": dict(zip(labels, weights.tolist(), strict=True)) if weights is not None else None,
        "log_history": trainer.state.log_history,
    }
    return FitResult(trainer.model.to("cpu").eval(), facts)
