"""Push a run's predictions to Label Studio as pre-selected choices; safe to repeat, and to run at once.

Push is idempotent by paragraph id. Label Studio never deduplicates an import, so push first
reads which paragraph ids the project holds, imports only the others, and adds a prediction of
a new model_version to the existing task instead of creating a second task. A write whose
outcome is unknown (timeout, reset, 5xx) is followed by a fresh look at the project before the
rest is sent again (`LabelStudioClient.retry_uncertain_write`), and every push ends by
converging (`stance.labelstudio.converge`): one project per title, one task per paragraph, one
prediction per task and version, by rules on which any number of pushes running at the same time
agree. So a push that was interrupted anywhere and run again, or two people pushing the same run
into the same project at once, end with every paragraph exactly once.

Which version the project shows is `stance.labelstudio.versions`' rule: set by the first push,
changed only by `use_version`; a push of another version adds its predictions to the existing
tasks and holds back its new paragraphs (they would open blank). Every push reports it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import LabelStudioError
from stance.idmap import under_run_ids
from stance.labelstudio.client import LabelStudioClient
from stance.labelstudio.converge import (
    PendingPrediction,
    add_predictions_once,
    remove_duplicate_predictions,
    remove_duplicate_tasks,
    settle_project,
    survivor,
    tasks_by_paragraph,
    versions_by_task,
)
from stance.labelstudio.run_index import ORDERS, RunEntry, RunIndex, index_run, order_records
from stance.labelstudio.screen import instructions_html
from stance.labelstudio.versions import live_titles, report_for
from stance.labelstudio.xml import MENTIONS_NAME, checked_labeling_config, config_differences, has_control
from stance.progress import Progress
from stance.runs import RunDir, write_push_record

__all__ = ["ORDERS", "PushResult", "format_push_summary", "order_records", "push_run"]


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
    shown_before: str = ""  # the version the project showed before the push
    shown_version: str = ""  # ... and after it
    held_back: int = 0  # new paragraphs not sent: their version is not the one the project shows
    duplicate_predictions_removed: int = 0
    version_lines: list[str] = field(default_factory=list)


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
    project, created = _ensure_project(client, project_title, xml, model_version, instructions_html(config))
    pid = project["id"]
    marks = has_control(project["label_config"], MENTIONS_NAME)
    if not created and project["label_config"].strip() != xml.strip():
        notes.append("the project's layout differs from the generated one (the labels match): left as it is; paste"
                      " `stance labelstudio config` into Settings > Labeling Interface for the current screen")
    if not created and not project.get("expert_instruction"):
        client.update_project(pid, expert_instruction=instructions_html(config), show_instruction=True)

    tasks = client.list_tasks(pid)
    present = under_run_ids(tasks_by_paragraph(tasks), [e.id for e in entries])  # a task of a legacy id is its paragraph's (stance.idmap)
    have = versions_by_task(client, pid, tasks, versions)
    live = live_titles(client, pid)
    shown = "" if created else project["model_version"]  # a project created just now showed nothing before
    carried = shown in live or any(shown in found for found in have.values())
    sets_version = not shown or not carried  # the project shows nothing yet: this push's version becomes the shown one
    new = order_records([e for e in entries if e.id not in present], order, seed, key=lambda e: e.score)
    held_back = 0
    if not sets_version and shown not in live:
        held_back = sum(1 for e in new if e.model_version != shown)
        new = [e for e in new if e.model_version == shown]  # a task without the shown version would open blank
    left_for_later = 0
    if limit is not None and len(new) > limit:
        left_for_later = len(new) - limit
        new = new[:limit]
    needing_prediction = []
    for entry in entries:
        if entry.id in present:
            task = survivor(present[entry.id])
            if entry.model_version not in have.get(task.id, set()):
                needing_prediction.append(PendingPrediction(task.id, entry.model_version, _builder(index, entry, config, marks)))

    new_tasks = predictions_added = 0
    with Progress(len(new) + len(needing_prediction), "push", unit="tasks", enabled=progress) as bar:
        for batch_no, batch in enumerate(_batches(new, batch_size)):
            new_tasks += _import_tasks_once(client, pid, batch, index, config, marks)
            bar.advance(len(batch))
            if on_batch is not None:
                on_batch(batch_no)
        for pending in _batches(needing_prediction, batch_size):
            predictions_added += add_predictions_once(client, pid, pending)
            bar.advance(len(pending))

    already_present = sum(1 for e in entries if e.id in present)
    # Label Studio refuses a project model_version that no prediction carries: set it only when one does
    if sets_version and model_version and (new or needing_prediction or already_present) and model_version != project["model_version"]:
        client.update_project(pid, model_version=model_version)

    # nothing written and no copies seen: the listing from the start is still the project's state
    unchanged = not (new or needing_prediction) and all(len(copies) == 1 for copies in present.values())
    duplicates_removed, final = remove_duplicate_tasks(client, pid, notes, tasks if unchanged else None)
    duplicate_predictions = remove_duplicate_predictions(client, pid) if needing_prediction else 0
    final_ids = {t.para_id for t in final}
    missing = [e.id for e in new if e.id not in final_ids]
    if missing:
        raise LabelStudioError(
            f"after the push, {len(missing)} paragraph(s) are still not in project {project_title!r} (e.g. {missing[0]!r});"
            " run the same push again"
        )
    shown_after = model_version if sets_version and model_version else shown
    report = report_for(shown, shown_after, final, versions_by_task(client, pid, final, versions), live)
    report.held_back = held_back
    version_lines = report.lines()
    if needing_prediction and not sets_version and model_version != shown:
        version_lines.append(f"predictions of {model_version} added to {predictions_added} existing task(s);"
                             f" `stance labelstudio use-version {model_version} -p {project_title!r}` shows them")
    if held_back:
        version_lines.append(
            f"{held_back} new paragraph(s) of {model_version} held back: the project shows {shown}, and their tasks would open"
            f" blank. `stance labelstudio use-version {model_version} -p {project_title!r} --model MODEL` (it predicts the"
            " unreviewed tasks that lack that version), then push again; or push them into another --project"
        )
    return PushResult(
        url=client.url, project_id=pid, project_title=project_title, created_project=created, model_version=model_version,
        paragraphs_in_run=len(entries) + len(index.problems), invalid=index.problems,
        already_present=already_present, new_tasks=new_tasks, predictions_added=predictions_added,
        left_for_later=left_for_later, duplicates_removed=duplicates_removed, tasks_in_project=len(final),
        seconds=round(time.monotonic() - started, 3), retries=client.retries_done, notes=notes,
        shown_before=shown, shown_version=shown_after, held_back=held_back,
        duplicate_predictions_removed=duplicate_predictions, version_lines=version_lines,
    )


def _builder(index: RunIndex, entry: RunEntry, config: StanceConfig, marks: bool) -> Callable[[], dict[str, Any]]:
    return lambda: index.prediction_json(entry, config, marks)


def _ensure_project(client: LabelStudioClient, title: str, xml: str, model_version: str, instructions: str) -> tuple[dict[str, Any], bool]:
    """The project called `title`: its labels checked against the config, or created now.

    Looked up before every attempt: after an uncertain create the project may exist now. Projects
    of the title that a concurrent push just created are settled on the oldest (`settle_project`).
    """

    def find_or_create(recheck: bool) -> tuple[dict[str, Any], bool]:
        found = sorted(client.find_projects(title), key=lambda p: p["id"])
        if len(found) > 1 and any(p.get("task_number") for p in found[1:]):
            ids = ", ".join(str(p["id"]) for p in found)
            raise LabelStudioError(f"{len(found)} projects at {client.url} are called {title!r} (ids {ids}); rename all but one")
        if found:
            project = found[0]  # empty younger namesakes: another push's, which it deletes itself
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
            expert_instruction=instructions, show_instruction=True,
        )
        if settle_project(client, title, project)["id"] == project["id"]:
            return project, True
        return find_or_create(True)  # an older namesake won the race: ours is deleted, that one is checked and used

    return client.retry_uncertain_write(find_or_create)


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _import_tasks_once(
    client: LabelStudioClient, pid: int, batch: Sequence[RunEntry], index: RunIndex, config: StanceConfig, marks: bool
) -> int:
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
            imported += len(client.import_tasks(pid, [index.task(e, config, marks) for e in pending]))
            pending = []
        return imported

    return client.retry_uncertain_write(send)


def format_push_summary(result: PushResult) -> str:
    """A few lines for the terminal after a push."""
    lines = [
        f"project {result.project_title!r} (id {result.project_id}) at {result.url}"
        + (" created" if result.created_project else ""),
        f"  {result.new_tasks} new tasks, predictions of {result.model_version} added to {result.predictions_added} existing tasks,"
        f" {result.already_present} paragraphs were already there",
        f"  the project now holds {result.tasks_in_project} tasks; {result.left_for_later} paragraphs left for a later push (--limit)",
    ]
    lines += [f"  {line}" for line in result.version_lines]
    if result.duplicates_removed or result.duplicate_predictions_removed:
        lines.append(f"  removed {result.duplicates_removed} duplicate task(s) and {result.duplicate_predictions_removed} duplicate"
                     " prediction(s) (an interrupted import, or another push at the same time)")
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
