"""Which model version a project pre-selects, and how it changes: only when someone asks.

The rule: a Label Studio project shows (pre-selects in the labeling stream and orders by) the
predictions of one version, its `model_version`; a task without a prediction of that version
opens blank. So:

- The first push into a project (or one that shows nothing yet) sets the shown version to the
  run's. After that, no push changes it.
- A push of another version adds that version's predictions to the existing tasks of its
  paragraphs (ready for a switch), and holds back its *new* paragraphs: as tasks they would open
  blank. The push says so and how to go on.
- `use_version` switches the shown version, and only when every unreviewed task carries a
  prediction of the new version; with a model it first predicts the tasks that lack one (the
  same `Annotator` as `stance annotate`), which is what `retrain` calls after a promotion. A
  version may also be the title of a connected ML backend ("live": Label Studio asks the backend
  for each task that lacks its current version when the task is opened).

Every push and switch reports the shown version and what changed (`VersionReport`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import LabelStudioError
from stance.labelstudio.client import LabelStudioClient, TaskRef
from stance.labelstudio.converge import PendingPrediction, add_predictions_once, remove_duplicate_predictions, versions_by_task
from stance.labelstudio.tasks import prediction_for

PREDICT_BATCH = 64


@dataclass
class VersionReport:
    """The version a project shows before and after a push or a switch, and why."""

    shown_before: str
    shown_after: str
    live: bool  # the shown version is a connected ML backend's title
    unreviewed: int  # tasks nobody has annotated or skipped yet
    unreviewed_without_shown: int  # ... of which have no prediction of the shown version (open blank, unless live)
    held_back: int = 0  # new paragraphs of another version that a push did not send
    predicted: int = 0  # tasks a switch predicted with its model
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        live = " (a live ML backend)" if self.live else ""
        if self.shown_before == self.shown_after:
            head = f"the project shows {self.shown_after or '(no version)'}{live}: unchanged"
        else:
            head = f"the project shows {self.shown_after}{live} (before: {self.shown_before or 'no version'})"
        lines = [head]
        if self.unreviewed_without_shown and not self.live:
            lines.append(
                f"{self.unreviewed_without_shown} of {self.unreviewed} unreviewed task(s) have no prediction of it and open blank:"
                f" `stance labelstudio use-version {self.shown_after} --model MODEL` predicts them"
            )
        return lines + self.notes


def live_titles(client: LabelStudioClient, pid: int) -> set[str]:
    """Titles of the project's connected ML backends (each is a version the project can show)."""
    try:
        return {b["title"] for b in client.ml_backends(pid) if b["title"]}
    except LabelStudioError:
        return set()  # a server without the ML API: nothing live


def is_unreviewed(task: TaskRef) -> bool:
    return task.total_annotations + task.cancelled_annotations == 0


def lacking(tasks: list[TaskRef], have: dict[int, set[str]], version: str) -> list[TaskRef]:
    """The unreviewed tasks without a prediction of `version`."""
    return [t for t in tasks if is_unreviewed(t) and version not in have.get(t.id, set())]


def report_for(shown_before: str, shown_after: str, tasks: list[TaskRef], have: dict[int, set[str]], live: set[str]) -> VersionReport:
    unreviewed = [t for t in tasks if is_unreviewed(t)]
    missing = len(lacking(tasks, have, shown_after)) if shown_after else len(unreviewed)
    return VersionReport(shown_before, shown_after, shown_after in live, len(unreviewed), missing)


def version_counts(tasks: list[TaskRef], have: dict[int, set[str]]) -> Counter[str]:
    """Model version -> how many tasks carry a prediction of it."""
    return Counter(v for t in tasks for v in have.get(t.id, set()))


@dataclass
class VersionSwitch:
    """What `use_version` did."""

    project_id: int
    project_title: str
    report: VersionReport
    versions: dict[str, int]  # tasks per version after the switch


