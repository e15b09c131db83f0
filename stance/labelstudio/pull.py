"""Pull people's labels back from Label Studio, and summarise the review.

Pull exports every annotated task and writes one `LabelledRecord` per (paragraph, target,
annotation) in the interchange format that `stance train` and `stance evaluate` read (through
`stance.labelled.write_labelled`, atomically: an earlier export is replaced only by a complete
one). The summary says, per target, how often people changed the model's label and how well
annotators agree (`stance.metrics.annotator_agreement`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import LabelStudioError
from stance.fileio import atomic_write_json, atomic_writer
from stance.labelled import latest_per_annotator, write_labelled
from stance.labelstudio.client import LabelStudioClient
from stance.labelstudio.tasks import ExportCounts, iter_annotation_records
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
    counts = ExportCounts()
    labels: list[LabelledRecord] = []  # what the summary needs, without the texts: memory stays small

    def remembered(records: Iterable[LabelledRecord]) -> Iterator[LabelledRecord]:
        for record in records:
            labels.append(replace(record, text=""))
            yield record

    with atomic_writer(out) as handle:
        exported = client.export_tasks(project["id"], with_annotations_only=True)
        write_labelled(handle, remembered(iter_annotation_records(exported, config, project["model_version"], counts)))
    result = PullResult(
        url=client.url, project_id=project["id"], project_title=project_title, out=str(out),
        tasks_exported=counts.tasks, annotations=counts.annotations, records=len(labels),
        skipped_tasks=counts.skipped_tasks, cancelled_annotations=counts.cancelled,
        unlabelled_targets=counts.unlabelled, invalid=counts.invalid, annotators=sorted(counts.annotators),
        per_target=review_summary(labels, config), frames_changed=counts.frames_changed,
        seconds=round(time.monotonic() - started, 3), retries=client.retries_done,
    )
    atomic_write_json(summary_path, {"pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(result)})
    return result


def summary_path_for(out: Path) -> Path:
    """`reviewed.jsonl` -> `reviewed.summary.json`."""
    return out.with_name(out.stem + ".summary.json")


def review_summary(records: Sequence[LabelledRecord], config: StanceConfig) -> dict[str, dict[str, Any]]:
    """Per target: labels, correction rate (label != model label) and agreement between annotators."""
    summary: dict[str, dict[str, Any]] = {}
    for target in config.targets:
        rows = [r for r in records if r.target == target.name]
        compared = [r for r in rows if r.model_label is not None]
        changed = sum(1 for r in compared if r.label != r.model_label)
        latest = latest_per_annotator(rows)  # one label per person and paragraph: their latest
        kappa, alpha, overlap = annotator_agreement({(r.id, str(r.annotator)): r.label for r in latest}, config.all_label_names)
        summary[target.name] = {
            "records": len(rows),
            "labels": dict(Counter(r.label for r in rows)),
            "correction_rate": round(changed / len(compared), 4) if compared else None,
            "corrected": changed,
            "compared": len(compared),
            "paragraphs_with_several_annotators": overlap,
            "cohen_kappa": kappa,
            "krippendorff_alpha": alpha,
        }
    return summary


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
