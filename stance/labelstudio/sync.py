"""Push predictions to Label Studio as pre-selected choices, and pull people's labels back.

Push is idempotent by paragraph id. Label Studio never deduplicates an import, so push first
reads which paragraph ids the project holds, imports only the others, and adds a prediction of
a new model_version to the existing task instead of creating a second task. A write whose
outcome is unknown (timeout, reset, 5xx) is followed by a fresh look at the project before the
rest is sent again, and every push ends by checking that each paragraph is one task (removing
an extra, never-annotated copy that a late, lost-looking import may still have created). So a
push that was interrupted anywhere and run again ends with every paragraph exactly once.

The review order: each prediction's `score` is the model's confidence,
`min over targets of (p(top label) - p(second label))`, so a paragraph where any target was a
close call scores low. Projects are created with "Uncertainty sampling": annotators get the
lowest score (least certain) first. A paragraph mentioning no target scores 1.

Pull exports every annotated task and writes one record per (paragraph, target, annotation)
in the interchange format that `stance train` and `stance evaluate` read. Labels are checked
against the config both ways: a prediction or an annotation with a label the config does not
define is reported (task, paragraph, label) and left out; the rest goes on.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from stance.config import StanceConfig
from stance.errors import InputError, LabelStudioError
from stance.fileio import atomic_write_json, atomic_writer, dumps_line
from stance.labelstudio.client import LabelStudioClient, TaskRef, UncertainWriteError
from stance.labelstudio.xml import FRAMES_NAME, TEXT_NAME, config_differences, control_names, labeling_config
from stance.progress import Progress

Order = Literal["uncertainty", "random", "document"]
ORDERS: tuple[str, ...] = ("uncertainty", "random", "document")
PUSH_RECORD = "labelstudio-push.json"  # written into the run directory after each push
CONTEXT_CHARS = 600  # neighbouring paragraphs are shown up to this many characters
SCORE_DIGITS = 4


# -- predictions -> tasks -----------------------------------------------------------------------


def confidence(record: dict[str, Any]) -> float:
    """The prediction's `score`: the smallest margin between the top two labels over all targets.

    1 means every target was clear-cut; near 0 means at least one target was a coin toss.
    """
    margins = []
    for entry in record.get("stance", {}).values():
        scores = sorted((float(v) for v in (entry.get("scores") or {}).values()), reverse=True)
        if len(scores) >= 2:
            margins.append(scores[0] - scores[1])
        elif scores:
            margins.append(scores[0])
    return round(min(margins), SCORE_DIGITS) if margins else 1.0


def check_prediction(record: dict[str, Any], config: StanceConfig) -> list[str]:
    """What makes a prediction record unusable with this config (empty when it is fine)."""
    problems = []
    for key in ("id", "text"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            problems.append(f"field {key!r} is missing or empty")
    stance = record.get("stance")
    if not isinstance(stance, dict):
        return [*problems, "field 'stance' is missing; expected {target: {label, scores}}"]
    allowed = config.all_label_names
    for target in config.targets:
        entry = stance.get(target.name)
        label = entry.get("label") if isinstance(entry, dict) else None
        if entry is None:
            problems.append(f"no prediction for target {target.name!r}")
        elif label not in allowed:
            problems.append(f"label {label!r} for target {target.name!r} is not one of {', '.join(allowed)}")
    for name in stance:
        if name not in {t.name for t in config.targets}:
            problems.append(f"target {name!r} is not in the config")
    for frame in record.get("frame_labels") or []:
        if frame not in config.frame_names:
            problems.append(f"frame {frame!r} is not in the config")
    return problems


def prediction_result(record: dict[str, Any], config: StanceConfig) -> list[dict[str, Any]]:
    """Label Studio `result` items: one `choices` item per target, one for the frames (when any apply)."""
    names = control_names(config)
    result = [
        {"from_name": names[t.name], "to_name": TEXT_NAME, "type": "choices", "value": {"choices": [record["stance"][t.name]["label"]]}}
        for t in config.targets
    ]
    frames = [f for f in config.frame_names if f in set(record.get("frame_labels") or [])]
    if frames:
        result.append({"from_name": FRAMES_NAME, "to_name": TEXT_NAME, "type": "choices", "value": {"choices": frames}})
    return result


def prediction_for(record: dict[str, Any], config: StanceConfig) -> dict[str, Any]:
    """A prediction in Label Studio's JSON shape."""
    return {"model_version": record["model_version"], "score": confidence(record), "result": prediction_result(record, config)}


