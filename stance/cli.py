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


@command("train")
def train_command(
    files: Annotated[list[Path], typer.Argument(help="Labelled JSON Lines files ({id, text, target, label} per line), e.g. pulled annotations.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write (weights, tokenizer, stance_model.json, model card, eval/).")],
    base: Annotated[str, typer.Option(help="Encoder to fine-tune: bundled:all-MiniLM-L6-v2, a hub name, or a local path.")] = "bundled:all-MiniLM-L6-v2",
    dev: Annotated[Path | None, typer.Option(help="Dev file for early stopping and the report (default: 10% of FILES, grouped by document).")] = None,
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the training data (early stopping may end sooner).")] = 3.0,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many optimizer steps (overrides --epochs).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Training examples per step.")] = 32,
    learning_rate: Annotated[float, typer.Option(min=0.0, help="Peak learning rate (linear warm-up over 10% of the steps, then linear decay).")] = 5e-5,
    max_length: Annotated[int | None, typer.Option(min=16, help="Longest input in tokens (default: the config's model.max_length).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (weights init, data order, the dev split).")] = 42,
    patience: Annotated[int, typer.Option(min=1, help="Stop after this many dev evaluations (two per epoch) without a better macro-F1.")] = 3,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out directory.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress (bars on a terminal, periodic lines otherwise).")] = True,
    config: ConfigOption = None,
) -> None:
    """Fine-tune a target-conditioned stance classifier; `stance annotate --model OUT` then uses it."""
    from stance.train import TrainSettings, train_model

    settings = TrainSettings(
        base=base, epochs=epochs, max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
        max_length=max_length, seed=seed, patience=patience,
    )
    result = train_model(files, out, load(config), settings, dev_file=dev, overwrite=overwrite, progress=progress)
    typer.echo(f"trained {result.model_version}: {result.steps} steps in {result.seconds / 60:.1f} min (best dev step {result.best_step})")
    if result.dev_metrics:
        m = result.dev_metrics
        typer.echo(f"dev ({m['n']} records): macro-F1 {m['macro_f1']:.3f}, accuracy {m['accuracy']:.3f}, F_avg {m['f_avg']:.3f}")
    typer.echo(f"wrote {out}/ (model card: {out}/README.md, report: {out}/eval/report.md)")


