"""Summaries printed at the end of commands: rich tables on a terminal, plain text elsewhere."""

from __future__ import annotations

import sys

from stance.annotate import AnnotateResult
from stance.config import StanceConfig


def print_annotate_summary(result: AnnotateResult, config: StanceConfig) -> None:
    """Per target: paragraphs per label; then frames, problems and where the files are."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=120 if not sys.stdout.isatty() else None)
    labels = list(config.all_label_names)
    table = Table(title=f"{result.paragraphs} paragraphs, model {result.model_version}")
    table.add_column("target")
    for label in labels:
        table.add_column(label, justify="right")
    for target, counts in result.label_counts.items():
        table.add_row(target, *[str(counts.get(label, 0)) for label in labels])
    console.print(table)
    if result.frame_counts:
        top = [kv for kv in sorted(result.frame_counts.items(), key=lambda kv: -kv[1]) if kv[1]][:5]
        console.print("frames (paragraphs): " + ", ".join(f"{name} {count}" for name, count in top))
    done = result.scored_now + result.copied_duplicates
    rate = done / result.scoring_seconds if result.scoring_seconds else 0.0
    console.print(
        f"{result.scored_now} scored, {result.copied_duplicates} copied from identical paragraphs,"
        f" {result.resumed_from} kept from an earlier session; {result.seconds:.1f} s in all,"
        f" {rate:.1f} paragraphs/s while scoring"
    )
    for problem in result.problems:
        console.print(f"[yellow]{problem.level}[/yellow]: {problem}", markup=True, highlight=False)
    console.print(f"wrote {result.out_dir}/predictions.jsonl, predictions.csv, documents.jsonl, run.json")