def task_for(record: dict[str, Any], config: StanceConfig, before: str | None, after: str | None) -> dict[str, Any]:
    """A Label Studio task: the paragraph, its context, its ids, and the model's prediction."""
    context = " · ".join(
        [record.get("title") or "(no title)", record.get("date") or "(no date)", record.get("source") or "(no source)"]
    )
    data = {
        TEXT_NAME: record["text"],
        "para_id": record["id"],
        "doc_id": record.get("doc_id"),
        "index": record.get("index"),
        "date": record.get("date"),
        "title": record.get("title"),
        "source": record.get("source"),
        "url": record.get("url"),
        "context": context,
        "before": f"Previous paragraph: {_clip(before)}" if before else "(first paragraph of the document)",
        "after": f"Next paragraph: {_clip(after)}" if after else "(last paragraph of the document)",
    }
    return {"data": data, "predictions": [prediction_for(record, config)]}


def _clip(text: str) -> str:
    return text if len(text) <= CONTEXT_CHARS else text[: CONTEXT_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One usable prediction of a run: what ordering and matching need, and where the rest is."""

    id: str
    model_version: str
    confidence: float
    offset: int  # byte offset of its line in predictions.jsonl


@dataclass
class RunPredictions:
    """The usable predictions of a run, in file order, read from the file only when a task is built.

    Memory stays small for large runs: only ids, versions, scores and byte offsets are held.
    """

    path: Path
    entries: list[RunEntry]
    problems: list[str]
    neighbours: dict[str, tuple[int | None, int | None]]  # id -> offsets of the previous and next paragraph
    complete: bool
    _handle: Any = field(default=None, repr=False)

    def read(self, offset: int) -> dict[str, Any]:
        """The prediction record whose line starts at `offset`."""
        if self._handle is None:
            self._handle = self.path.open("rb")
        self._handle.seek(offset)
        return json.loads(self._handle.readline())

    def task(self, entry: RunEntry, config: StanceConfig) -> dict[str, Any]:
        """The Label Studio task of an entry, with its neighbouring paragraphs as context."""
        before, after = self.neighbours.get(entry.id, (None, None))
        return task_for(
            self.read(entry.offset), config,
            self.read(before)["text"] if before is not None else None,
            self.read(after)["text"] if after is not None else None,
        )

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_run(run: str | Path, config: StanceConfig) -> RunPredictions:
    """Index RUN/predictions.jsonl (or that file itself), checking every record against the config.

    A record that is not JSON, or whose labels the config does not define, is reported (file,
    line, paragraph, what is wrong) and left out; the rest is pushed.
    """
    run = Path(run)
    path = run / "predictions.jsonl" if run.is_dir() else run
    if not path.is_file():
        raise InputError(f"{path} does not exist; expected a run directory written by `stance annotate` (with predictions.jsonl)")
    entries: list[RunEntry] = []
    problems: list[str] = []
    by_doc: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    seen: set[str] = set()
    versions: dict[str, str] = {}  # one string object per version, however many paragraphs carry it
    with path.open("rb") as handle:
        offset = 0
        for line_no, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                problems.append(f"{path}:{line_no}: not a JSON object ({str(exc)[:80]}); skipped")
                continue
            if not isinstance(record, dict):
                problems.append(f"{path}:{line_no}: not a JSON object; skipped")
                continue
            issues = check_prediction(record, config)
            if not issues and not record.get("model_version"):
                issues.append("field 'model_version' is missing")
            if not issues and record["id"] in seen:
                issues.append(f"paragraph id {record['id']!r} appears twice; the first one is pushed")
            if issues:
                problems.append(f"{path}:{line_no} (paragraph {record.get('id')!r}): {'; '.join(issues)}; skipped")
                continue
            seen.add(record["id"])
            version = versions.setdefault(record["model_version"], record["model_version"])
            entries.append(RunEntry(record["id"], version, confidence(record), start))
            by_doc[str(record.get("doc_id"))].append((int(record.get("index") or 0), record["id"], start))
    neighbours: dict[str, tuple[int | None, int | None]] = {}
    for paragraphs in by_doc.values():
        paragraphs.sort()
        for i, (_, pid, _) in enumerate(paragraphs):
            before = paragraphs[i - 1][2] if i > 0 else None
            after = paragraphs[i + 1][2] if i + 1 < len(paragraphs) else None
            neighbours[pid] = (before, after)
    complete = True
    run_json = path.parent / "run.json"
    if run_json.is_file():
        try:
            complete = json.loads(run_json.read_text(encoding="utf-8")).get("status") == "complete"
        except (OSError, ValueError):
            complete = False
    return RunPredictions(path, entries, problems, neighbours, complete)


def order_records(records: Sequence[Any], order: str, seed: int = 0, key: Callable[[Any], float] = confidence) -> list[Any]:
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
    batch_size = batch_size or config.labelstudio.batch_size
    run_data = read_run(run, config)
    try:
        result = _push(run_data, config, client, project_title, limit=limit, order=order, seed=seed, batch_size=batch_size,
                       progress=progress, on_batch=on_batch, started=started)
    finally:
        run_data.close()
    if Path(run).is_dir():
        atomic_write_json(Path(run) / PUSH_RECORD, {"pushed_at": _now(), **asdict(result)})
    return result


def _push(
    run_data: RunPredictions,
    config: StanceConfig,
    client: LabelStudioClient,
    project_title: str,
    *,
    limit: int | None,
    order: str,
    seed: int,
    batch_size: int,
    progress: bool,
    on_batch: Callable[[int], None] | None,
    started: float,
) -> PushResult:
    entries = run_data.entries
    notes = []
    if not run_data.complete:
        notes.append(f"{run_data.path.parent / 'run.json'} does not say the run is complete: pushing the {len(entries)} paragraphs written so far")
    versions = Counter(e.model_version for e in entries)
    model_version = versions.most_common(1)[0][0] if versions else ""
    xml = labeling_config(config)

    client.whoami()  # a clear error for a wrong URL or key before anything else
    project, created = _ensure_project(client, project_title, xml, model_version)
    pid = project["id"]
    if not created and project["label_config"].strip() != xml.strip():
        notes.append("the project's layout differs from the generated one (the labels match): left as it is")

    tasks = client.list_tasks(pid)
    present = _tasks_by_paragraph(tasks)
    has_version = _model_versions(client, pid, tasks, versions)
    new = order_records([e for e in entries if e.id not in present], order, seed, key=lambda e: e.confidence)
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
            new_tasks += _import_tasks_once(client, pid, batch, run_data, config)
            bar.advance(len(batch))
            if on_batch is not None:
                on_batch(batch_no)
        for batch in _batches(needing_prediction, batch_size):
            predictions_added += _import_predictions_once(client, pid, batch, run_data, config)
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
        paragraphs_in_run=len(entries) + len(run_data.problems), invalid=run_data.problems,
        already_present=already_present, new_tasks=new_tasks, predictions_added=predictions_added,
        left_for_later=left_for_later, duplicates_removed=duplicates_removed, tasks_in_project=len(final),
        seconds=round(time.monotonic() - started, 3), retries=client.retries_done, notes=notes,
    )


def _ensure_project(client: LabelStudioClient, title: str, xml: str, model_version: str) -> tuple[dict[str, Any], bool]:
    """The project called `title`: its labels checked against the config, or created now."""
    for attempt in range(client.max_retries + 1):
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
        try:
            project = client.create_project(
                title, xml, model_version=model_version, sampling="Uncertainty sampling", show_collab_predictions=True,
                description="Stance and framing review: predictions are pre-selected; least certain paragraphs come first.",
            )
            return project, True
        except UncertainWriteError:
            if attempt == client.max_retries:
                raise
            client.retries_done += 1
            time.sleep(client.backoff * 2**attempt)  # then look again: the project may exist now
    raise AssertionError("unreachable")


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


def _import_tasks_once(client: LabelStudioClient, pid: int, batch: Sequence[RunEntry], run: RunPredictions, config: StanceConfig) -> int:
    """Import a batch; after an uncertain failure, import only what the project still lacks."""
    pending = list(batch)
    imported = 0
    for attempt in range(client.max_retries + 1):
        if not pending:
            break
        try:
            imported += len(client.import_tasks(pid, [run.task(e, config) for e in pending]))
            return imported
        except UncertainWriteError:
            if attempt == client.max_retries:
                raise
            client.retries_done += 1
            time.sleep(client.backoff * 2**attempt)
            present = {t.para_id for t in client.list_tasks(pid)}
            imported += sum(1 for e in pending if e.id in present)
            pending = [e for e in pending if e.id not in present]
    return imported


def _import_predictions_once(
    client: LabelStudioClient, pid: int, batch: Sequence[tuple[int, RunEntry]], run: RunPredictions, config: StanceConfig
) -> int:
    """Add a batch of predictions to existing tasks; after an uncertain failure, only the missing ones."""
    pending = list(batch)
    added = 0
    for attempt in range(client.max_retries + 1):
        if not pending:
            break
        try:
            client.import_predictions(pid, [{"task": task_id, **prediction_for(run.read(e.offset), config)} for task_id, e in pending])
            return added + len(pending)
        except UncertainWriteError:
            if attempt == client.max_retries:
                raise
            client.retries_done += 1
            time.sleep(client.backoff * 2**attempt)
            versions = _model_versions(client, pid, client.list_tasks(pid), [e.model_version for _, e in pending])
            added += sum(1 for t, e in pending if e.model_version in versions.get(t, set()))
            pending = [(t, e) for t, e in pending if e.model_version not in versions.get(t, set())]
    return added


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


# -- pull ---------------------------------------------------------------------------------------


@dataclass
class PullResult:
    """What a pull found and wrote."""

    url: str
    project_id: int
    project_title: str
    out: str
    tasks_exported: int
    annotations: int
    records: int
    skipped_tasks: int
    cancelled_annotations: int
    unlabelled_targets: int
    invalid: list[str]
    annotators: list[str]
    per_target: dict[str, dict[str, Any]]
    frames_changed: float | None
    seconds: float
    retries: int


def pull_project(
    config: StanceConfig,
    client: LabelStudioClient,
    project_title: str,
    out: str | Path,
    *,
    overwrite: bool = False,
) -> PullResult:
    """Export the project's annotations to `out` (JSON Lines, written atomically) and summarise them.

    An existing `out` is kept unless `overwrite` (a pull never replaces an earlier export by surprise).
    """
    started = time.monotonic()
    out = Path(out)
    summary_path = summary_path_for(out)
    if not overwrite:
        for path in (out, summary_path):
            if path.exists():
                raise LabelStudioError(f"{path} already exists (an earlier export); pass --overwrite to replace it, or choose another --out")
    client.whoami()
    found = client.find_projects(project_title)
    if not found:
        raise LabelStudioError(f"no project called {project_title!r} at {client.url}; push a run to it first")
    if len(found) > 1:
        raise LabelStudioError(f"{len(found)} projects at {client.url} are called {project_title!r}; rename all but one")
    project = found[0]
    stats = new_pull_stats()
    labels: list[dict[str, Any]] = []  # only what the summary needs, not the texts: memory stays small
    with atomic_writer(out) as handle:
        exported = client.export_tasks(project["id"], with_annotations_only=True)
        for record in iter_annotation_records(exported, config, project["model_version"], stats):
            handle.write(dumps_line(record))
            labels.append({k: record[k] for k in ("id", "target", "label", "annotator", "updated_at", "model_label")})
    result = PullResult(
        url=client.url, project_id=project["id"], project_title=project_title, out=str(out),
        tasks_exported=stats["tasks"], annotations=stats["annotations"], records=len(labels),
        skipped_tasks=stats["skipped_tasks"], cancelled_annotations=stats["cancelled"],
        unlabelled_targets=stats["unlabelled"], invalid=stats["invalid"], annotators=sorted(stats["annotators"]),
        per_target=review_summary(labels, config), frames_changed=_frames_changed(stats),
        seconds=round(time.monotonic() - started, 3), retries=client.retries_done,
    )
    atomic_write_json(summary_path, {"pulled_at": _now(), **asdict(result)})
    return result


def summary_path_for(out: Path) -> Path:
    """`reviewed.jsonl` -> `reviewed.summary.json`."""
    return out.with_name(out.stem + ".summary.json")


def new_pull_stats() -> dict[str, Any]:
    """Counters that `iter_annotation_records` fills in."""
    return {
        "tasks": 0, "annotations": 0, "cancelled": 0, "skipped_tasks": 0, "unlabelled": 0, "invalid": [],
        "annotators": set(), "frames_compared": 0, "frames_changed": 0,
    }


def annotation_records(
    exported: Iterable[dict[str, Any]], config: StanceConfig, project_model_version: str = ""
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All interchange records of an export, and the counts (see `iter_annotation_records`)."""
    stats = new_pull_stats()
    records = list(iter_annotation_records(exported, config, project_model_version, stats))
    return records, {**stats, "frames_changed": _frames_changed(stats)}


def _frames_changed(stats: dict[str, Any]) -> float | None:
    return round(stats["frames_changed"] / stats["frames_compared"], 4) if stats["frames_compared"] else None


def iter_annotation_records(
    exported: Iterable[dict[str, Any]], config: StanceConfig, project_model_version: str, stats: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Interchange records from Label Studio's JSON export, counting into `stats` as it goes.

    One record per (paragraph, target, kept annotation), in export order: every person's
    annotation is kept; cancelled (skipped) annotations are counted and left out; a target the
    annotator left blank is counted as unlabelled, not taken as `not_mentioned`.
    """
    names = control_names(config)
    allowed = set(config.all_label_names)
    frame_names = set(config.frame_names)
    known_controls = set(names.values()) | {FRAMES_NAME}
    invalid: list[str] = stats["invalid"]
    for task in exported:
        stats["tasks"] += 1
        data = task.get("data") or {}
        para_id = data.get("para_id")
        kept = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        stats["cancelled"] += sum(1 for a in task.get("annotations") or [] if a.get("was_cancelled"))
        if not kept:
            stats["skipped_tasks"] += 1
            continue
        if not para_id:
            invalid.append(f"task {task.get('id')}: no para_id in its data (not pushed by stance); skipped")
            continue
        predictions = {p.get("id"): p for p in task.get("predictions") or [] if isinstance(p, dict)}
        for annotation in kept:
            stats["annotations"] += 1
            where = f"task {task.get('id')} (paragraph {para_id!r}), annotation {annotation.get('id')}"
            annotator = _annotator(annotation.get("completed_by"))
            stats["annotators"].add(annotator)
            chosen = _choices_by_control(annotation.get("result") or [])
            prediction = _prediction_seen(annotation, predictions, project_model_version)
            predicted = _choices_by_control(prediction.get("result") or []) if prediction else {}
            frames = chosen.get(FRAMES_NAME)
            bad_frames = [f for f in frames or [] if f not in frame_names]
            if bad_frames:
                invalid.append(f"{where}: frame(s) {', '.join(map(repr, bad_frames))} not in the config; frames left out")
                frames = None
            if frames is not None and prediction:
                stats["frames_compared"] += 1
                stats["frames_changed"] += set(frames) != set(predicted.get(FRAMES_NAME) or [])
            for target in config.targets:
                values = chosen.get(names[target.name])
                if not values:
                    stats["unlabelled"] += 1
                    continue
                if len(values) != 1 or values[0] not in allowed:
                    invalid.append(
                        f"{where}: label {values!r} for target {target.name!r} is not one of {', '.join(config.all_label_names)}; skipped"
                    )
                    continue
                model_values = predicted.get(names[target.name]) or []
                yield {
                    "id": para_id,
                    "text": data.get(TEXT_NAME, ""),
                    "target": target.name,
                    "label": values[0],
                    "frames": [f for f in config.frame_names if f in set(frames)] if frames is not None else None,
                    "annotator": annotator,
                    "updated_at": annotation.get("updated_at") or annotation.get("created_at"),
                    "model_label": model_values[0] if len(model_values) == 1 else None,
                    "model_version": prediction.get("model_version") if prediction else None,
                    "doc_id": data.get("doc_id"),
                    "annotation_id": annotation.get("id"),
                }
            unknown = sorted(set(chosen) - known_controls)
            if unknown:
                invalid.append(f"{where}: choice group(s) {', '.join(map(repr, unknown))} are not in the config; ignored")


def _annotator(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id"))
    return str(completed_by)


def _choices_by_control(result: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    chosen: dict[str, list[str]] = {}
    for item in result:
        if item.get("type") == "choices" and isinstance(item.get("value"), dict):
            chosen[str(item.get("from_name"))] = [str(v) for v in item["value"].get("choices") or []]
    return chosen


def _prediction_seen(annotation: dict[str, Any], predictions: dict[Any, dict[str, Any]], project_version: str) -> dict[str, Any] | None:
    """The prediction the annotator started from: the one Label Studio links, else the project's version."""
    parent = annotation.get("parent_prediction")
    if parent in predictions:
        return predictions[parent]
    if isinstance(annotation.get("prediction"), dict) and annotation["prediction"].get("result"):
        return annotation["prediction"]
    current = [p for p in predictions.values() if p.get("model_version") == project_version]
    pool = current or list(predictions.values())
    return max(pool, key=lambda p: (p.get("created_at") or "", p.get("id") or 0)) if pool else None


def review_summary(records: Sequence[dict[str, Any]], config: StanceConfig) -> dict[str, dict[str, Any]]:
    """Per target: labels, correction rate (label != model label) and agreement between annotators."""
    summary: dict[str, dict[str, Any]] = {}
    for target in config.targets:
        rows = [r for r in records if r["target"] == target.name]
        compared = [r for r in rows if r["model_label"] is not None]
        changed = sum(1 for r in compared if r["label"] != r["model_label"])
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for r in sorted(rows, key=lambda r: r["updated_at"] or ""):
            latest[(r["id"], r["annotator"])] = r  # one label per person and paragraph: their latest
        kappa, alpha, overlap = agreement({k: v["label"] for k, v in latest.items()}, config.all_label_names)
        summary[target.name] = {
            "records": len(rows),
            "labels": dict(Counter(r["label"] for r in rows)),
            "correction_rate": round(changed / len(compared), 4) if compared else None,
            "corrected": changed,
            "compared": len(compared),
            "paragraphs_with_several_annotators": overlap,
            "cohen_kappa": kappa,
            "krippendorff_alpha": alpha,
        }
    return summary


def agreement(labels: dict[tuple[str, str], str], label_names: Sequence[str]) -> tuple[float | None, float | None, int]:
    """(mean pairwise Cohen's kappa, Krippendorff's alpha (nominal), paragraphs with 2+ annotators).

    `labels` maps (paragraph id, annotator) to a label. None where it is undefined: fewer
    than two annotators on any paragraph, or a single label used throughout.
    """
    by_paragraph: dict[str, dict[str, str]] = defaultdict(dict)
    for (para_id, annotator), label in labels.items():
        by_paragraph[para_id][annotator] = label
    shared = {p: a for p, a in by_paragraph.items() if len(a) >= 2}
    if not shared:
        return None, None, 0
    annotators = sorted({a for per in shared.values() for a in per})
    index = {name: i for i, name in enumerate(label_names)}
    alpha = kappa = None
    try:
        import krippendorff
        import numpy as np

        matrix = np.full((len(annotators), len(shared)), np.nan)
        for column, per in enumerate(shared.values()):
            for annotator, label in per.items():
                matrix[annotators.index(annotator), column] = index.get(label, np.nan)
        value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
        alpha = round(value, 4) if math.isfinite(value) else None
    except ValueError:
        alpha = None  # one label value only: agreement is undefined
    kappas = []
    for i, first in enumerate(annotators):
        for second in annotators[i + 1 :]:
            pairs = [(per[first], per[second]) for per in shared.values() if first in per and second in per]
            if len(pairs) >= 2:
                value = _cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])
                if value is not None:
                    kappas.append(value)
    if kappas:
        kappa = round(sum(kappas) / len(kappas), 4)
    return kappa, alpha, len(shared)