def use_version(
    config: StanceConfig, client: LabelStudioClient, project_title: str, version: str | None = None, *,
    model: str | Path | None = None, progress: bool = False,
) -> VersionSwitch:
    """Make the project pre-select `version` (or the version of `model`); with `model`, first predict
    every unreviewed task that has no prediction of it. Refused (nothing changed) when unreviewed
    tasks would open blank."""
    annotator = None
    if model is not None:
        annotator = _annotator(config, model)
        if version is not None and version != annotator.model_version:
            raise LabelStudioError(f"{model} makes predictions of version {annotator.model_version!r}, not {version!r};"
                                   " give the version or the model, or both when they agree")
        version = annotator.model_version
    if not version:
        raise LabelStudioError("no version given; expected VERSION or --model MODEL_DIR")
    project = _project(client, project_title)
    pid = project["id"]
    tasks = client.list_tasks(pid)
    have = versions_by_task(client, pid, tasks, [version])
    live = live_titles(client, pid)
    predicted = 0
    missing = [] if version in live else lacking(tasks, have, version)
    if missing and annotator is not None:
        predicted = _predict_into(client, pid, missing, annotator, config, progress)
        remove_duplicate_predictions(client, pid)  # a concurrent switch may have predicted the same tasks
        tasks = client.list_tasks(pid)
        have = versions_by_task(client, pid, tasks, [version])
        missing = lacking(tasks, have, version)
    if missing:
        example = next((t.para_id for t in missing if t.para_id), missing[0].id)
        known = version_counts(tasks, have)
        raise LabelStudioError(
            f"{len(missing)} unreviewed task(s) of project {project_title!r} have no prediction of {version!r} (e.g. {example!r})"
            " and would open blank; nothing changed. Predict them: `stance labelstudio use-version --model MODEL_DIR`, or push a"
            f" run of that model covering them. Versions in the project: {_listing(known)}"
        )
    before = project["model_version"]
    if before != version:
        client.update_project(pid, model_version=version)
    report = report_for(before, version, tasks, have, live)
    report.predicted = predicted
    if predicted:
        report.notes.append(f"predicted {predicted} unreviewed task(s) with {model}")
    return VersionSwitch(pid, project_title, report, dict(version_counts(tasks, have)))


def promote_in_labelstudio(config: StanceConfig, project_title: str, model_dir: str | Path, *,
                           client: LabelStudioClient | None = None) -> VersionSwitch:
    """For `stance retrain` after a promotion: predict the project's unreviewed tasks with the new model
    and make the project show its version (the server and key from the config and environment)."""
    return use_version(config, client or LabelStudioClient.from_settings(config.labelstudio), project_title, model=model_dir)


def project_versions(client: LabelStudioClient, project_title: str) -> tuple[dict[str, Any], dict[str, int], set[str], VersionReport]:
    """The project, tasks per version, live backend titles, and what it shows now."""
    project = _project(client, project_title)
    tasks = client.list_tasks(project["id"])
    have = versions_by_task(client, project["id"], tasks, [])
    live = live_titles(client, project["id"])
    shown = project["model_version"]
    return project, dict(version_counts(tasks, have)), live, report_for(shown, shown, tasks, have, live)


def format_versions(project: dict[str, Any], counts: dict[str, int], live: set[str], report: VersionReport) -> str:
    lines = [f"project {project['title']!r} (id {project['id']}): " + report.lines()[0]]
    lines += [f"  {'*' if v == report.shown_after else ' '} {v}: {n} task(s)" for v, n in sorted(counts.items())]
    lines += [f"  {'*' if t == report.shown_after else ' '} {t}: live ML backend" for t in sorted(live)]
    lines += [f"  {line}" for line in report.lines()[1:]]
    return "\n".join(lines)


def _listing(counts: Counter[str]) -> str:
    return ", ".join(f"{v} ({n} tasks)" for v, n in sorted(counts.items())) or "none"


def _project(client: LabelStudioClient, title: str) -> dict[str, Any]:
    found = sorted(client.find_projects(title), key=lambda p: p["id"])
    if not found:
        raise LabelStudioError(f"no project called {title!r} at {client.url}; push a run to it first")
    return found[0]


def _annotator(config: StanceConfig, model: str | Path) -> Any:
    from stance.annotator import Annotator
    from stance.scoring.factory import build_scorer

    return Annotator(config, build_scorer(config, str(model)))


def _predict_into(client: LabelStudioClient, pid: int, tasks: list[TaskRef], annotator: Any, config: StanceConfig, progress: bool) -> int:
    """Predict `tasks` from their data with `annotator` and add the predictions; how many were added."""
    from stance.labelstudio.live import paragraphs_of_tasks
    from stance.progress import Progress

    wanted = {t.id for t in tasks}
    data = client.task_data(pid, wanted)
    added = 0
    with Progress(len(data), "predict", unit="tasks", enabled=progress) as bar:
        for start in range(0, len(data), PREDICT_BATCH):
            batch = data[start : start + PREDICT_BATCH]
            predictions = annotator.predict(paragraphs_of_tasks(batch))
            pending = [
                PendingPrediction(task_id, p.model_version, lambda p=p: prediction_for(p, config))
                for (task_id, _), p in zip(batch, predictions, strict=True)
            ]
            added += add_predictions_once(client, pid, pending)
            bar.advance(len(batch))
    return added
