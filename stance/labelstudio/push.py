"""Push a run's predictions to Label Studio as pre-selected choices; safe to repeat.

Push is idempotent by paragraph id. Label Studio never deduplicates an import, so push first
reads which paragraph ids the project holds, imports only the others, and adds a prediction of
a new model_version to the existing task instead of creating a second task. A write whose
outcome is unknown (timeout, reset, 5xx) is followed by a fresh look at the project before the
rest is sent again (`LabelStudioClient.retry_uncertain_write`), and every push ends by checking
that each paragraph is one task (removing an extra, never-annotated copy that a late,
lost-looking import may still have created). So a push that was interrupted anywhere and run
again ends with every paragraph exactly once.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import InputError, LabelStudioError
from stance.labelstudio.client import LabelStudioClient, TaskRef
from stance.labelstudio.tasks import check_prediction, prediction_for, review_score, task_for
from stance.labelstudio.xml import checked_labeling_config, config_differences
from stance.progress import Progress
from stance.records import Prediction
from stance.runs import PredictionReader, RunDir, iter_predictions, read_run_info, write_push_record

ORDERS: tuple[str, ...] = ("uncertainty", "random", "document")


def order_records(records: Sequence[Any], order: str, seed: int = 0, key: Callable[[Any], float] = review_score) -> list[Any]:
    """`uncertainty`: least confident first (by `key`); `random`: a fixed shuffle (by seed); `document`: file order."""
    if order == "document":
        return list(records)
    if order == "random":
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    if order == "uncertainty":
        return sorted(records, key=key)  # stable: ties keep file order
    raise LabelStudioError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")


# -- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One usable prediction of a run: what ordering and matching need, and where the rest is."""

    id: str
    model_version: str
    score: float  # review_score
    offset: int  # byte offset of its line in predictions.jsonl


@dataclass
class RunIndex:
    """The usable predictions of a run, in file order, read from the file only when a task is built.

    Memory stays small for large runs: only ids, versions, scores and byte offsets are held.
    """

    run: RunDir
    entries: list[RunEntry]
    problems: list[str]
    neighbours: dict[str, tuple[int | None, int | None]]  # id -> offsets of the previous and next paragraph
    complete: bool
    reader: PredictionReader

    def prediction(self, entry: RunEntry) -> Prediction:
        return self.reader.at(entry.offset)

    def task(self, entry: RunEntry, config: StanceConfig) -> dict[str, Any]:
        """The Label Studio task of an entry, with its neighbouring paragraphs as context."""
        before, after = self.neighbours.get(entry.id, (None, None))
        return task_for(
            self.prediction(entry), config,
            self.reader.at(before).text if before is not None else None,
            self.reader.at(after).text if after is not None else None,
        )


def index_run(run: str | Path, config: StanceConfig) -> RunIndex:
    """Index RUN/predictions.jsonl (or that file itself), checking every prediction against the config.

    A line that is not a prediction, or whose labels the config does not define, is reported
    (file, line, paragraph, what is wrong) and left out; the rest is pushed.
    """
    path = Path(run)
    predictions = path if path.is_file() else RunDir(path).predictions
    run_dir = RunDir(predictions.parent)
    entries: list[RunEntry] = []
    problems: list[str] = []
    by_doc: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    seen: set[str] = set()
    versions: dict[str, str] = {}  # one string object per version, however many paragraphs carry it
    for line in iter_predictions(predictions, on_bad_line=lambda message: problems.append(f"{message}; skipped")):
        prediction = line.prediction
        issues = check_prediction(prediction, config)
        if not issues and not prediction.model_version:
            issues.append("field 'model_version' is missing")
        if not issues and prediction.id in seen:
            issues.append(f"paragraph id {prediction.id!r} appears twice; the first one is pushed")
        if issues:
            problems.append(f"{predictions}:{line.line_no} (paragraph {prediction.id!r}): {'; '.join(issues)}; skipped")
            continue
        seen.add(prediction.id)
        version = versions.setdefault(prediction.model_version, prediction.model_version)
        entries.append(RunEntry(prediction.id, version, review_score(prediction), line.offset))
        by_doc[str(prediction.doc_id)].append((prediction.index or 0, prediction.id, line.offset))
    neighbours: dict[str, tuple[int | None, int | None]] = {}
    for paragraphs in by_doc.values():
        paragraphs.sort()
        for i, (_, pid, _) in enumerate(paragraphs):
            before = paragraphs[i - 1][2] if i > 0 else None
            after = paragraphs[i + 1][2] if i + 1 < len(paragraphs) else None
            neighbours[pid] = (before, after)
    try:
        info = read_run_info(run_dir)
        complete = info is None or info.complete  # a bare predictions file counts as complete
    except (InputError, OSError):
        complete = False  # a damaged run.json: push what is there, with a note
    return RunIndex(run_dir, entries, problems, neighbours, complete, PredictionReader(predictions))


