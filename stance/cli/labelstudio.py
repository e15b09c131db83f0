"""`stance push`, `stance pull` and `stance labelstudio ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import ConfigOption, ProjectOption, command, labelstudio_app, load


@command("config", on=labelstudio_app)
def labelstudio_config_command(config: ConfigOption = None) -> None:
    """Print the Label Studio labeling config (XML) generated from the config's targets, labels and frames."""
    from stance.labelstudio.xml import checked_labeling_config

    typer.echo(checked_labeling_config(load(config)), nl=False)


@command("serve", on=labelstudio_app)
def labelstudio_serve_command(
    data_dir: Annotated[Path, typer.Option(help="Label Studio data directory (created on first use; keep it to keep the work).")] = Path("labelstudio-data"),
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = None,
) -> None:
    """Start a local Label Studio on 127.0.0.1 for a review session; Ctrl-C stops it.

    The login and the API key are written to DATA_DIR/stance-credentials.json (readable by you only).
    """
    import signal
    import threading

    from stance.labelstudio.server import API_KEY_FILE, CREDENTIALS_FILE, start_server

    typer.echo(f"starting Label Studio with data in {data_dir} (the first start takes a minute or two) ...", err=True)
    server = start_server(data_dir, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        typer.echo(f"Label Studio is up at {server.url} (log: {server.log_path})")
        typer.echo(f"browser login (email, password): {server.data_dir / CREDENTIALS_FILE}")
        typer.echo("in another shell:")
        typer.echo(f"  export LABEL_STUDIO_URL={server.url}")
        typer.echo(f"  export LABEL_STUDIO_API_KEY=$(cat {server.data_dir / API_KEY_FILE})")
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
    from stance.labelstudio.push import ORDERS, format_push_summary, push_run

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
    from stance.labelstudio.pull import format_pull_summary, pull_project

    cfg = load(config)
    client = LabelStudioClient.from_settings(cfg.labelstudio)
    result = pull_project(cfg, client, project or cfg.labelstudio.project, out, overwrite=overwrite)
    typer.echo(format_pull_summary(result))
