"""Training a one-pass model (`stance train --one-pass`): stance and frames from one encoder pass.

Examples are texts, not (text, target) pairs: every stance record of one text becomes a target
instance of one example (its mentions: the record's span, else what the alias gate finds), and a
paragraph's frame record gives the example its frame targets. The loss is the class-weighted
cross-entropy over the target instances plus `frame_weight` times the binary cross-entropy of the
frame logits (examples with frames only), so the encoder keeps what frames need. Selection as in
`stance.training.trainer`: dev macro-F1 a few times per epoch, the best state kept, early stopping;
no selection under `MIN_DEV_FOR_SELECTION` dev records. With `lora_rank`, a LoRA adapter (peft) of
the encoder trains over its frozen base (the heads and layer norms in full).

After the fit, the calibrated frame head (`stance.training.frames`) is fitted on the finished
model's own paragraph vectors, computed exactly as the scorer computes them.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import TrainingError
from stance.metrics import classification_metrics
from stance.records import LabelledRecord
from stance.scoring.onepass import collate, encode_marked, mark_targets
from stance.scoring.targeted import gate_for, mention_spans
from stance.training.data import FrameExample
from stance.training.trainer import LORA_TARGETS, MIN_DEV_FOR_SELECTION, FitSettings


@dataclass
class OnePassSettings(FitSettings):
    """What shapes one one-pass fit (the target-conditioned fit's settings, plus the heads' learning rate and
    the frame loss's weight); written to the model card."""

    learning_rate: float = 5e-4
    max_length: int | None = 256
    head_learning_rate: float = 1e-3
    frame_weight: float = 0.5


@dataclass
class Example:
    """One text: its target instances (mention spans, label id) and, maybe, its frames (multi-hot)."""

    text: str
    targets: list[tuple[list[tuple[int, int]], int]]
    frames: list[float] | None


def build_examples(records: Sequence[LabelledRecord], frames: Sequence[FrameExample], config: StanceConfig,
                   label2id: dict[str, int], frame_names: Sequence[str]) -> list[Example]:
    """Records grouped by text (one example per text), paragraph frame records attached to theirs (or their own example)."""
    gate = gate_for(config)
    by_text: dict[str, Example] = {}
    for record in records:
        spans = mention_spans(record.text, record.target_for(config), gate, record.span)
        example = by_text.setdefault(record.text, Example(record.text, [], None))
        example.targets.append((spans, label2id[record.label]))
    for frame in frames:
        if frame.document:
            continue
        example = by_text.setdefault(frame.text, Example(frame.text, [], None))
        example.frames = [1.0 if name in frame.frames else 0.0 for name in frame_names]
    return [e for e in by_text.values() if e.targets or e.frames is not None]


def featurize(examples: Sequence[Example], tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    marked, regions = [], []
    for example in examples:
        text, owned = mark_targets(example.text, [spans for spans, _ in example.targets])
        marked.append(text)
        regions.append(owned)
    features = encode_marked(tokenizer, marked, regions, max_length)
    for feature, example in zip(features, examples, strict=True):
        feature["_labels"] = [label for _, label in example.targets]
        feature["_frames"] = example.frames
    return features


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths (groups of 50 batches sorted by length), as `group_by_length` does."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = batch_size * 50
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start:start + group], key=lambda i: -lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _model_features(features: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in f.items() if not k.startswith("_")} for f in features]


def predict_labels(net: Any, tokenizer: Any, features: Sequence[dict[str, Any]], batch_size: int = 64) -> list[int]:
    """Argmax label ids of every target instance, in feature order."""
    import torch

    net.eval()
    out: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            inputs, rows, masks = collate(_model_features(features[start:start + batch_size]), tokenizer, "cpu")
            if len(rows):
                hidden, mean = net.encode(**inputs)
                out += net.stance_logits(hidden, mean, rows, masks, inputs["attention_mask"]).argmax(-1).tolist()
    return out


