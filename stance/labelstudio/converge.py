"""One project per title, one task per paragraph, one prediction per (task, model version): however
many pushes run at once, and whatever a lost answer left behind.

Label Studio has no unique constraint on any of these and no lock, so two people pushing the
same run into the same project at the same moment would, left alone, create a second project or
every task twice. Instead of a lock (which would need the server's help, or would only cover
one machine), every push ends by converging: each rule below picks the same survivor however
many processes apply it, at whatever moment, so they never delete each other's survivor.

- Project: the lowest id among the projects with the title. A push that created a project and
  then sees an older one of the same title deletes its own (still empty) and uses the older.
- Task: per paragraph, the most annotated copy, the lowest id among equals; the other copies are
  deleted when nobody annotated them (annotated copies are kept and reported).
- Prediction: per (task, model version), the lowest id.

Every write a push makes happens before its own final convergence, so the last push to finish
sees every copy that any push made, and leaves one of each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stance.labelstudio.client import LabelStudioClient, TaskRef


@dataclass(frozen=True)
class PendingPrediction:
    """A prediction to add to an existing task: which task, which version, and how to build its JSON."""

    task_id: int
    model_version: str
    build: Callable[[], dict[str, Any]]  # Label Studio's prediction JSON (without "task")


SETTLE_SECONDS = 1.0  # a second look after this long: a namesake created just before ours may not be listed yet


def settle_project(client: LabelStudioClient, title: str, created: dict[str, Any], *, wait: float = SETTLE_SECONDS) -> dict[str, Any]:
    """After creating `created`: the project every concurrent push agrees on (the lowest id of the
    title); our own project is deleted when an older one exists (it is still empty).

    Ours looks oldest only after a second listing `wait` seconds later: under load, Label Studio
    has been seen to list a project created a moment before ours only after ours was listed (two
    pushes each saw only their own, and both projects stayed)."""
    import time

    for look in range(2):
        found = sorted(client.find_projects(title), key=lambda p: p["id"])
        if found and found[0]["id"] != created["id"]:
            client.delete_project(created["id"])
            return found[0]
        if look == 0 and wait > 0:
            time.sleep(wait)
    return created


def tasks_by_paragraph(tasks: Iterable[TaskRef]) -> dict[str, list[TaskRef]]:
    """Paragraph id -> its tasks, lowest id first."""
    found: dict[str, list[TaskRef]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: t.id):
        if task.para_id is not None:
            found[task.para_id].append(task)
    return found


def survivor(copies: Sequence[TaskRef]) -> TaskRef:
    """The copy of a paragraph's task that every push keeps: the most annotated, then the oldest."""
    return min(copies, key=lambda t: (-(t.total_annotations + t.cancelled_annotations), t.id))


def remove_duplicate_tasks(
    client: LabelStudioClient, pid: int, notes: list[str], tasks: list[TaskRef] | None = None
) -> tuple[int, list[TaskRef]]:
    """Keep one task per paragraph: delete extra copies that nobody has annotated."""
    tasks = client.list_tasks(pid) if tasks is None else tasks
    removed: set[int] = set()
    for para_id, copies in tasks_by_paragraph(tasks).items():
        if len(copies) < 2:
            continue
        kept = survivor(copies)
        for extra in copies:
            if extra.id == kept.id:
                continue
            if extra.total_annotations + extra.cancelled_annotations == 0:
                removed.add(extra.id)
            else:
                notes.append(f"paragraph {para_id!r} is in tasks {kept.id} and {extra.id}, both annotated: both kept")
    client.delete_tasks(pid, sorted(removed))
    return len(removed), [t for t in tasks if t.id not in removed]


def remove_duplicate_predictions(client: LabelStudioClient, pid: int) -> int:
    """Keep one prediction per (task, model version), the oldest; returns how many were deleted."""
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for prediction_id, task_id, version in client.list_predictions(pid):
        groups[(task_id, version)].append(prediction_id)
    removed = 0
    for ids in groups.values():
        for extra in sorted(ids)[1:]:
            client.delete_prediction(extra)
            removed += 1
    return removed


def versions_by_task(client: LabelStudioClient, pid: int, tasks: Sequence[TaskRef], versions: Iterable[str]) -> dict[int, set[str]]:
    """Task id -> the model versions of its predictions.

    The task listing carries them, but joined with commas by Label Studio: a version that holds
    a comma needs the (slower, unpaged) list of every prediction instead.
    """
    if not any("," in version for version in versions):
        return {t.id: set(t.model_versions) for t in tasks}
    found: dict[int, set[str]] = defaultdict(set)
    for task_id, version in client.list_prediction_versions(pid):
        found[task_id].add(version)
    return found


def add_predictions_once(client: LabelStudioClient, pid: int, batch: Sequence[PendingPrediction]) -> int:
    """Add a batch of predictions to existing tasks; after an uncertain failure, only the missing ones."""
    pending = list(batch)
    added = 0

    def send(recheck: bool) -> int:
        nonlocal pending, added
        if recheck:
            have = versions_by_task(client, pid, client.list_tasks(pid), [p.model_version for p in pending])
            added += sum(1 for p in pending if p.model_version in have.get(p.task_id, set()))
            pending = [p for p in pending if p.model_version not in have.get(p.task_id, set())]
        if pending:
            client.import_predictions(pid, [{"task": p.task_id, **p.build()} for p in pending])
            added += len(pending)
            pending = []
        return added

    return client.retry_uncertain_write(send)
