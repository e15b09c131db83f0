"""The `stance` command line: parses arguments, loads the config and calls the library.

Each command is a small function; the work is done in the modules it calls.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from stance.errors import StanceError

app = typer.Typer(
    name="stance",
    help="Stance and framing annotation of news: pre-annotate paragraphs toward targets, review them in "
    "Label Studio, retrain, evaluate and report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config (default: configs/default.yaml, the offline default)."),
]


def command(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """`app.command` that turns a StanceError into its message on stderr and exit code 2."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*a: Any, **k: Any) -> Any:
            try:
                return function(*a, **k)
            except StanceError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None

        app.command(*args, **kwargs)(wrapper)
        return function

    return decorate


def load(config: Path | None) -> Any:
    """The validated config (the offline default when no path is given)."""
    from stance.config import load_config

    return load_config(config)


@command("annotate")
def annotate_command(
    inputs: Annotated[list[Path], typer.Argument(help="Article files (.txt, .jsonl, .csv) or folders of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory: predictions.jsonl, predictions.csv and run.json land here.")],
    config: ConfigOption = None,
    model: Annotated[
        str | None,
        typer.Option(help="Model name or path overriding model.name; a directory written by `stance train` selects the fine-tuned scorer."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Start again instead of resuming a run in --out.")] = False,
    on_error: Annotated[str, typer.Option(help="fail: stop at the first bad file or record; skip: skip it, list it in the summary.")] = "fail",
    text_field: Annotated[str, typer.Option("--text-field", "--text-column", help="JSONL/CSV field holding the article text.")] = "text",
    id_field: Annotated[str, typer.Option("--id-field", "--id-column", help="JSONL/CSV field holding the document id.")] = "id",
    title_field: Annotated[str, typer.Option("--title-field", help="JSONL/CSV field holding the title.")] = "title",
    date_field: Annotated[str, typer.Option("--date-field", help="JSONL/CSV field holding the date.")] = "date",
    source_field: Annotated[str, typer.Option("--source-field", help="JSONL/CSV field holding the outlet or source.")] = "source",
    engine: Annotated[str, typer.Option(help="local: this process; ray: Ray Data (RAY_ADDRESS or a local Ray).")] = "local",
    progress: Annotated[bool, typer.Option(help="Show progress (a bar on a terminal, periodic lines otherwise).")] = True,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Paragraphs per unit of work that is scored, written and synced together; a resumed run redoes at most one unit.")
    ] = 256,
) -> None:
    """Pre-annotate every paragraph's stance toward each target, and its frames.

    Resumable: run the same command again after an interruption and it continues where it
    stopped. Writes OUT/predictions.jsonl (one object per paragraph), OUT/predictions.csv (one row
    per paragraph and target) and OUT/run.json (config, model, inputs with sha256, counts, timings).
    """
    from stance.annotate import annotate_corpus
    from stance.ingest import ReadOptions
    from stance.summary import print_annotate_summary

    if on_error not in ("fail", "skip"):
        raise typer.BadParameter("expected fail or skip", param_hint="--on-error")
    if engine not in ("local", "ray"):
        raise typer.BadParameter("expected local or ray", param_hint="--engine")
    cfg = load(config)
    options = ReadOptions(
        id_field=id_field, text_field=text_field, title_field=title_field, date_field=date_field,
        source_field=source_field, on_error=on_error,  # type: ignore[arg-type]
    )
    factory = None
    if engine == "ray":
        from stance.engine_ray import ray_chunk_scorer_factory

        factory = ray_chunk_scorer_factory(cfg, model)
    result = annotate_corpus(
        inputs, out, cfg, model=model, overwrite=overwrite, options=options, progress=progress,
        chunk_scorer_factory=factory, engine=engine, chunk_size=chunk_size,
    )
    print_annotate_summary(result, cfg)


@command("validate-config")
def validate_config_command(config: Annotated[Path, typer.Argument(help="The YAML config to check.")]) -> None:
    """Check a config file and print what it defines."""
    cfg = load(config)
    typer.echo(f"{config}: valid")
    typer.echo(f"  targets: {', '.join(t.name for t in cfg.targets)}")
    typer.echo(f"  labels:  {', '.join(cfg.all_label_names)}")
    typer.echo(f"  frames:  {len(cfg.frame_names)} (threshold {cfg.frames.threshold})")
    typer.echo(f"  model:   {cfg.model.backend} {cfg.model.name}")


@command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `stance annotate --out` (predictions.jsonl, run.json).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file to write (default: RUN_DIR/report.html).")] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="Pulled annotations (JSON Lines, interchange format): adds model vs human agreement.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config for targets, labels and frames (default: the one stored in RUN_DIR/run.json).")
    ] = None,
    examples: Annotated[int, typer.Option(min=1, help="Most confident paragraphs shown per target and label.")] = 3,
    uncertain: Annotated[int, typer.Option(min=1, help="Least certain paragraphs shown per target.")] = 8,
) -> None:
    """Write a self-contained HTML report of a run: stance per target, source and time, frames, examples, agreement."""
    from stance.report import build_report

    path = build_report(run_dir, out, load(config) if config else None, annotations, examples=examples, uncertain=uncertain)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
