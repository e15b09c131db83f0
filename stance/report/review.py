"""What the reviews say beyond one agreement table: the model vs people per outlet, the correction
rate per model version across review rounds, and where annotators disagree with each other.

A review round is the set of pulled labels whose pre-label came from one model version
(`LabelledRecord.model_version`, else the version of the run's prediction); rounds are ordered by
their first `updated_at`. A label is corrected when the person's label differs from the pre-label
they saw (`model_label`, else the run's label). Correction rates carry a 95% interval by bootstrap
over the reviewed articles (`stance.report.uncertainty`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stance.labelled import document_key
from stance.metrics import annotator_agreement, cohen_kappa
from stance.records import LabelledRecord, Prediction
from stance.report.uncertainty import ArticleBootstrap, Estimate, difference, grouped_sums

UNKNOWN_VERSION = "unknown"
MAX_DISAGREEMENTS = 20  # listed on the page; the CSV holds all


@dataclass(frozen=True)
class GroupAgreement:
    """Model vs people over one outlet's reviewed labels (all targets pooled)."""

    name: str
    n: int
    accuracy: float | None
    kappa: float | None
    corrections: int

    @property
    def correction_rate(self) -> float | None:
        return self.corrections / self.n if self.n else None


def agreement_by_outlet(annotations: Sequence[LabelledRecord], records: Sequence[Prediction], targets: Sequence[str]) -> list[GroupAgreement]:
    """Per outlet (the paragraph's source; "(no source)" when it has none), largest first."""
    by_id = {r.id: r for r in records}
    wanted = set(targets)
    human: dict[str, list[str]] = {}
    model: dict[str, list[str]] = {}
    shown: dict[str, list[str]] = {}
    for item in annotations:
        record = by_id.get(item.id)
        if record is None or item.target not in wanted or item.target not in record.stance:
            continue
        outlet = (record.source or "").strip() or "(no source)"
        run_label = record.stance[item.target].label
        human.setdefault(outlet, []).append(item.label)
        model.setdefault(outlet, []).append(run_label)
        shown.setdefault(outlet, []).append(item.model_label or run_label)
    out = []
    for outlet in sorted(human, key=lambda o: (-len(human[o]), o)):
        people, run = human[outlet], model[outlet]
        corrections = sum(h != s for h, s in zip(people, shown[outlet], strict=True))
        accuracy = sum(h == m for h, m in zip(people, run, strict=True)) / len(people)
        out.append(GroupAgreement(outlet, len(people), accuracy, cohen_kappa(people, run), corrections))
    return out


@dataclass(frozen=True)
class ReviewRound:
    """The labels reviewed on the pre-labels of one model version."""

    number: int
    model_version: str
    first: str | None  # earliest updated_at
    last: str | None
    labels: int
    corrected: int
    annotators: int
    paragraphs: int
    rate: Estimate  # corrected / labels, interval by bootstrap over articles
    change: Estimate | None  # this round's rate minus the previous round's (None for the first)


def latest_per_version(reviews: Sequence[LabelledRecord]) -> list[LabelledRecord]:
    """One label per (paragraph, target, annotator, model version): the latest; a paragraph
    reviewed again in a later round keeps both rounds."""
    latest: dict[tuple[str, str, str | None, str | None], LabelledRecord] = {}
    for record in reviews:
        key = (record.id, record.target, record.annotator, record.model_version)
        if key not in latest or (record.updated_at or "") >= (latest[key].updated_at or ""):
            latest[key] = record
    return list(latest.values())


