"""`stance report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import command, load


@command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `stance annotate --out` (predictions.jsonl, run.json).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file to write (default: RUN_DIR/report.html); its CSV files go to OUT_files/ beside it.")] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="Pulled annotations (JSON Lines, interchange format): adds agreement per target and outlet, "
                                       "corrections per model version across review rounds, and annotator disagreements.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config for targets, labels and frames (default: the one stored in RUN_DIR/run.json).")
    ] = None,
    examples: Annotated[int, typer.Option(min=1, help="Most confident paragraphs shown per target and label.")] = 3,
    uncertain: Annotated[int, typer.Option(min=1, help="Least certain paragraphs shown per target.")] = 8,
) -> None:
    """Write a self-contained HTML report of a run: articles, outlets with intervals, time, frames, examples, reviews."""
    from stance.report import build_report
    from stance.report.tables import files_dir

    path = build_report(run_dir, out, load(config) if config else None, annotations, examples=examples, uncertain=uncertain)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; the numbers as CSV in {files_dir(path)}/); open it in a browser")
