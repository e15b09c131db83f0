"""What a scorer is: the protocols every stance and frame scorer implements, and their output.

The factory that picks a scorer from the config is `stance.scoring.factory`; the code that turns
scores into labels (gate, argmax, frame thresholds) is `stance.annotator`, shared by every command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from stance.config import Target


@dataclass(frozen=True)
class ParagraphScores:
    """Scores of one paragraph: per target a distribution over stance labels, and per frame a score
    (empty when the scorer was not asked for frames)."""

    stance: dict[str, dict[str, float]]
    frames: dict[str, float]


class Scorer(Protocol):
    """Scores paragraphs toward targets.

    `model_version` names what produces the labels (see `stance.scoring.versions`); it is stamped on
    every prediction. `scores_frames` says whether `score(..., frames=True)` also scores frames
    (the NLI and embedding scorers do, from the same model); otherwise frames come from a
    `FrameScorer`.
    """

    model_version: str
    scores_frames: bool

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]], *, frames: bool = True) -> list[ParagraphScores]:
        """Score `texts[i]` toward each target in `targets[i]` (and its frames, when asked and able)."""
        ...


class FrameScorer(Protocol):
    """Scores the frames of paragraphs; `version` enters the model version of the predictions."""

    version: str

    def score_frames(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Per text, a score in [0, 1] for every frame of the config (in config order)."""
        ...