def fit_one_pass(net: Any, tokenizer: Any, train: Sequence[Example], dev: Sequence[Example], config: StanceConfig,
                 settings: OnePassSettings, *, progress: bool = True) -> dict[str, Any]:
    """Train `net` in place; the best dev state is restored. Returns the facts for the model card."""
    import torch
    from transformers import get_linear_schedule_with_warmup, set_seed

    labels = list(config.stance_label_names)
    polar = list(config.polar_label_names)
    set_seed(settings.seed)
    if settings.lora_rank:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=settings.lora_rank, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                          target_modules=LORA_TARGETS, modules_to_save=["LayerNorm"])
        net.encoder = get_peft_model(net.encoder, lora)
    else:
        for parameter in net.encoder.parameters():
            parameter.requires_grad_(True)
    for head in (net.query, net.stance_head, net.frame_logits):
        for parameter in head.parameters():
            parameter.requires_grad_(True)
    train_features = featurize(train, tokenizer, settings.max_length)
    dev_features = featurize([e for e in dev if e.targets], tokenizer, settings.max_length)
    dev_gold = [label for f in dev_features for label in f["_labels"]]
    select = len(dev_gold) >= MIN_DEV_FOR_SELECTION
    counts = Counter(label for f in train_features for label in f["_labels"])
    if len(counts) < 2:
        raise TrainingError(f"the one-pass training data has target instances of {len(counts)} label(s); expected at least two")
    present = [i for i in range(len(labels)) if counts[i]]
    total = sum(counts.values())
    weights = torch.tensor([total / (len(present) * counts[i]) if counts[i] else 1.0 for i in range(len(labels))], dtype=torch.float32)
    head_params = [p for h in (net.query, net.stance_head, net.frame_logits) for p in h.parameters()]
    head_ids = {id(p) for p in head_params}
    encoder_params = [p for p in net.parameters() if p.requires_grad and id(p) not in head_ids]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": settings.learning_rate},
                                   {"params": head_params, "lr": max(settings.head_learning_rate, settings.learning_rate)}],
                                  weight_decay=settings.weight_decay)
    rng = random.Random(settings.seed)
    lengths = [len(f["input_ids"]) for f in train_features]
    steps_per_epoch = max(1, math.ceil(len(train_features) / settings.batch_size))
    total_steps = settings.max_steps or math.ceil(steps_per_epoch * settings.epochs)
    schedule = get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * total_steps), total_steps)
    eval_every = max(1, min(total_steps, math.ceil(steps_per_epoch / max(1, settings.evals_per_epoch))))
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    best: tuple[float, int, dict[str, Any]] | None = None
    history, bad, step, started = [], 0, 0, time.monotonic()
    queue: list[list[int]] = []
    while step < total_steps:
        if not queue:
            queue = _batches(lengths, settings.batch_size, rng)
        batch = [train_features[i] for i in queue.pop()]
        net.train()
        inputs, rows, masks = collate(_model_features(batch), tokenizer, "cpu")
        hidden, mean = net.encode(**inputs)
        loss = torch.zeros(())
        gold = torch.tensor([label for f in batch for label in f["_labels"]], dtype=torch.long)
        if len(rows):
            loss = loss + torch.nn.functional.cross_entropy(net.stance_logits(hidden, mean, rows, masks, inputs["attention_mask"]), gold, weight=weights)
        framed = [k for k, f in enumerate(batch) if f["_frames"] is not None]
        if framed and settings.frame_weight > 0:
            target = torch.tensor([batch[k]["_frames"] for k in framed], dtype=torch.float32)
            logits = net.frame_logits(mean[framed])
            loss = loss + settings.frame_weight * torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if progress and (step % 25 == 0 or step == total_steps):
            rate = step / (time.monotonic() - started)
            print(f"train (one-pass): step {step}/{total_steps} (epoch {step / steps_per_epoch:.2f}), loss {float(loss.detach()):.4f},"
                  f" {rate:.2f} steps/s, about {(total_steps - step) / rate / 60:.1f} min left", file=sys.stderr, flush=True)
        if select and (step % eval_every == 0 or step == total_steps):
            predicted = predict_labels(net, tokenizer, dev_features)
            macro = classification_metrics([labels[i] for i in dev_gold], [labels[i] for i in predicted], labels, polar)["macro_f1"]
            history.append({"step": step, "dev_macro_f1": macro})
            if progress:
                print(f"dev @ step {step}: macro-F1 {macro:.3f}", file=sys.stderr, flush=True)
            if best is None or macro > best[0] + 1e-9:
                best, bad = (macro, step, {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}), 0
            else:
                bad += 1
                if bad >= settings.patience:
                    break
    if best is not None:
        net.load_state_dict(best[2], strict=False)
    net.eval()
    seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 1), "steps": step, "steps_per_epoch": steps_per_epoch, "epochs_done": round(step / steps_per_epoch, 2),
        "eval_every_steps": eval_every if select else None, "best_step": best[1] if best else None,
        "best_dev_macro_f1_in_training": best[0] if best else None, "stopped_early": step < total_steps,
        "model_selection": (f"best dev macro-F1 of {len(history)} evaluations on {len(dev_gold)} dev target instances" if select else
                            f"none: the dev split holds {len(dev_gold)} target instances (fewer than {MIN_DEV_FOR_SELECTION})"),
        "trainable_parameters": trainable, "device": "cpu", "max_length": settings.max_length,
        "train_examples": len(train_features), "train_target_instances": total,
        "class_weights": dict(zip(labels, weights.tolist(), strict=True)), "dev_history": history,
    }


