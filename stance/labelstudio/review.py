"""Disagreements and their adjudication: who said what, and one decision per disputed (paragraph, target).

Modelled on Prodigy's `review` recipe: every (paragraph, target) on which annotators disagree
(their latest labels differ), or that an annotator flagged unsure, is put to a reviewer once,
with the text and every annotator's label (and comment); the reviewer's decision is saved in
Label Studio as an annotation of the reviewer (the API key's user) marked ground truth, on the
same task. A pull then brings it back like every other annotation, with `"adjudicated": true`,
and the disagreement is listed as decided. Deciding again later adds a newer decision; running
the review again asks only what is still undecided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from stance.config import StanceConfig
from stance.errors import LabelStudioError
from stance.labelled import latest_per_annotator
from stance.labelstudio.client import LabelStudioClient
from stance.labelstudio.tasks import (
    ADJUDICATED_FIELD,
    COMMENT_FIELD,
    PARA_ID,
    UNSURE_FIELD,
    ExportCounts,
    iter_annotation_records,
)
from stance.labelstudio.xml import TEXT_NAME, control_names
from stance.records import LabelledRecord

DISAGREE, UNSURE = "disagreement", "unsure"


@dataclass(frozen=True)
class Disagreement:
    """A (paragraph, target) for a reviewer: each annotator's latest label, and the decision when there is one."""

    id: str
    target: str
    labels: dict[str, str]  # annotator -> label
    reason: str = DISAGREE  # or UNSURE: one annotator, flagged unsure
    comments: dict[str, str] = field(default_factory=dict)  # annotator -> comment
    decided: str | None = None
    decided_by: str | None = None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target, "reason": self.reason, "labels": dict(self.labels),
                "comments": dict(self.comments), "decided": self.decided, "decided_by": self.decided_by}

    def describe(self) -> str:
        said = " · ".join(f"{who}: {label}" for who, label in sorted(self.labels.items()))
        decided = f" -> decided {self.decided} by {self.decided_by}" if self.decided else ""
        return f"{self.target} | {self.id} | {said}{' (unsure)' if self.reason == UNSURE else ''}{decided}"


def find_disagreements(records: Iterable[LabelledRecord], *, unsure: bool = False) -> list[Disagreement]:
    """Every (paragraph, target) whose annotators' latest labels differ (with `unsure`, also those
    an annotator flagged unsure), in first-seen order; the latest adjudication decides it."""
    decisions: dict[tuple[str, str], LabelledRecord] = {}
    people: list[LabelledRecord] = []
    for record in records:
        if record.extra.get(ADJUDICATED_FIELD):
            key = (record.id, record.target)
            if key not in decisions or (record.updated_at or "") >= (decisions[key].updated_at or ""):
                decisions[key] = record
        else:
            people.append(record)
    grouped: dict[tuple[str, str], list[LabelledRecord]] = defaultdict(list)
    for record in latest_per_annotator(people):
        grouped[(record.id, record.target)].append(record)
    found = []
    for (para_id, target), rows in grouped.items():
        labels = {str(r.annotator): r.label for r in rows}
        flagged = any(r.extra.get(UNSURE_FIELD) for r in rows)
        if len(set(labels.values())) > 1:
            reason = DISAGREE
        elif unsure and flagged:
            reason = UNSURE
        else:
            continue
        decision = decisions.get((para_id, target))
        found.append(Disagreement(
            para_id, target, labels, reason, {str(r.annotator): r.extra[COMMENT_FIELD] for r in rows if r.extra.get(COMMENT_FIELD)},
            decision.label if decision else None, decision.annotator if decision else None, rows[0].text,
        ))
    return found


Decide = Callable[[Disagreement, int, int], str | None]  # (item, position, total) -> a label, None to skip; raise StopIteration to stop


@dataclass
class ReviewResult:
    project_id: int
    items: int  # undecided items found
    decided: int
    skipped: int
    annotations: int  # reviewer annotations saved
    already_decided: int


def review_project(
    config: StanceConfig, client: LabelStudioClient, project_title: str, decide: Decide, *, unsure: bool = True, again: bool = False,
) -> ReviewResult:
    """Put every undecided disagreement (and unsure flag) of the project to `decide`, and save the
    decisions as ground-truth annotations of the key's user, one per task. `again`: decided ones too."""
    found = sorted(client.find_projects(project_title), key=lambda p: p["id"])
    if not found:
        raise LabelStudioError(f"no project called {project_title!r} at {client.url}; push a run to it first")
    pid = found[0]["id"]
    task_ids: dict[str, int] = {}
    records = list(iter_annotation_records(_remember_tasks(client.export_tasks(pid), task_ids), config, ExportCounts()))
    items = find_disagreements(records, unsure=unsure)
    pending = [d for d in items if again or d.decided is None]
    agreed = _agreed_labels(records)
    previous = {(d.id, d.target): d.decided for d in items if d.decided}
    decisions: dict[str, dict[str, str]] = defaultdict(dict)
    decided = skipped = 0
    try:
        for position, item in enumerate(pending, 1):
            label = decide(item, position, len(pending))
            if label is None:
                skipped += 1
                continue
            if label not in config.all_label_names:
                raise LabelStudioError(f"{label!r} is not one of the config's labels ({', '.join(config.all_label_names)})")
            decisions[item.id][item.target] = label
            decided += 1
    except StopIteration:
        skipped += len(pending) - decided - skipped
    names = control_names(config)
    saved = 0
    for para_id, chosen in decisions.items():
        result = []
        for target in config.targets:
            label = chosen.get(target.name) or previous.get((para_id, target.name)) or agreed.get((para_id, target.name))
            if label:
                result.append({"from_name": names[target.name], "to_name": TEXT_NAME, "type": "choices", "value": {"choices": [label]}})
        client.create_annotation(task_ids[para_id], result, ground_truth=True)
        saved += 1
    return ReviewResult(pid, len(pending), decided, skipped, saved, sum(1 for d in items if d.decided))


def _remember_tasks(tasks: Iterable[dict[str, Any]], task_ids: dict[str, int]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        para_id = (task.get("data") or {}).get(PARA_ID)
        if para_id and para_id not in task_ids:
            task_ids[para_id] = int(task["id"])
        yield task


def _agreed_labels(records: Sequence[LabelledRecord]) -> dict[tuple[str, str], str]:
    """(paragraph, target) -> the label every annotator gave, where they all agree."""
    labels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in latest_per_annotator(r for r in records if not r.extra.get(ADJUDICATED_FIELD)):
        labels[(record.id, record.target)].add(record.label)
    return {key: next(iter(found)) for key, found in labels.items() if len(found) == 1}


def format_disagreements(items: Sequence[Disagreement]) -> list[str]:
    """One line per disagreement: target | paragraph | who said what (-> the decision)."""
    return [item.describe() for item in items]