# -- push ---------------------------------------------------------------------------------------


@dataclass
class PushResult:
    """What a push did."""

    url: str
    project_id: int
    project_title: str
    created_project: bool
    model_version: str
    paragraphs_in_run: int
    invalid: list[str]
    already_present: int
    new_tasks: int
    predictions_added: int
    left_for_later: int
    duplicates_removed: int
    tasks_in_project: int
    seconds: float
    retries: int
    notes: list[str] = field(default_factory=list)


def push_run(
    run: str | Path,
    config: StanceConfig,
    client: LabelStudioClient,
    project_title: str,
    *,
    limit: int | None = None,
    order: str = "uncertainty",
    seed: int = 0,
    batch_size: int | None = None,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> PushResult:
    """Push a run's predictions to the project (created when missing); safe to repeat.

    `limit` caps the number of new tasks (the first ones in `order`); predictions of a new
    model_version are added to every existing task of the run's paragraphs regardless.
    `on_batch(n)` is called after each import batch (tests use it to interrupt a push).
    """
    if order not in ORDERS:
        raise LabelStudioError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")
    if limit is not None and limit < 0:
        raise LabelStudioError(f"--limit {limit} is negative; expected a number of paragraphs")
    started = time.monotonic()
    index = index_run(run, config)
    try:
        result = _push(index, config, client, project_title, limit=limit, order=order, seed=seed,
                       batch_size=batch_size or config.labelstudio.batch_size, progress=progress, on_batch=on_batch, started=started)
    finally:
        index.reader.close()
    if Path(run).is_dir():
        write_push_record(RunDir(Path(run)), {"pushed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(result)})
    return result


def _push(
    index: RunIndex, config: StanceConfig, client: LabelStudioClient, project_title: str, *, limit: int | None, order: str,
    seed: int, batch_size: int, progress: bool, on_batch: Callable[[int], None] | None, started: float,
) -> PushResult:
    entries = index.entries
    notes = []
    if not index.complete:
        notes.append(f"{index.run.info} does not say the run is complete: pushing the {len(entries)} paragraphs written so far")
    versions = Counter(e.model_version for e in entries)
    model_version = versions.most_common(1)[0][0] if versions else ""
    xml = checked_labeling_config(config)

    client.whoami()  # a clear error for a wrong URL or key before anything else
    project, created = _ensure_project(client, project_title, xml, model_version)
    pid = project["id"]
    if not created and project["label_config"].strip() != xml.strip():
        notes.append("the project's layout differs from the generated one (the labels match): left as it is")

    tasks = client.list_tasks(pid)
    present = _tasks_by_paragraph(tasks)
    has_version = _model_versions(client, pid, tasks, versions)
    new = order_records([e for e in entries if e.id not in present], order, seed, key=lambda e: e.score)
    left_for_later = 0
    if limit is not None and len(new) > limit:
        left_for_later = len(new) - limit
        new = new[:limit]
    needing_prediction = [
        (present[e.id][0], e) for e in entries if e.id in present and e.model_version not in has_version.get(present[e.id][0], set())
    ]

    new_tasks = predictions_added = 0
    with Progress(len(new) + len(needing_prediction), "push", unit="tasks", enabled=progress) as bar:
        for batch_no, batch in enumerate(_batches(new, batch_size)):
            new_tasks += _import_tasks_once(client, pid, batch, index, config)
            bar.advance(len(batch))
            if on_batch is not None:
                on_batch(batch_no)
        for batch in _batches(needing_prediction, batch_size):
            predictions_added += _import_predictions_once(client, pid, batch, index, config)
            bar.advance(len(batch))

    already_present = sum(1 for e in entries if e.id in present)
    # Label Studio refuses a project model_version that no prediction carries: set it only when one does
    version_in_project = bool(new or needing_prediction or already_present)
    if model_version and version_in_project and client.get_project(pid)["model_version"] != model_version:
        client.update_project(pid, model_version=model_version)  # annotators now see this version pre-selected

    # nothing written and no copies seen: the listing from the start is still the project's state
    unchanged = not (new or needing_prediction) and all(len(ids) == 1 for ids in present.values())
    duplicates_removed, final = _remove_duplicates(client, pid, notes, tasks if unchanged else None)
    final_ids = {t.para_id for t in final}
    missing = [e.id for e in new if e.id not in final_ids]
    if missing:
        raise LabelStudioError(
            f"after the push, {len(missing)} paragraph(s) are still not in project {project_title!r} (e.g. {missing[0]!r});"
            " run the same push again"
        )
    return PushResult(
        url=client.url, project_id=pid, project_title=project_title, created_project=created, model_version=model_version,
        paragraphs_in_run=len(entries) + len(index.problems), invalid=index.problems,
        already_present=already_present, new_tasks=new_tasks, predictions_added=predictions_added,
        left_for_later=left_for_later, duplicates_removed=duplicates_removed, tasks_in_project=len(final),
        seconds=round(time.monotonic() - started, 3), retries=client.retries_done, notes=notes,
    )


def _ensure_project(client: LabelStudioClient, title: str, xml: str, model_version: str) -> tuple[dict[str, Any], bool]:
    """The project called `title`: its labels checked against the config, or created now.

    Looked up before every attempt: after an uncertain create the project may exist now.
    """

    def find_or_create(recheck: bool) -> tuple[dict[str, Any], bool]:
        found = client.find_projects(title)
        if len(found) > 1:
            ids = ", ".join(str(p["id"]) for p in found)
            raise LabelStudioError(f"{len(found)} projects at {client.url} are called {title!r} (ids {ids}); rename all but one")
        if found:
            project = found[0]
            differences = config_differences(xml, project["label_config"])
            if differences:
                listing = "\n".join(f"  - {d}" for d in differences)
                raise LabelStudioError(
                    f"project {title!r} (id {project['id']} at {client.url}) was set up with other labels than the config;"
                    f" nothing was imported. Differences:\n{listing}\n"
                    "Push to a new --project, or paste the output of `stance labelstudio config` into the project's"
                    " Settings > Labeling Interface."
                )
            return project, False
        project = client.create_project(
            title, xml, model_version=model_version, sampling="Uncertainty sampling", show_collab_predictions=True,
            description="Stance and framing review: predictions are pre-selected; least certain paragraphs come first.",
        )
        return project, True

    return client.retry_uncertain_write(find_or_create)


def _tasks_by_paragraph(tasks: Iterable[TaskRef]) -> dict[str, list[int]]:
    present: dict[str, list[int]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: t.id):
        if task.para_id is not None:
            present[task.para_id].append(task.id)
    return present


def _model_versions(client: LabelStudioClient, pid: int, tasks: Sequence[TaskRef], versions: Iterable[str]) -> dict[int, set[str]]:
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


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _import_tasks_once(client: LabelStudioClient, pid: int, batch: Sequence[RunEntry], index: RunIndex, config: StanceConfig) -> int:
    """Import a batch; after an uncertain failure, import only what the project still lacks."""
    pending = list(batch)
    imported = 0

    def send(recheck: bool) -> int:
        nonlocal pending, imported
        if recheck:
            present = {t.para_id for t in client.list_tasks(pid)}
            imported += sum(1 for e in pending if e.id in present)
            pending = [e for e in pending if e.id not in present]
        if pending:
            imported += len(client.import_tasks(pid, [index.task(e, config) for e in pending]))
            pending = []
        return imported

    return client.retry_uncertain_write(send)


def _import_predictions_once(
    client: LabelStudioClient, pid: int, batch: Sequence[tuple[int, RunEntry]], index: RunIndex, config: StanceConfig
) -> int:
    """Add a batch of predictions to existing tasks; after an uncertain failure, only the missing ones."""
    pending = list(batch)
    added = 0

    def send(recheck: bool) -> int:
        nonlocal pending, added
        if recheck:
            versions = _model_versions(client, pid, client.list_tasks(pid), [e.model_version for _, e in pending])
            added += sum(1 for t, e in pending if e.model_version in versions.get(t, set()))
            pending = [(t, e) for t, e in pending if e.model_version not in versions.get(t, set())]
        if pending:
            client.import_predictions(pid, [{"task": task_id, **prediction_for(index.prediction(e), config)} for task_id, e in pending])
            added += len(pending)
            pending = []
        return added

    return client.retry_uncertain_write(send)


def _remove_duplicates(client: LabelStudioClient, pid: int, notes: list[str], tasks: list[TaskRef] | None = None) -> tuple[int, list[TaskRef]]:
    """Keep one task per paragraph: delete extra copies that nobody has annotated."""
    tasks = client.list_tasks(pid) if tasks is None else tasks
    by_paragraph: dict[str, list[TaskRef]] = defaultdict(list)
    for task in tasks:
        if task.para_id is not None:
            by_paragraph[task.para_id].append(task)
    removed: set[int] = set()
    for para_id, copies in by_paragraph.items():
        if len(copies) < 2:
            continue
        # keep the most annotated copy (the oldest among equals): nobody's work is deleted
        copies.sort(key=lambda t: (-(t.total_annotations + t.cancelled_annotations), t.id))
        for extra in copies[1:]:
            if extra.total_annotations + extra.cancelled_annotations == 0:
                client.delete_task(extra.id)
                removed.add(extra.id)
            else:
                notes.append(f"paragraph {para_id!r} is in tasks {copies[0].id} and {extra.id}, both annotated: both kept")
    return len(removed), [t for t in tasks if t.id not in removed]


def format_push_summary(result: PushResult) -> str:
    """A few lines for the terminal after a push."""
    lines = [
        f"project {result.project_title!r} (id {result.project_id}) at {result.url}"
        + (" created" if result.created_project else ""),
        f"  {result.new_tasks} new tasks, predictions of {result.model_version} added to {result.predictions_added} existing tasks,"
        f" {result.already_present} paragraphs were already there",
        f"  the project now holds {result.tasks_in_project} tasks; {result.left_for_later} paragraphs left for a later push (--limit)",
    ]
    if result.duplicates_removed:
        lines.append(f"  removed {result.duplicates_removed} duplicate task(s) left by an interrupted import")
    if result.retries:
        lines.append(f"  {result.retries} request(s) were retried after timeouts, dropped connections or server errors")
    if result.invalid:
        lines.append(f"  {len(result.invalid)} prediction(s) not pushed:")
        lines += [f"    {problem}" for problem in result.invalid[:20]]
        if len(result.invalid) > 20:
            lines.append(f"    ... and {len(result.invalid) - 20} more")
    lines += [f"  note: {note}" for note in result.notes]
    lines.append(f"  {result.seconds:.1f} s. Review at {result.url}/projects/{result.project_id}/ (least certain first)")
    return "\n".join(lines)