class ModelVectors:
    """The `encoder` that `train_frame_head` takes, over a saved one-pass model: its paragraph vectors as the scorer computes them."""

    model_name = "one-pass (this model's own paragraph vectors)"

    def __init__(self, config: StanceConfig, directory: Path) -> None:
        from stance.scoring.onepass import OnePassScorer

        self.scorer = OnePassScorer(config, str(directory))

    def encode(self, texts: Sequence[str]) -> Any:
        import torch

        scorer = self.scorer
        marked, regions = [], []
        for text in texts:
            found = [spans for spans in (scorer.gate.spans(text, t) for t in scorer.config.targets) if spans]
            m, r = mark_targets(text, found)
            marked.append(m)
            regions.append(r)
        _, vectors = scorer.forward(encode_marked(scorer.tokenizer, marked, regions, scorer.max_length), frames=True)
        return torch.stack(vectors) if vectors else torch.empty(0, 1)


def train_one_pass(data: Any, start: Any, config: StanceConfig, schedule: FitSettings, lora: bool, work: Path, info: dict[str, Any],
                   split: Any, frames: bool, progress: bool) -> dict[str, Any] | None:
    """Fit a one-pass model from `start` on `split` (and the frame records) with `schedule` (`stance train`'s
    `fit_settings_for`; `lora`: an adapter of the encoder), write it into `work`; the frame metrics, if any."""
    import shutil

    from stance.scoring.targeted import ONE_PASS_FORMAT
    from stance.training.model import FRAME_HEAD_JSON, FRAME_HEAD_WEIGHTS, write_card
    from stance.training.onepass_model import KIND, base_digests, load_base, save_one_pass

    labels = list(config.stance_label_names)
    label2id = {label: i for i, label in enumerate(labels)}
    frame_names = [f.name for f in config.frames.items if not f.residual] if frames else []
    base = start.spec if start.warm else str(start.encoder)
    net, tokenizer = load_base(base, labels, len(frame_names))
    dev_texts = {r.text for r in split.dev}
    dev_docs = {r.doc_id for r in split.dev if r.doc_id}
    frame_train = [f for f in data.frames if f.text not in dev_texts and (f.doc_id is None or f.doc_id not in dev_docs)] if frames else []
    train = build_examples(split.train, frame_train, config, label2id, frame_names)
    dev = build_examples(split.dev, [], config, label2id, frame_names)
    fit_settings = OnePassSettings(**{**schedule.as_dict(), "max_length": schedule.max_length or config.model.max_length,
                                      "frame_weight": 0.5 if frame_names else 0.0})
    if progress:
        print(f"one-pass: {len(train)} training texts ({sum(len(e.targets) for e in train)} target instances,"
              f" {sum(e.frames is not None for e in train)} with frames), {len(dev)} dev texts; start {base}", file=sys.stderr, flush=True)
    facts = fit_one_pass(net, tokenizer, train, dev, config, fit_settings, progress=progress)
    save_one_pass(work, net, tokenizer, lora)
    stance: dict[str, Any] = {"kind": KIND, "encoder": "lora" if lora else "full", "base": base}
    if lora:
        stance["base_weights"] = base_digests(base)
    if start.warm:
        stance["started_from"] = start.spec
        stance["started_from_version"] = start.model.info.get("model_version")
    info.update({"stance": stance, "input_format": ONE_PASS_FORMAT, "training": facts, "max_length": fit_settings.max_length,
                 "one_pass": {"frame_logits": max(1, len(frame_names)), "frame_logit_names": frame_names}})
    info["settings"] = {**info["settings"], "fit": fit_settings.as_dict()}
    write_card(work, info)  # the directory loads from here on: its own vectors train the frame head
    if frames and data.frames:
        from stance.training.frames import train_frame_head

        if progress:
            print(f"frames: training the frame head on {len(data.frames)} frame records (this model's paragraph vectors)", file=sys.stderr, flush=True)
        result = train_frame_head(data.frames, config, ModelVectors(config, work), seed=schedule.seed)
        result.head.save(work)
        info["frames"] = {"source": "frame head (logistic regression per frame on this one-pass model's paragraph vectors)", "C": result.head.info.get("C")}
        info["frame_metrics"] = result.metrics
        info["data"]["frame_records"] = result.counts["paragraphs"]
        info["data"]["frame_documents"] = result.counts["documents"]
        return result.metrics
    if start.model is not None and start.model.kind == KIND and start.model.frame_head is not None:
        for name in (FRAME_HEAD_JSON, FRAME_HEAD_WEIGHTS):
            shutil.copy2(start.model.directory / name, work / name)
        info["frames"] = {**(start.model.info.get("frames") or {}), "kept_from": start.spec,
                          "note": "no frame records: the start's frame head, calibrated on the start's vectors"}
        info["frame_metrics"] = start.model.info.get("frame_metrics")
        return None
    info["frames"] = {"source": "the configured frame scorer (no frame records, so no frame head)"}
    return None
