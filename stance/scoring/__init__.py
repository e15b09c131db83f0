"""Scorers turn paragraphs x targets into stance scores, plus frame scores (see base.py)."""

from stance.scoring.base import FrameScorer, ParagraphScores, Scorer
from stance.scoring.factory import build_frame_scorer, build_scorer, scorer_for_spec

__all__ = ["FrameScorer", "ParagraphScores", "Scorer", "build_frame_scorer", "build_scorer", "scorer_for_spec"]