def _cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / (n * n)
    if expected >= 1.0:
        return None  # both used one and the same label throughout
    return (observed - expected) / (1.0 - expected)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- summaries for the command line ---------------------------------------------------------------


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


def format_pull_summary(result: PullResult) -> str:
    """A few lines for the terminal after a pull: counts, then per target labels, corrections and agreement."""
    lines = [
        f"wrote {result.records} records to {result.out} ({result.annotations} annotations on {result.tasks_exported} tasks"
        f" by {len(result.annotators)} annotator(s))",
        f"  left out: {result.skipped_tasks} skipped task(s), {result.cancelled_annotations} cancelled annotation(s),"
        f" {result.unlabelled_targets} target(s) left blank",
    ]
    for target, info in result.per_target.items():
        rate = "n/a" if info["correction_rate"] is None else f"{100 * info['correction_rate']:.0f}% ({info['corrected']}/{info['compared']})"
        agreement_text = ""
        if info["paragraphs_with_several_annotators"]:
            kappa = "n/a" if info["cohen_kappa"] is None else f"{info['cohen_kappa']:.2f}"
            alpha = "n/a" if info["krippendorff_alpha"] is None else f"{info['krippendorff_alpha']:.2f}"
            agreement_text = f", agreement on {info['paragraphs_with_several_annotators']} paragraphs: kappa {kappa}, alpha {alpha}"
        lines.append(f"  {target}: {info['records']} labels, changed from the model's label: {rate}{agreement_text}")
    if result.frames_changed is not None:
        lines.append(f"  frames changed from the model's in {100 * result.frames_changed:.0f}% of annotations")
    if result.invalid:
        lines.append(f"  {len(result.invalid)} label(s) not in the config, left out:")
        lines += [f"    {problem}" for problem in result.invalid[:20]]
    lines.append(f"  {result.seconds:.1f} s; summary in {summary_path_for(Path(result.out))}")
    return "\n".join(lines)
