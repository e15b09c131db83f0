"""Model vs people: pulled annotations (`LabelledRecord`s) against a run's predictions.

Accuracy, Cohen's kappa and the confusion matrix come from `stance.metrics` (scikit-learn
underneath), the same numbers `stance evaluate` and `stance pull` report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stance.metrics import classification_metrics, cohen_kappa
from stance.records import LabelledRecord, Prediction


def confusion(human: Sequence[str], model: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """matrix[i][j]: pairs a person labelled labels[i] and the model labels[j] (sklearn's orientation);
    a label of `labels` that neither side used gets a row and a column of zeros."""
    result = classification_metrics(human, model, labels)
    index = {label: i for i, label in enumerate(result["labels"])}
    matrix = result["confusion"]
    return [[matrix[index[h]][index[m]] if h in index and m in index else 0 for m in labels] for h in labels]


@dataclass
class TargetAgreement:
    """Model vs people for one target."""

    target: str
    labels: list[str]
    human: list[str]
    model: list[str]
    shown: list[str]  # the pre-label the annotator saw (model_label), else the run's label

    @property
    def n(self) -> int:
        return len(self.human)

    @property
    def accuracy(self) -> float | None:
        return classification_metrics(self.human, self.model, self.labels)["accuracy"] if self.n else None

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.human, self.model)

    @property
    def matrix(self) -> list[list[int]]:
        """The confusion matrix over all `labels` (people in rows, the model in columns)."""
        return confusion(self.human, self.model, self.labels)

    def compared(self) -> tuple[list[str], list[list[int]]]:
        """The labels either side used (in `labels` order) and the confusion matrix over them: what the page plots."""
        result = classification_metrics(self.human, self.model, self.labels)
        return result["labels"], result["confusion"]

    @property
    def corrections(self) -> int:
        return sum(h != s for h, s in zip(self.human, self.shown, strict=True))

    @property
    def correction_rate(self) -> float | None:
        return self.corrections / self.n if self.n else None


@dataclass
class Agreement:
    """Model vs people over all pulled annotations that match a paragraph of the run."""

    targets: list[TargetAgreement]
    annotations: int
    annotators: int
    paragraphs: int  # annotated paragraphs of the run
    paragraphs_corrected: int  # ... whose stance (any target) or frames differ from the pre-labels
    frames_compared: int  # annotated paragraphs with frames given
    frames_corrected: int
    not_in_run: int  # annotations of paragraphs this run does not hold (left out)
    unknown_targets: list[str] = field(default_factory=list)  # targets the report's config lacks (left out)

    @property
    def corrected_share(self) -> float | None:
        return self.paragraphs_corrected / self.paragraphs if self.paragraphs else None


def agreement(
    annotations: Sequence[LabelledRecord], records: Sequence[Prediction], targets: Sequence[str], labels: Sequence[str]
) -> Agreement:
    """Compare people's labels with the run's predictions.

    Accuracy, kappa and the confusion matrix compare the run's model with people. The correction
    rate compares people with the pre-label they were shown (`model_label`, when the pull recorded
    it; else the run's label), which is what "how often did reviewers change the model" means.
    """
    by_id = {r.id: r for r in records}
    wanted = set(targets)
    per_target: dict[str, TargetAgreement] = {}
    not_in_run = 0
    unknown: set[str] = set()
    corrected: dict[tuple[str, str | None], bool] = {}
    frames_seen: dict[tuple[str, str | None], bool] = {}
    all_labels = list(labels)
    for item in annotations:
        record = by_id.get(item.id)
        if record is None:
            not_in_run += 1
            continue
        if item.target not in wanted or item.target not in record.stance:
            unknown.add(item.target)
            continue
        model_label = record.stance[item.target].label
        shown = item.model_label or model_label
        for label in (item.label, model_label, shown):
            if label not in all_labels:
                all_labels.append(label)
        entry = per_target.setdefault(item.target, TargetAgreement(item.target, all_labels, [], [], []))
        entry.human.append(item.label)
        entry.model.append(model_label)
        entry.shown.append(shown)
        key = (item.id, item.annotator)
        changed = item.label != shown
        if item.frames is not None:
            frames_changed = set(item.frames) != set(record.frame_labels)
            frames_seen[key] = frames_seen.get(key, False) or frames_changed
            changed = changed or frames_changed
        corrected[key] = corrected.get(key, False) or changed
    ordered = [per_target[t] for t in targets if t in per_target]
    matched = [a for a in annotations if a.id in by_id]
    return Agreement(
        targets=ordered,
        annotations=len(annotations),
        annotators=len({a.annotator for a in matched}),
        paragraphs=len({a.id for a in matched}),
        paragraphs_corrected=sum(corrected.values()),
        frames_compared=len(frames_seen),
        frames_corrected=sum(frames_seen.values()),
        not_in_run=not_in_run,
        unknown_targets=sorted(unknown),
    )
