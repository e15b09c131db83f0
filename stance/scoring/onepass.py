"""The one-pass model's input and scorer: each paragraph encoded once, every target read from its mention tokens.

The input is the paragraph alone, with the mentions of every target being scored wrapped in
markers (`@ Beijing @`, as the target-conditioned models mark them). One forward pass gives the
token states; a target's stance is read from the mean of its mention tokens (markers included),
the paragraph's tokens attended from them and the paragraph's mean (`stance.training.onepass_net.OnePassNet`), and the frames from the
paragraph's mean-pooled unit vector through the model's frame head. So a paragraph costs one
pass however many targets it names, and frames cost nothing more, where the target-conditioned
default costs one pass per (paragraph, mentioned target) plus one frame-encoder pass.

A target whose mentions fall beyond the token limit (`model.max_length`) is read from the
paragraph's tokens instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stance.config import StanceConfig, Target
from stance.errors import ModelError
from stance.scoring.base import ParagraphScores
from stance.scoring.batching import length_sorted_batches, token_cap
from stance.scoring.targeted import MARKER, check_labels, gate_for
from stance.scoring.versions import model_version


def mark_targets(text: str, spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[str, list[list[tuple[int, int]]]]:
    """(`text` with every span marked, per target the character regions of its marked mentions).

    Overlapping spans (of one target or several) are merged into one marked region, which then
    belongs to every target with a span in it. The marking is `mark_mentions`'s, for all targets at once.
    """
    merged: list[list[int]] = []
    for start, end in sorted({s for target_spans in spans for s in target_spans}):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces: list[str] = []
    regions: list[tuple[int, int]] = []
    cursor = length = 0
    for start, end in merged:
        pieces.append(text[cursor:start])
        length += start - cursor
        piece = f"{MARKER} {text[start:end]} {MARKER}"
        regions.append((length, length + len(piece)))
        pieces.append(piece)
        length += len(piece)
        cursor = end
    pieces.append(text[cursor:])
    owned = []
    for target_spans in spans:
        mine = {i for s, e in target_spans for i, (ms, me) in enumerate(merged) if ms <= s and e <= me}
        owned.append([regions[i] for i in sorted(mine)])
    return "".join(pieces), owned


def encode_marked(tokenizer: Any, texts: Sequence[str], regions: Sequence[Sequence[Sequence[tuple[int, int]]]], max_length: int) -> list[dict[str, Any]]:
    """Tokenized marked texts, unpadded, each with `mention_tokens`: per target the token positions of its regions
    (the paragraph's tokens when none survived truncation)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True)
    features = []
    for i in range(len(texts)):
        offsets = encoded["offset_mapping"][i]
        words = [k for k, (a, b) in enumerate(offsets) if b > a]
        positions = []
        for target_regions in regions[i]:
            tokens = [k for k in words if any(a < re and b > rs for rs, re in target_regions for a, b in [offsets[k]])]
            positions.append(tokens or words or [0])
        feature = {k: encoded[k][i] for k in encoded if k != "offset_mapping"}
        feature["mention_tokens"] = positions
        features.append(feature)
    return features


def collate(features: Sequence[dict[str, Any]], tokenizer: Any, device: Any) -> tuple[dict[str, Any], Any, Any]:
    """(padded model inputs, row of each target instance, (instances, length) mention masks)."""
    import torch

    padded = tokenizer.pad([{k: v for k, v in f.items() if k != "mention_tokens"} for f in features], padding=True, return_tensors="pt")
    width = padded["input_ids"].shape[1]
    rows, masks = [], []
    for row, feature in enumerate(features):
        for tokens in feature["mention_tokens"]:
            mask = torch.zeros(width)
            mask[tokens] = 1.0
            rows.append(row)
            masks.append(mask)
    mask_tensor = torch.stack(masks) if masks else torch.zeros(0, width)
    return {k: v.to(device) for k, v in padded.items()}, torch.tensor(rows, dtype=torch.long, device=device), mask_tensor.to(device)


class OnePassScorer:
    """The `Scorer` of a one-pass model directory (`stance train --one-pass`): stance and frames from one pass."""

    def __init__(self, config: StanceConfig, model_dir: str) -> None:
        from stance.scoring.loading import pick_device
        from stance.training.model import StanceModel
        from stance.training.onepass_model import load_one_pass

        m = config.model
        if m.runtime != "torch" or m.quantize != "none":
            raise ModelError(f"model.runtime {m.runtime!r} / model.quantize {m.quantize!r}: a one-pass model ({model_dir}) runs on torch in fp32;"
                             " expected runtime: torch and quantize: none")
        self.config = config
        self.stance_model = StanceModel.from_pretrained(model_dir)
        self.labels = self.stance_model.labels
        check_labels(config, self.labels, f"the model in {model_dir}")
        self.device = pick_device(m.device)
        self.net, self.tokenizer = load_one_pass(self.stance_model)
        self.net.to(self.device)
        self.max_length = min(m.max_length, int(getattr(self.net.encoder.config, "max_position_embeddings", 512)))
        self.head = self.stance_model.frame_head
        self.scores_frames = self.head is not None
        self.thresholds = dict(zip(self.head.frames, self.head.paragraph_thresholds, strict=True)) if self.head is not None else {}
        if self.head is not None:
            scored = [f.name for f in config.frames.items if not f.residual]
            if list(self.head.frames) != scored:
                raise ModelError(f"the frame head of {model_dir} scores the frames {list(self.head.frames)} but the config defines {scored};"
                                 " use the config the model was trained with (its stance_config.yaml), or frames.scorer: embedding")
        self.gate = gate_for(config)
        self.backend = "one-pass"
        self.name = self.stance_model.name
        self.weights = tuple(self.stance_model.weights_digests())
        self.model_version = model_version(self.backend, self.name, list(self.weights), config)

    def forward(self, features: Sequence[dict[str, Any]], frames: bool) -> tuple[list[Any], list[Any]]:
        """Per feature, its targets' probability rows (a (targets, labels) tensor) and its unit vector (None without frames)."""
        import torch

        stance_rows: list[Any] = [None] * len(features)
        vectors: list[Any] = [None] * len(features)
        lengths = [len(f["input_ids"]) for f in features]
        cap = token_cap(self.config.model.max_tokens_per_batch, self.device)
        with torch.inference_mode():
            for batch in length_sorted_batches(lengths, self.config.model.batch_size, cap):
                chosen = [features[i] for i in batch]
                inputs, rows, masks = collate(chosen, self.tokenizer, self.device)
                hidden, mean = self.net.encode(**inputs)
                probs = torch.softmax(self.net.stance_logits(hidden, mean, rows, masks, inputs["attention_mask"]).double(), dim=-1).cpu() if len(rows) else None
                unit = torch.nn.functional.normalize(mean.float(), dim=-1).cpu() if frames else None
                start = 0
                for k, index in enumerate(batch):
                    count = len(chosen[k]["mention_tokens"])
                    stance_rows[index] = probs[start:start + count] if probs is not None else torch.zeros(0, len(self.labels))
                    start += count
                    vectors[index] = unit[k] if unit is not None else None
        return stance_rows, vectors

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]], *, frames: bool = True) -> list[ParagraphScores]:
        """Stance toward each target of `targets[i]` and (asked and with a frame head) frames, one pass per text."""
        from stance.prompts import with_residual_frame

        not_mentioned = self.config.not_mentioned.name
        with_not_mentioned = not self.config.gate.enabled
        want_frames = frames and self.head is not None
        marked, regions, names, absent = [], [], [], []
        for i, (text, text_targets) in enumerate(zip(texts, targets, strict=True)):
            spans, mine = [], []
            for target in text_targets:
                found = self.gate.spans(text, target)
                if with_not_mentioned and not found:
                    absent.append((i, target.name))  # as the target-conditioned scorer: the gate decides an absent target
                    continue
                spans.append(found)
                mine.append(target.name)
            text_marked, text_regions = mark_targets(text, spans)
            marked.append(text_marked)
            regions.append(text_regions)
            names.append(mine)
        needed = [i for i in range(len(texts)) if names[i] or want_frames]  # no target and no frames: nothing to run
        features = encode_marked(self.tokenizer, [marked[i] for i in needed], [regions[i] for i in needed], self.max_length)
        stance_rows, vectors = self.forward(features, want_frames)
        results = [ParagraphScores(stance={}, frames={}) for _ in texts]
        frame_rows = self.head.probabilities([v.numpy() for v in vectors]) if want_frames and vectors else []
        for k, i in enumerate(needed):
            for name, row in zip(names[i], stance_rows[k].tolist(), strict=True):
                scores = dict(zip(self.labels, row, strict=True))
                ordered = {label: scores[label] for label in self.config.stance_label_names}
                if with_not_mentioned:
                    ordered[not_mentioned] = 0.0
                results[i].stance[name] = ordered
            if want_frames:
                results[i].frames.update(with_residual_frame(self.config, dict(zip(self.head.frames, map(float, frame_rows[k]), strict=True))))
        for i, name in absent:
            results[i].stance[name] = {**dict.fromkeys(self.config.stance_label_names, 0.0), not_mentioned: 1.0}
        return results
