"""Pull people's labels back from Label Studio, and summarise the review.

Pull exports every annotated task and writes one `LabelledRecord` per (paragraph, target,
annotation) in the interchange format that `stance train` and `stance evaluate` read (through
`stance.labelled.write_labelled`, atomically: an earlier export is replaced only by a complete
one). The summary says, per target, how often people changed the model's label (counting only
annotations that started from a prediction: one made on a blank form corrects nothing), how
well annotators agree (`stance.metrics.annotator_agreement`), and every (paragraph, target) on
which they disagree, with who said what (`stance.labelstudio.review`).

A project without a single label gives an error and writes nothing. Pulls at the same time into
the same file take turns (a lock on its directory), so the records file and its summary always
come from the same export.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import LabelStudioError
from stance.fileio import atomic_write_json, atomic_writer
from stance.idmap import relabel_legacy_ids
from stance.labelled import latest_per_annotator, write_labelled
from stance.labelstudio.client import LabelStudioClient
from stance.labelstudio.review import Disagreement, find_disagreements, format_disagreements
from stance.labelstudio.tasks import ADJUDICATED_FIELD, ExportCounts, iter_annotation_records
from stance.metrics import annotator_agreement
from stance.records import LabelledRecord


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
    from_prediction: int = 0  # annotations that started from a prediction (the only ones a correction rate counts)
    unsure: int = 0  # annotations flagged unsure
    comments: int = 0
    disagreements: list[dict[str, Any]] = field(default_factory=list)


def pull_project(
    config: StanceConfig,
    client: LabelStudioClient,
    project_title: str,
    out: str | Path,
    *,
    overwrite: bool = False,
) -> PullResult:
    """Export the project's annotations to `out` (JSON Lines, written atomically) and summarise them.

    An existing `out` is kept unless `overwrite` (a pull never replaces an earlier export by
    surprise); a project with no label at all raises LabelStudioError and writes nothing.
    """
    started = time.monotonic()
    out = Path(out)
    summary_path = summary_path_for(out)
    with _turn(out.parent):
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
        counts = ExportCounts()
        labels: list[LabelledRecord] = []  # what the summary needs, without the texts: memory stays small

        def remembered(records: Iterable[LabelledRecord]) -> Iterator[LabelledRecord]:
            for record in records:
                labels.append(replace(record, text=""))
                yield record

        with atomic_writer(out) as handle:
            exported = client.export_tasks(project["id"], with_annotations_only=True)
            records = relabel_legacy_ids(  # tasks of legacy ids: their paragraphs' content ids (stance.idmap)
                iter_annotation_records(exported, config, counts), lambda: [t.para_id for t in client.list_tasks(project["id"]) if t.para_id])
            write_labelled(handle, remembered(records))
            if not labels:  # raised inside the writer: the temporary file is removed, nothing replaced
                raise LabelStudioError(_nothing_to_pull(project_title, project, counts))
        disagreements = find_disagreements(labels)
        result = PullResult(
            url=client.url, project_id=project["id"], project_title=project_title, out=str(out),
            tasks_exported=counts.tasks, annotations=counts.annotations, records=len(labels),
            skipped_tasks=counts.skipped_tasks, cancelled_annotations=counts.cancelled,
            unlabelled_targets=counts.unlabelled, invalid=counts.invalid, annotators=sorted(counts.annotators),
            per_target=review_summary(labels, config), frames_changed=counts.frames_changed,
            seconds=round(time.monotonic() - started, 3), retries=client.retries_done,
            from_prediction=counts.from_prediction, unsure=counts.unsure, comments=counts.comments,
            disagreements=[d.to_json() for d in disagreements],
        )
        atomic_write_json(summary_path, {"pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(result)})
    return result


def _nothing_to_pull(title: str, project: dict[str, Any], counts: ExportCounts) -> str:
    tasks = project.get("task_number")
    held = f" ({tasks} task(s), none annotated)" if tasks is not None and not counts.tasks else ""
    if counts.tasks:
        held = f" ({counts.tasks} annotated task(s): {counts.cancelled} skipped, {counts.unlabelled} target(s) left blank)"
    return f"project {title!r} has no labels to pull yet{held}; nothing written"


@contextmanager
def _turn(directory: Path) -> Iterator[None]:
    """An exclusive lock on `directory` (created when missing) while a pull writes into it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def summary_path_for(out: Path) -> Path:
    """`reviewed.jsonl` -> `reviewed.summary.json`."""
    return out.with_name(out.stem + ".summary.json")


def review_summary(records: Sequence[LabelledRecord], config: StanceConfig) -> dict[str, dict[str, Any]]:
    """Per target: labels, correction rate (label != the label of the prediction the annotation started
    from; annotations made on a blank form are not compared) and agreement between annotators
    (reviewers' adjudications left out)."""
    summary: dict[str, dict[str, Any]] = {}
    for target in config.targets:
        rows = [r for r in records if r.target == target.name]
        compared = [r for r in rows if r.model_label is not None]
        changed = sum(1 for r in compared if r.label != r.model_label)
        latest = latest_per_annotator(r for r in rows if not r.extra.get(ADJUDICATED_FIELD))  # one label per person and paragraph
        kappa, alpha, overlap = annotator_agreement({(r.id, str(r.annotator)): r.label for r in latest}, config.all_label_names)
        summary[target.name] = {
            "records": len(rows),
            "labels": dict(Counter(r.label for r in rows)),
            "correction_rate": round(changed / len(compared), 4) if compared else None,
            "corrected": changed,
            "compared": len(compared),
            "blank_form": len(rows) - len(compared),
            "paragraphs_with_several_annotators": overlap,
            "cohen_kappa": kappa,
            "krippendorff_alpha": alpha,
        }
    return summary


def format_pull_summary(result: PullResult) -> str:
    """A few lines for the terminal after a pull: counts, per target labels, corrections and agreement, the disagreements."""
    lines = [
        f"wrote {result.records} records to {result.out} ({result.annotations} annotations on {result.tasks_exported} tasks"
        f" by {len(result.annotators)} annotator(s); {result.from_prediction} started from a prediction)",
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
        blank = f" ({info['blank_form']} made on a blank form, not compared)" if info["blank_form"] else ""
        lines.append(f"  {target}: {info['records']} labels, changed from the model's label: {rate}{blank}{agreement_text}")
    if result.frames_changed is not None:
        lines.append(f"  frames changed from the model's in {100 * result.frames_changed:.0f}% of annotations that started from a prediction")
    if result.unsure or result.comments:
        lines.append(f"  {result.unsure} annotation(s) flagged unsure, {result.comments} with a comment (`unsure`, `comment` in the records)")
    if result.disagreements:
        open_ = sum(1 for d in result.disagreements if not d["decided"])
        lines.append(f"  {len(result.disagreements)} (paragraph, target) disagreement(s), {open_} undecided"
                     " (`stance labelstudio review` decides them):")
        lines += [f"    {line}" for line in format_disagreements([Disagreement(**_fields(d)) for d in result.disagreements])]
    if result.invalid:
        lines.append(f"  {len(result.invalid)} label(s) not in the config, left out:")
        lines += [f"    {problem}" for problem in result.invalid[:20]]
    lines.append(f"  {result.seconds:.1f} s; summary in {summary_path_for(Path(result.out))}")
    return "\n".join(lines)


def _fields(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in ("id", "target", "labels", "reason", "comments", "decided", "decided_by")}
