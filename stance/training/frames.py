"""Training the frame head: logistic regression per frame on sentence embeddings, thresholds calibrated.

Examples are paragraphs and whole documents. A paragraph is its mean-pooled unit embedding from
`frames.encoder`; a document is the plain mean of its paragraphs' embeddings (so its logit is the
mean of theirs, which is what `documents.jsonl` computes from the paragraphs' frame scores).
Paragraph records that share a `doc_id` also make a document example, whose frames are the union
of theirs, unless the document has its own document-level record.

Model selection and calibration never look at the training fit: the regularisation strength and
each frame's threshold (one for paragraphs, one for documents) are chosen on out-of-fold
predictions of a 5-fold split grouped by document. A frame is labelled at the threshold that
maximises its F1 on those predictions; a frame with fewer than `MIN_POSITIVES` positive examples
is never predicted (threshold 1). The residual frame (`Other`) is not modelled: it applies when
no other frame does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stance.config import StanceConfig
from stance.errors import TrainingError
from stance.metrics import multilabel_metrics
from stance.training.data import FrameExample
from stance.training.model import FrameHead

C_GRID = (0.5, 2.0, 8.0, 32.0)
FOLDS = 5
MIN_POSITIVES = 3
MIN_EXAMPLES = 20


@dataclass
class FrameTrainingResult:
    head: FrameHead
    metrics: dict[str, dict[str, Any]]  # "paragraph" / "document" -> out-of-fold multilabel metrics
    counts: dict[str, int]


def embed_examples(examples: Sequence[FrameExample], config: StanceConfig, encoder: Any) -> tuple[Any, list[str | None]]:
    """(vectors, group per example): paragraphs embedded whole, documents as the mean of their paragraphs."""
    import numpy as np

    from stance.ingest import split_document
    from stance.records import Document

    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    for example in examples:
        pieces = [p.text for p in split_document(Document(id=example.id, text=example.text), config.ingest)] if example.document else [example.text]
        pieces = pieces or [example.text]
        spans.append((len(texts), len(texts) + len(pieces)))
        texts.extend(pieces)
    vectors = encoder.encode(texts).numpy()
    rows = np.stack([vectors[a:b].mean(axis=0) for a, b in spans]) if spans else np.zeros((0, vectors.shape[1] if vectors.size else 1))
    return rows, [e.doc_id or e.id for e in examples]


def with_documents(examples: Sequence[FrameExample]) -> list[FrameExample]:
    """The examples plus one document example per doc_id of two or more paragraph examples
    (union of their frames, text the paragraphs joined), when no document-level record exists."""
    explicit = {e.doc_id or e.id for e in examples if e.document}
    by_doc: dict[str, list[FrameExample]] = defaultdict(list)
    for example in examples:
        if not example.document and example.doc_id and example.doc_id not in explicit:
            by_doc[example.doc_id].append(example)
    derived = []
    for doc_id, members in by_doc.items():
        if len(members) < 2:
            continue
        frames = tuple(dict.fromkeys(f for m in members for f in m.frames))
        derived.append(FrameExample(f"{doc_id}#document", "\n\n".join(m.text for m in members), frames, doc_id, True, None, None,
                                    f"{len(members)} paragraph records of {doc_id}"))
    return [*examples, *derived]


def train_frame_head(examples: Sequence[FrameExample], config: StanceConfig, encoder: Any, *, seed: int = 42) -> FrameTrainingResult:
    """Fit the head on every example; choose C and the thresholds on grouped out-of-fold predictions."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    frames = [f.name for f in config.frames.items if not f.residual]
    examples = with_documents(examples)
    if len(examples) < MIN_EXAMPLES:
        raise TrainingError(f"{len(examples)} frame examples; expected at least {MIN_EXAMPLES} to train a frame head")
    vectors, groups = embed_examples(examples, config, encoder)
    targets = np.array([[f in e.frames for f in frames] for e in examples], dtype=np.int64)
    is_document = np.array([e.document for e in examples])
    folds = min(FOLDS, len(set(groups)))
    if folds < 2:
        raise TrainingError("all frame examples come from one document; expected several documents to calibrate the frame head")
    splits = list(GroupKFold(n_splits=folds).split(vectors, groups=groups))
    best_c, best_score, best_oof = C_GRID[0], -1.0, None
    for c in C_GRID:
        oof = _out_of_fold(vectors, targets, splits, c, seed)
        score = _mean_average_precision(targets, oof)
        if score > best_score:
            best_c, best_score, best_oof = c, score, oof
    assert best_oof is not None
    weight, bias = _fit(vectors, targets, best_c, seed)
    para_thresholds = _thresholds(targets[~is_document], best_oof[~is_document])
    doc_thresholds = _thresholds(targets[is_document], best_oof[is_document]) if is_document.any() else list(para_thresholds)
    metrics = {}
    for level, mask, thresholds in (("paragraph", ~is_document, para_thresholds), ("document", is_document, doc_thresholds)):
        if mask.any():
            predicted = best_oof[mask] >= np.array(thresholds)
            metrics[level] = _metric_summary(targets[mask], predicted, frames)
    head = FrameHead(frames, weight, bias, [float(t) for t in para_thresholds], [float(t) for t in doc_thresholds], encoder.model_name,
                     {"C": best_c, "selection": f"C from {list(C_GRID)} by mean average precision on {folds}-fold grouped out-of-fold predictions",
                      "out_of_fold_metrics": metrics})
    counts = {"paragraphs": int((~is_document).sum()), "documents": int(is_document.sum())}
    return FrameTrainingResult(head, metrics, counts)


