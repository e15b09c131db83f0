"""Agreement and classification metrics, shared by evaluate, pull and the report.

scikit-learn computes accuracy, precision/recall/F1, the confusion matrix and Cohen's kappa;
krippendorff computes Krippendorff's alpha. This module only fixes the conventions stance uses
everywhere: labels listed in the config's order, a ratio with a zero denominator counting 0
(`zero_division=0`), macro-F1 over the labels that occur in gold or predictions (scikit-learn's
default when no label list is given), and `None` where a statistic is undefined.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def classification_metrics(
    gold: Sequence[str], predicted: Sequence[str], label_order: Sequence[str], polar: Sequence[str] = ()
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1/support, F_avg and the confusion matrix.

    `labels` (and the matrix's rows = gold, columns = predicted) are the labels that occur on
    either side, in `label_order`, then any unknown label alphabetically. F_avg is the mean F1 of
    the `polar` labels (favorable and unfavorable; SemEval-2016 Task 6), a polar label absent from
    both sides counting 0; None when no polar labels are given.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    seen = set(gold) | set(predicted)
    labels = [label for label in label_order if label in seen] + sorted(seen - set(label_order))
    n = len(gold)
    per_label: dict[str, dict[str, float]] = {}
    matrix: list[list[int]] = []
    if n:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "a single label was found": we pass the labels
            precision, recall, f1, support = precision_recall_fscore_support(
                list(gold), list(predicted), labels=labels, zero_division=0
            )
            matrix = confusion_matrix(list(gold), list(predicted), labels=labels).tolist()
        for i, label in enumerate(labels):
            per_label[label] = {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
                "predicted": int(sum(row[i] for row in matrix)),
            }
    correct = sum(matrix[i][i] for i in range(len(labels))) if n else 0
    return {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "macro_f1": sum(v["f1"] for v in per_label.values()) / len(per_label) if per_label else 0.0,
        "f_avg": (sum(per_label.get(label, {}).get("f1", 0.0) for label in polar) / len(polar)) if polar else None,
        "labels": labels,
        "per_label": per_label,
        "confusion": matrix,
    }


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's kappa of two labelings of the same items; None when it is undefined (no items, or
    chance agreement 1: both sides used one and the same label throughout)."""
    if not first or len(first) != len(second):
        return None
    if len(set(first) | set(second)) < 2:
        return None
    import warnings

    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(cohen_kappa_score(list(first), list(second)))
    return value if math.isfinite(value) else None


def krippendorff_alpha(units: Iterable[Mapping[str, str]], label_names: Sequence[str]) -> float | None:
    """Krippendorff's alpha (nominal) over units, each a mapping annotator -> label; None when
    undefined (fewer than two labels in use, or no unit with two annotators)."""
    import krippendorff
    import numpy as np

    units = [u for u in units if len(u) >= 2]
    if not units:
        return None
    annotators = sorted({a for unit in units for a in unit})
    values = list(label_names) + sorted({label for u in units for label in u.values()} - set(label_names))
    index = {label: i for i, label in enumerate(values)}
    if len({label for u in units for label in u.values()}) < 2:
        return None
    row = {name: i for i, name in enumerate(annotators)}
    matrix = np.full((len(annotators), len(units)), np.nan)
    for column, unit in enumerate(units):
        for annotator, label in unit.items():
            matrix[row[annotator], column] = index[label]
    value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    return value if math.isfinite(value) else None


def annotator_agreement(labels: Mapping[tuple[str, str], str], label_names: Sequence[str]) -> tuple[float | None, float | None, int]:
    """(mean pairwise Cohen's kappa, Krippendorff's alpha, items with two or more annotators).

    `labels` maps (item id, annotator) to a label. Kappa is computed for each pair of annotators
    on the items both labelled (pairs sharing fewer than two items are left out) and averaged.
    """
    by_item: dict[str, dict[str, str]] = defaultdict(dict)
    for (item, annotator), label in labels.items():
        by_item[item][annotator] = label
    shared = [per for per in by_item.values() if len(per) >= 2]
    if not shared:
        return None, None, 0
    annotators = sorted({a for per in shared for a in per})
    kappas = []
    for i, first in enumerate(annotators):
        for second in annotators[i + 1 :]:
            pairs = [(per[first], per[second]) for per in shared if first in per and second in per]
            if len(pairs) >= 2:
                value = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])
                if value is not None:
                    kappas.append(value)
    kappa = round(sum(kappas) / len(kappas), 4) if kappas else None
    alpha = krippendorff_alpha(shared, label_names)
    return kappa, (round(alpha, 4) if alpha is not None else None), len(shared)


def multilabel_metrics(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]], label_order: Sequence[str]) -> dict[str, Any]:
    """Micro- and macro-F1 and per-label precision/recall/F1 of multi-label decisions (frames).

    Each item is a set of labels. Macro-F1 averages the labels that occur on either side.
    """
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold label sets but {len(predicted)} predicted ones")
    gold_sets = [set(g) for g in gold]
    pred_sets = [set(p) for p in predicted]
    seen = set().union(*gold_sets, *pred_sets) if gold_sets else set()
    labels = [label for label in label_order if label in seen] + sorted(seen - set(label_order))
    result: dict[str, Any] = {"n": len(gold_sets), "labels": labels, "micro_f1": 0.0, "macro_f1": 0.0, "per_label": {},
                              "gold_per_item": _mean_size(gold_sets), "predicted_per_item": _mean_size(pred_sets)}
    if not labels or not gold_sets:
        return result
    binarizer = MultiLabelBinarizer(classes=labels)
    y_true, y_pred = binarizer.fit_transform(gold_sets), binarizer.transform(pred_sets)
    micro = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    result["micro_precision"], result["micro_recall"], result["micro_f1"] = float(micro[0]), float(micro[1]), float(micro[2])
    result["macro_f1"] = float(sum(f1) / len(labels))
    result["per_label"] = {
        label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i]),
                "predicted": int(y_pred[:, i].sum())}
        for i, label in enumerate(labels)
    }
    return result


def _mean_size(sets: Sequence[set[str]]) -> float:
    return sum(len(s) for s in sets) / len(sets) if sets else 0.0
