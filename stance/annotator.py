"""The one prediction path: alias gate -> stance scorer -> labels, plus frames.

`Annotator` is what `stance annotate`, `stance evaluate`, the Ray engine and the Label Studio
backend all call, so a paragraph gets the same labels whichever command asks:

1. the gate decides which targets a paragraph mentions (a target it does not find is
   `not_mentioned` with score 1, and the model is not run for it, unless `gate.enabled` is off);
2. the stance scorer scores the rest; each target's label is the label with the highest score
   (ties: the first in config order), scores rounded to 6 digits;
3. frames come from the scorer itself or from the configured frame scorer
   (`stance.scoring.factory.build_frame_scorer`); a frame applies at its threshold (a frame
   head's calibrated one, else `frames.threshold`), at most `frames.max_labels` per paragraph,
   the residual frame (`Other`) only when no other applies.

The annotator's `model_version` is the version of everything that produced the labels (see
`stance.scoring.versions`): the stance model, the frame scorer when it is a separate model, and
the label settings of the config.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from stance.config import StanceConfig, Target
from stance.mentions import DocumentContext, MentionGate
from stance.records import MODEL_SAID, NO_ALIAS, Paragraph, Prediction, TargetStance
from stance.scoring.base import FrameScorer, Scorer
from stance.scoring.versions import model_version

SCORE_DIGITS = 6
CONTEXT_KEY = "short_forms"  # Paragraph.meta: the short forms (surnames) active in its document so far
_FROM_CONFIG = object()


def with_document_context(paragraphs: Iterable[Paragraph], gate: MentionGate) -> Iterator[Paragraph]:
    """The paragraphs, each carrying the short forms that earlier paragraphs of its document made
    mentions ("Wang" after "Wang Yi"); computed in document order, so it is the same however the
    paragraphs are later chunked, resumed or sent to other processes."""
    context = DocumentContext(gate)
    for paragraph in paragraphs:
        active = context.before(paragraph.doc_id, paragraph.text)
        yield replace(paragraph, meta={**paragraph.meta, CONTEXT_KEY: sorted(active)}) if active else paragraph


class Annotator:
    """Gate + stance scorer + frame scorer: turns paragraphs into `Prediction`s."""

    def __init__(self, config: StanceConfig, scorer: Scorer, frame_scorer: FrameScorer | None | object = _FROM_CONFIG) -> None:
        from stance.scoring.factory import build_frame_scorer

        self.config = config
        self.scorer = scorer
        self.gate = MentionGate(config.targets, dateline=config.gate.dateline, demonyms=config.gate.demonyms)
        self.frame_scorer: FrameScorer | None = build_frame_scorer(config, scorer) if frame_scorer is _FROM_CONFIG else frame_scorer  # type: ignore[assignment]
        self.model_version = self._version()

    def _version(self) -> str:
        weights = getattr(self.scorer, "weights", None)
        if self.frame_scorer is None or weights is None or not self.config.frame_names:
            return self.scorer.model_version
        parts = [*weights, self.frame_scorer.version]
        return model_version(getattr(self.scorer, "backend", "model"), getattr(self.scorer, "name", "model"), parts, self.config)

    @property
    def scorer_frames(self) -> bool:
        """Whether frames come from the stance scorer's own forward passes."""
        return bool(self.config.frame_names) and self.frame_scorer is None

    @property
    def frame_source(self) -> object | None:
        """What scores the frames: the frame scorer, or the stance scorer when it scores them itself
        (its `thresholds` and `head`, when it has them, decide paragraphs and documents)."""
        return self.frame_scorer if self.frame_scorer is not None else (self.scorer if self.scorer_frames else None)

    # -- stance ------------------------------------------------------------------------------

    def decide(self, scores: dict[str, float] | None, mentioned: bool) -> TargetStance:
        """A target's label from the scorer's scores (None: not scored, so `not_mentioned`)."""
        not_mentioned = self.config.not_mentioned.name
        full = dict.fromkeys(self.config.all_label_names, 0.0)
        if scores is None:
            full[not_mentioned] = 1.0
        else:
            full.update(scores)
        label = max(full, key=lambda name: full[name])
        why = None if label != not_mentioned else (NO_ALIAS if scores is None or not mentioned else MODEL_SAID)
        return TargetStance(label, {k: round(v, SCORE_DIGITS) for k, v in full.items()}, mentioned, why)

    def targets_in_context(self, context: frozenset[str], targets: Sequence[Target] | None = None) -> list[Target]:
        """The config's targets (or `targets`), each with the short forms active in the document added to its aliases."""
        chosen = list(self.config.targets if targets is None else targets)
        if not context:
            return chosen
        targets = []
        for target in chosen:
            active = tuple(form for form in target.short_forms if form in context)
            targets.append(target.model_copy(update={"aliases": (*target.aliases, *active)}) if active else target)
        return targets

    def stance_scores(self, texts: Sequence[str], targets: Sequence[Sequence[Target]]) -> list[dict[str, dict[str, float]]]:
        """The scorer's raw stance scores of `texts[i]` toward `targets[i]` (no gate, no frames)."""
        if not texts:
            return []
        return [s.stance for s in self.scorer.score(list(texts), list(targets), frames=False)]

    def frame_labels(self, scores: dict[str, float]) -> list[str]:
        """The frames that apply: at or above their threshold (the frame scorer's per-frame ones, else
        `frames.threshold`), the `frames.max_labels` highest; the residual frame only when none does."""
        frames = self.config.frames
        thresholds = getattr(self.frame_source, "thresholds", None) or {}
        residual = {f.name for f in frames.items if f.residual}
        passing = [n for n, s in scores.items() if n not in residual and s >= thresholds.get(n, frames.threshold)]
        chosen = set(sorted(passing, key=lambda n: -scores[n])[: frames.max_labels]) or residual
        return [f.name for f in frames.items if f.name in chosen and f.name in scores]

    # -- paragraphs --------------------------------------------------------------------------

    def predict(self, paragraphs: Sequence[Paragraph], *, frames: bool = True) -> list[Prediction]:
        """Predictions for `paragraphs`, in order; `frames=False` skips frame scoring."""
        if not paragraphs:
            return []
        texts = [p.text for p in paragraphs]
        in_context = [self.targets_in_context(frozenset(p.meta.get(CONTEXT_KEY, ()))) for p in paragraphs]
        mentioned = [[t for t in targets if self.gate.mentions(text, t)] for text, targets in zip(texts, in_context, strict=True)]
        to_score = mentioned if self.config.gate.enabled else in_context
        want_frames = frames and bool(self.config.frame_names)
        scored = self.scorer.score(texts, to_score, frames=want_frames and self.scorer_frames)
        if want_frames and self.frame_scorer is not None:
            frame_scores = self.frame_scorer.score_frames(texts)
        else:
            frame_scores = [s.frames for s in scored]
        predictions = []
        for paragraph, names, scores, frame_row in zip(paragraphs, mentioned, scored, frame_scores, strict=True):
            found = {t.name for t in names}
            stance = {t.name: self.decide(scores.stance.get(t.name), t.name in found) for t in self.config.targets}
            rounded = {k: round(v, SCORE_DIGITS) for k, v in frame_row.items()}
            predictions.append(Prediction.for_paragraph(paragraph, stance, rounded, self.frame_labels(rounded), self.model_version))
        return predictions
