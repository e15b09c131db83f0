"""Documents from paragraphs: each article's stance toward every target and its frames.

The rule (also in the README and configs/default.yaml, `documents:`):
- stance toward a target: over the paragraphs whose label is not `not_mentioned`, the mean of
  each stance label's score; the neutral labels' mean is multiplied by `documents.neutral_weight`;
  the label with the highest value wins. No paragraph mentions the target: `not_mentioned`.
  `counts` (every paragraph) and `shares` (among the mentioning ones) say how the labels spread.
- frames: the frame scorer's document decision. A frame head decides on the mean of the
  paragraphs' logits against its per-frame document thresholds (its logit is linear in the
  embedding, so this is its decision on the mean embedding of the paragraphs); other frame
  scorers: the frames labelled on at least `documents.frame_share` of the paragraphs, at least
  one. The residual frame (`Other`) applies when no other frame does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

from stance.config import StanceConfig
from stance.records import DocumentStance, DocumentSummary, Prediction

SCORE_DIGITS = 6
# (frame scores of each paragraph) -> (document frame scores, document frames)
DocumentFrames = Callable[[Sequence[dict[str, float]]], tuple[dict[str, float], list[str]]]


def document_stance(predictions: Sequence[Prediction], target: str, config: StanceConfig) -> DocumentStance:
    """One target's stance over a document's paragraphs (see the module docstring)."""
    not_mentioned = config.not_mentioned.name
    stance_labels = config.stance_label_names
    neutral = set(config.labels_with("neutral"))
    counts = dict.fromkeys(config.all_label_names, 0)
    mentioning = []
    for prediction in predictions:
        result = prediction.stance.get(target)
        if result is None:
            continue
        counts[result.label] = counts.get(result.label, 0) + 1
        if result.label != not_mentioned:
            mentioning.append(result)
    if not mentioning:
        return DocumentStance(not_mentioned, {**dict.fromkeys(stance_labels, 0.0), not_mentioned: 1.0}, counts, {}, 0)
    means = {}
    for label in stance_labels:
        means[label] = sum(r.scores.get(label, 0.0) for r in mentioning) / len(mentioning)
    total = sum(means.values()) or 1.0
    means = {label: value / total for label, value in means.items()}
    weighted = {label: value * (config.documents.neutral_weight if label in neutral else 1.0) for label, value in means.items()}
    label = max(weighted, key=lambda name: weighted[name])
    shares = {name: counts[name] / len(mentioning) for name in stance_labels}
    return DocumentStance(label, {k: round(v, SCORE_DIGITS) for k, v in {**means, not_mentioned: 0.0}.items()}, counts,
                          {k: round(v, SCORE_DIGITS) for k, v in shares.items()}, len(mentioning))


def share_rule(config: StanceConfig) -> DocumentFrames:
    """Frames labelled on at least `documents.frame_share` of the paragraphs (scores: their means)."""
    residual = {f.name for f in config.frames.items if f.residual}

    def decide(paragraphs: Sequence[dict[str, float]]) -> tuple[dict[str, float], list[str]]:
        if not paragraphs:
            return {}, []
        names = [f for f in config.frame_names if f not in residual]
        means = {f: sum(p.get(f, 0.0) for p in paragraphs) / len(paragraphs) for f in names}
        share = {f: sum(p.get(f, 0.0) >= config.frames.threshold for p in paragraphs) / len(paragraphs) for f in names}
        chosen = [f for f in names if share[f] > 0 and share[f] >= config.documents.frame_share]
        return _with_residual(config, means, chosen)

    return decide


def head_rule(config: StanceConfig, head: object) -> DocumentFrames:
    """A frame head's document decision: the mean of the paragraphs' logits against its document thresholds."""
    frames = list(head.frames)  # type: ignore[attr-defined]
    thresholds = dict(zip(frames, head.document_thresholds, strict=True))  # type: ignore[attr-defined]

    def decide(paragraphs: Sequence[dict[str, float]]) -> tuple[dict[str, float], list[str]]:
        if not paragraphs:
            return {}, []
        scores = {}
        for frame in frames:
            mean_logit = sum(_logit(p.get(frame, 0.0)) for p in paragraphs) / len(paragraphs)
            scores[frame] = 1.0 / (1.0 + math.exp(-mean_logit))
        chosen = [f for f in frames if scores[f] >= thresholds[f]]
        return _with_residual(config, scores, chosen)

    return decide


def rule_for(config: StanceConfig, frame_scorer: object | None) -> DocumentFrames:
    """The document frame rule of a run's frame scorer: the head's decision, else the share rule."""
    head = getattr(frame_scorer, "head", None)
    return head_rule(config, head) if head is not None else share_rule(config)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)  # scores are stored with 6 digits
    return math.log(p / (1 - p))


def _with_residual(config: StanceConfig, scores: dict[str, float], chosen: list[str]) -> tuple[dict[str, float], list[str]]:
    out = {}
    for frame in config.frames.items:
        if frame.residual:
            out[frame.name] = 1.0 - max(scores.values(), default=0.0)
        elif frame.name in scores:
            out[frame.name] = scores[frame.name]
    labels = [f.name for f in config.frames.items if f.name in chosen]
    if not labels:
        labels = [f.name for f in config.frames.items if f.residual]
    return {k: round(v, SCORE_DIGITS) for k, v in out.items()}, labels


def summarise(predictions: Sequence[Prediction], config: StanceConfig, frames: DocumentFrames) -> DocumentSummary:
    """A document's summary from its paragraphs' predictions (all of one doc_id, in order)."""
    first = predictions[0]
    targets = list(dict.fromkeys(t for p in predictions for t in p.stance))
    frame_scores, frame_labels = frames([p.frames for p in predictions]) if config.frame_names else ({}, [])
    return DocumentSummary(
        doc_id=str(first.doc_id or first.id), title=first.title, date=first.date, source=first.source, url=first.url,
        paragraphs=len(predictions), stance={t: document_stance(predictions, t, config) for t in targets},
        frames=tuple(frame_labels), frame_scores=frame_scores,
        model_version=", ".join(sorted({p.model_version for p in predictions})),
    )


def iter_documents(predictions: Iterator[Prediction], config: StanceConfig, frames: DocumentFrames) -> Iterator[DocumentSummary]:
    """Summaries of consecutive runs of one doc_id (a run's paragraphs come document by document)."""
    current: list[Prediction] = []
    for prediction in predictions:
        if current and prediction.doc_id != current[0].doc_id:
            yield summarise(current, config, frames)
            current = []
        current.append(prediction)
    if current:
        yield summarise(current, config, frames)