def _fit(x: Any, y: Any, c: float, seed: int) -> tuple[Any, Any]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    weight = np.zeros((y.shape[1], x.shape[1]), dtype=np.float32)
    bias = np.full(y.shape[1], -20.0, dtype=np.float32)  # a frame never seen: never predicted
    for j in range(y.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed).fit(x, y[:, j])
            weight[j], bias[j] = model.coef_[0], model.intercept_[0]
        elif y[:, j].sum() == len(y):
            bias[j] = 20.0
    return weight, bias


def _out_of_fold(x: Any, y: Any, splits: list[tuple[Any, Any]], c: float, seed: int) -> Any:
    import numpy as np

    oof = np.zeros(y.shape, dtype=np.float64)
    for train, test in splits:
        weight, bias = _fit(x[train], y[train], c, seed)
        oof[test] = 1.0 / (1.0 + np.exp(-(x[test] @ weight.T + bias)))
    return oof


def _mean_average_precision(y: Any, scores: Any) -> float:
    from sklearn.metrics import average_precision_score

    values = [average_precision_score(y[:, j], scores[:, j]) for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    return float(sum(values) / len(values)) if values else 0.0


def _thresholds(y: Any, scores: Any) -> list[float]:
    """Per frame, the threshold with the best F1 on these predictions (1.0: never predicted)."""
    import numpy as np

    thresholds = []
    for j in range(y.shape[1]):
        positives = int(y[:, j].sum())
        if positives < MIN_POSITIVES:
            thresholds.append(1.0)
            continue
        candidates = np.unique(scores[:, j])
        best_t, best_f1 = 1.0, -1.0
        for t in candidates:
            predicted = scores[:, j] >= t
            tp = int((predicted & (y[:, j] == 1)).sum())
            f1 = 2 * tp / (predicted.sum() + positives) if predicted.sum() + positives else 0.0
            if f1 > best_f1:
                best_t, best_f1 = float(t), f1
        thresholds.append(best_t)
    return thresholds


def _metric_summary(y: Any, predicted: Any, frames: list[str]) -> dict[str, Any]:
    gold = [[f for f, v in zip(frames, row, strict=True) if v] for row in y]
    pred = [[f for f, v in zip(frames, row, strict=True) if v] for row in predicted]
    m = multilabel_metrics(gold, pred, frames)
    return {k: m[k] for k in ("n", "micro_f1", "macro_f1", "gold_per_item", "predicted_per_item")} | {
        "per_frame_f1": {k: round(v["f1"], 4) for k, v in m["per_label"].items()}
    }


FRAME_VECTORS = ("auto", "encoder", "stance-pass")


def resolve_frame_vectors(choice: str, start_head: FrameHead | None) -> str:
    """What the frame head reads: `encoder` (the config's frames.encoder, a second pass per paragraph) or
    `stance-pass` (the stance model's own pass); `auto` keeps what the start model's head read."""
    from stance.scoring.targeted import STANCE_PASS

    if choice not in FRAME_VECTORS:
        raise TrainingError(f"--frame-vectors {choice!r} is not one of {', '.join(FRAME_VECTORS)}")
    if choice == "auto":
        return "stance-pass" if start_head is not None and start_head.encoder == STANCE_PASS else "encoder"
    return choice


class StancePassVectors:
    """The `encoder` that `train_frame_head` takes, over a saved target-conditioned model directory: each
    paragraph's vector from the stance pass, computed exactly as the scorer computes it at annotation."""

    def __init__(self, config: StanceConfig, directory: Any) -> None:
        from stance.scoring.targeted import STANCE_PASS
        from stance.scoring.trained import TrainedScorer

        self.model_name = STANCE_PASS
        self.scorer = TrainedScorer(config, str(directory), vectors=True)
        self.layers = list(self.scorer.vector_layers)  # recorded in the head: the scorer reads the same ones

    def encode(self, texts: Sequence[str]) -> Any:
        gate, targets = self.scorer.gate, self.scorer.config.targets
        return self.scorer.frame_vectors(texts, [[t for t in targets if gate.mentions(text, t)] for text in texts])
