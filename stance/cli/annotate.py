"""`stance annotate` and `stance validate-config`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import ConfigOption, Terminated, command, load, sigterm_as_interrupt


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
    try:
        with sigterm_as_interrupt():
            result = annotate_corpus(
                inputs, out, cfg, model=model, overwrite=overwrite, options=options, progress=progress,
                chunk_scorer_factory=factory, engine=engine, chunk_size=chunk_size,
            )
    except KeyboardInterrupt as exc:
        typer.echo("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
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
