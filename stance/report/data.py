"""What the report reads: a run's predictions, run.json and documents.jsonl, the config it was made
with, and pulled annotations. Every file goes through its one owner (`stance.runs`, `stance.labelled`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stance.config import StanceConfig
from stance.records import DocumentSummary, LabelledRecord, Prediction
from stance.runs import RunDir, RunInfo, read_documents, read_predictions, read_run_info

DOCUMENTS_FROM_RUN = "documents.jsonl (written by the run)"
DOCUMENTS_COMPUTED = ("computed from predictions.jsonl by the same rule (the run has no documents.jsonl; "
                      "article frames by the share rule, as without a frame head)")


@dataclass(frozen=True)
class Run:
    """A run as the report sees it: where it is, its predictions, and its run.json (None when absent)."""

    root: Path
    predictions: list[Prediction]
    info: RunInfo | None


def read_run(run_dir: str | Path) -> Run:
    """The predictions (validated, InputError naming file:line) and run.json of a run directory."""
    run = RunDir.at(run_dir)
    predictions = read_predictions(run.root)
    return Run(run.root, predictions, read_run_info(run))


def documents_of(run_dir: str | Path, records: list[Prediction], config: StanceConfig) -> tuple[list[DocumentSummary], str]:
    """The run's article summaries (documents.jsonl), or, for a run written without one, the same
    rule applied here to its predictions; and which of the two it is."""
    from stance.documents import iter_documents, share_rule

    run = RunDir.at(run_dir)
    if run.documents.is_file():
        return read_documents(run), DOCUMENTS_FROM_RUN
    return list(iter_documents(iter(records), config, share_rule(config))), DOCUMENTS_COMPUTED


def config_for_run(info: RunInfo | None) -> tuple[StanceConfig, str]:
    """The config a run was made with (stored in run.json), else the offline default; and where it came from."""
    from pydantic import ValidationError

    from stance.config import load_config

    fallback = "configs/default.yaml (run.json holds no usable config)"
    if info is None or not info.config:
        return load_config(None), fallback
    try:
        return StanceConfig.model_validate(info.config), "run.json (the config the run was made with)"
    except ValidationError:
        # a run.json from an older config schema: the default config, and the page says so
        return load_config(None), fallback


def load_annotations(path: str | Path) -> list[LabelledRecord]:
    """Pulled annotations (interchange format, one record per paragraph and target).

    When the same annotator labelled the same paragraph and target twice, the latest
    `updated_at` wins; different annotators are kept as separate comparisons. Labels are not
    checked against a config: a label the config lacks shows up in the comparison.
    """
    from stance.labelled import latest_per_annotator

    return latest_per_annotator(read_reviews(path))


def read_reviews(path: str | Path) -> list[LabelledRecord]:
    """Every record of a pulled-annotations file, as written (all rounds, repeated labels included)."""
    from stance.labelled import read_labelled

    records, _ = read_labelled([path], None, what="pulled annotations")
    return records
