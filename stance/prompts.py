"""Hypotheses for NLI scoring, generated from the config's one definition of labels and frames."""

from __future__ import annotations

from stance.config import StanceConfig, Target


def stance_hypotheses(config: StanceConfig, target: Target, include_not_mentioned: bool) -> list[tuple[str, str]]:
    """(label, hypothesis) for each stance label toward `target`, plus `not_mentioned` when asked."""
    template = config.model.hypothesis_template
    pairs = [(label.name, template.format(verb=label.verb, target=target.name)) for label in config.labels]
    if include_not_mentioned:
        pairs.append((config.not_mentioned.name, config.not_mentioned.hypothesis.format(target=target.name)))
    return pairs


def frame_hypotheses(config: StanceConfig) -> list[tuple[str, str]]:
    """(frame, hypothesis) for every frame that the model scores (residual frames are derived)."""
    if not config.frames.enabled:
        return []
    template = config.model.frame_template
    return [(f.name, template.format(frame=f.phrase)) for f in config.frames.items if not f.residual]


def with_residual_frame(config: StanceConfig, scores: dict[str, float]) -> dict[str, float]:
    """Frame scores in config order, a residual frame ("Other") scored 1 - the best other frame."""
    best = max(scores.values(), default=0.0)
    return {f.name: (1.0 - best if f.residual else scores[f.name]) for f in config.frames.items}
