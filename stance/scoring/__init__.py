"""Scorers turn paragraphs x targets into stance scores, plus frame scores."""

from stance.scoring.base import ParagraphScores, Scorer, build_scorer

__all__ = ["ParagraphScores", "Scorer", "build_scorer"]