@command("evaluate")
def evaluate_command(
    model_or_run: Annotated[
        str,
        typer.Argument(
            help="A run directory (stance annotate --out), a model directory (stance train), an adapter directory,"
            " 'config' (the config's scorer), a backend (embedding, adapter, nli), or a model name or path."
        ),
    ],
    gold: Annotated[list[Path], typer.Option(help="Gold labels, JSON Lines ({id, text, target, label} per line); repeatable.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Report directory: metrics.json, report.md, confusion PNGs, predictions.jsonl.")] = None,
    against: Annotated[str | None, typer.Option(help="A second model or run (same forms as MODEL_OR_RUN), reported side by side.")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress while scoring.")] = True,
    config: ConfigOption = None,
) -> None:
    """Accuracy, macro-F1, per-label P/R/F1 and F_avg, overall and per target, against gold labels."""
    from stance.evaluate import evaluate_files
    from stance.evaluate_report import print_evaluation

    result = evaluate_files(model_or_run, gold, load(config), out_dir=out, against=against, progress=progress)
    print_evaluation(result)


labelstudio_app = typer.Typer(help="Label Studio: the labeling config, and a local server for a first review.", no_args_is_help=True)
app.add_typer(labelstudio_app, name="labelstudio")
ProjectOption = Annotated[
    str | None, typer.Option("--project", "-p", help="Label Studio project title (default: labelstudio.project in the config).")
]


def labelstudio_command(name: str) -> Callable[[F], F]:
    """`command` for the `stance labelstudio ...` sub-commands."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*a: Any, **k: Any) -> Any:
            try:
                return function(*a, **k)
            except StanceError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None

        labelstudio_app.command(name)(wrapper)
        return function

    return decorate


@labelstudio_command("config")
def labelstudio_config_command(config: ConfigOption = None) -> None:
    """Print the Label Studio labeling config (XML) generated from the config's targets, labels and frames."""
    from stance.labelstudio.xml import labeling_config

    typer.echo(labeling_config(load(config)), nl=False)


@labelstudio_command("serve")
def labelstudio_serve_command(
    data_dir: Annotated[Path, typer.Option(help="Label Studio data directory (created on first use; keep it to keep the work).")] = Path("labelstudio-data"),
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = None,
) -> None:
    """Start a local Label Studio on 127.0.0.1 for a review session; Ctrl-C stops it.

    The login and the API key are written to DATA_DIR/stance-credentials.json (readable by you only).
    """
    import signal
    import threading

    from stance.labelstudio.server import start_server

    typer.echo(f"starting Label Studio with data in {data_dir} (the first start takes a minute or two) ...", err=True)
    server = start_server(data_dir, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        typer.echo(f"Label Studio is up at {server.url} (log: {server.log_path})")
        typer.echo(f"browser login (email, password): {server.data_dir / 'stance-credentials.json'}")
        typer.echo("in another shell:")
        typer.echo(f"  export LABEL_STUDIO_URL={server.url}")
        typer.echo(f"  export LABEL_STUDIO_API_KEY=$(cat {server.data_dir / 'api-key'})")
        typer.echo("Ctrl-C stops the server.")
        while not stop.wait(1.0) and server.is_running():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        typer.echo("Label Studio stopped.", err=True)


@command("push")
def push_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `stance annotate --out` (predictions.jsonl).")],
    project: ProjectOption = None,
    limit: Annotated[int | None, typer.Option(min=0, help="Send at most N new paragraphs (the first N in --order); the rest wait for a later push.")] = None,
    order: Annotated[str, typer.Option(help="uncertainty: least certain first; random: a fixed shuffle (--seed); document: file order.")] = "uncertainty",
    seed: Annotated[int, typer.Option(help="Shuffle seed for --order random.")] = 0,
    config: ConfigOption = None,
    progress: Annotated[bool, typer.Option(help="Show progress (a bar on a terminal, periodic lines otherwise).")] = True,
) -> None:
    """Send a run's predictions to Label Studio as pre-selected choices; safe to repeat.

    The server is $LABEL_STUDIO_URL (or labelstudio.url); the API key comes from
    $LABEL_STUDIO_API_KEY or the file named by labelstudio.api_key_file, never from the command line.
    Paragraphs already in the project are not sent again; a newer model's predictions are added to them.
    """
    from stance.labelstudio.client import LabelStudioClient
    from stance.labelstudio.sync import ORDERS, format_push_summary, push_run

    if order not in ORDERS:
        raise typer.BadParameter(f"expected one of {', '.join(ORDERS)}", param_hint="--order")
    cfg = load(config)
    client = LabelStudioClient.from_settings(cfg.labelstudio)
    try:
        result = push_run(run_dir, cfg, client, project or cfg.labelstudio.project, limit=limit, order=order, seed=seed, progress=progress)
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again; it sends only what the project still lacks", err=True)
        raise typer.Exit(130) from None
    typer.echo(format_push_summary(result))


@command("pull")
def pull_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines file for the reviewed labels (one record per paragraph, target and annotator).")],
    project: ProjectOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out file (otherwise the pull stops and keeps it).")] = False,
    config: ConfigOption = None,
) -> None:
    """Fetch people's labels from Label Studio into the format that `stance train` and `stance evaluate` read.

    Prints, per target, how often people changed the model's label and how well annotators agree.
    """
    from stance.labelstudio.client import LabelStudioClient
    from stance.labelstudio.sync import format_pull_summary, pull_project

    cfg = load(config)
    client = LabelStudioClient.from_settings(cfg.labelstudio)
    result = pull_project(cfg, client, project or cfg.labelstudio.project, out, overwrite=overwrite)
    typer.echo(format_pull_summary(result))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