def review_rounds(reviews: Sequence[LabelledRecord], records: Sequence[Prediction], resamples: int, seed: int) -> tuple[list[ReviewRound], int]:
    """The rounds (oldest first) and how many labels could not be judged (no pre-label known)."""
    by_id = {r.id: r for r in records}
    judged: list[tuple[str, str, bool, LabelledRecord]] = []  # (version, article, corrected, record)
    unknown = 0
    for item in reviews:
        record = by_id.get(item.id)
        run_result = record.stance.get(item.target) if record is not None else None
        shown = item.model_label or (run_result.label if run_result is not None else None)
        if shown is None:
            unknown += 1
            continue
        version = item.model_version or (record.model_version if record is not None and record.model_version else UNKNOWN_VERSION)
        article = (record.doc_id if record is not None and record.doc_id else None) or document_key(item)
        judged.append((version, article, item.label != shown, item))
    if not judged:
        return [], unknown
    articles = sorted({a for _, a, _, _ in judged})
    row = {a: i for i, a in enumerate(articles)}
    first_seen: dict[str, str] = {}
    for version, _, _, item in judged:
        stamp = item.updated_at or ""
        first_seen[version] = min(first_seen.get(version, stamp), stamp)
    versions = sorted(first_seen, key=lambda v: (first_seen[v], v))
    bootstrap = ArticleBootstrap(articles, resamples, seed)
    rounds: list[ReviewRound] = []
    previous: tuple[Estimate, object] | None = None
    for number, version in enumerate(versions, start=1):
        numerator = [0.0] * len(articles)
        denominator = [0.0] * len(articles)
        chosen = [(a, c, item) for v, a, c, item in judged if v == version]
        for article, corrected, _ in chosen:
            denominator[row[article]] += 1
            numerator[row[article]] += corrected
        sums = grouped_sums(bootstrap, numerator, denominator, [list(range(len(articles)))])
        rate, samples = sums.estimate(0), sums.samples(0)
        change = difference(rate, previous[0], samples - previous[1]) if previous is not None else None  # type: ignore[operator]
        stamps = sorted(item.updated_at for _, _, item in chosen if item.updated_at)
        rounds.append(ReviewRound(
            number, version, stamps[0] if stamps else None, stamps[-1] if stamps else None, len(chosen),
            sum(c for _, c, _ in chosen), len({item.annotator for _, _, item in chosen}), len({item.id for _, _, item in chosen}),
            rate, change,
        ))
        previous = (rate, samples)
    return rounds, unknown


@dataclass(frozen=True)
class AnnotatorPair:
    first: str
    second: str
    items: int  # (paragraph, target) pairs both labelled
    agreed: int
    kappa: float | None

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.items if self.items else None


@dataclass(frozen=True)
class Disagreement:
    id: str
    target: str
    text: str
    labels: dict[str, str]  # annotator -> label
    model: str | None  # the run's label, when the run holds the paragraph


@dataclass(frozen=True)
class AnnotatorAgreement:
    items: int  # (paragraph, target) pairs with two or more annotators
    kappa: float | None  # mean pairwise Cohen's kappa
    alpha: float | None  # Krippendorff's alpha (nominal)
    pairs: list[AnnotatorPair]
    disagreements: list[Disagreement]  # every item on which the annotators differ


def annotators_compared(annotations: Sequence[LabelledRecord], records: Sequence[Prediction], labels: Sequence[str]) -> AnnotatorAgreement | None:
    """People against people on the (paragraph, target) pairs several of them labelled; None when none did."""
    by_id = {r.id: r for r in records}
    per_item: dict[tuple[str, str], dict[str, LabelledRecord]] = {}
    for item in annotations:
        per_item.setdefault((item.id, item.target), {})[item.annotator or "(unknown)"] = item
    shared = {key: people for key, people in per_item.items() if len(people) >= 2}
    if not shared:
        return None
    kappa, alpha, items = annotator_agreement(
        {(f"{pid}\x1f{target}", person): item.label for (pid, target), people in shared.items() for person, item in people.items()}, labels
    )
    names = sorted({person for people in shared.values() for person in people})
    pairs = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            both = [(p[first].label, p[second].label) for p in shared.values() if first in p and second in p]
            if both:
                pairs.append(AnnotatorPair(first, second, len(both), sum(a == b for a, b in both),
                                           cohen_kappa([a for a, _ in both], [b for _, b in both])))
    disagreements = []
    for (pid, target), people in sorted(shared.items()):
        if len({item.label for item in people.values()}) > 1:
            record = by_id.get(pid)
            result = record.stance.get(target) if record is not None else None
            text = record.text if record is not None else next(iter(people.values())).text
            disagreements.append(Disagreement(pid, target, text, {p: item.label for p, item in sorted(people.items())},
                                              result.label if result is not None else None))
    return AnnotatorAgreement(items, kappa, alpha, pairs, disagreements)
