"""`stance push`, `stance pull` and `stance labelstudio ...`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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
    if result.invalid:  # the rest was pushed, but a script must notice
        typer.echo(f"error: {len(result.invalid)} of {result.paragraphs_in_run} prediction(s) were rejected (listed above);"
                   " expected predictions made with this config (targets, labels, frames)", err=True)
        raise typer.Exit(2)


@command("pull")
def pull_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines file for the reviewed labels (one record per paragraph, target and annotator).")],
    project: ProjectOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out file (otherwise the pull stops and keeps it).")] = False,
    config: ConfigOption = None,
) -> None:
    """Fetch people's labels from Label Studio into the format that `stance train` and `stance evaluate` read.

    Prints, per target, how often people changed the model's label (annotations that started from a
    prediction), how well annotators agree, and every (paragraph, target) on which they disagree.
    A project with no labels yet is an error (exit 2) and nothing is written.
    """
    from stance.labelstudio.client import LabelStudioClient
    from stance.labelstudio.pull import format_pull_summary, pull_project

    cfg = load(config)
    client = LabelStudioClient.from_settings(cfg.labelstudio)
    result = pull_project(cfg, client, project or cfg.labelstudio.project, out, overwrite=overwrite)
    typer.echo(format_pull_summary(result))


@command("use-version", on=labelstudio_app)
def use_version_command(
    version: Annotated[str | None, typer.Argument(help="The model version (or a connected ML backend's title) the project should pre-select; none: list them.")] = None,
    model: Annotated[str | None, typer.Option(help="A model (as `stance annotate --model`): first predict the unreviewed tasks that lack its version.")] = None,
    project: ProjectOption = None,
    progress: Annotated[bool, typer.Option(help="Show progress while predicting.")] = True,
    config: ConfigOption = None,
) -> None:
    """Choose which model version the project pre-selects (or list the versions it holds).

    Refused, with nothing changed, when an unreviewed task has no prediction of that version (it
    would open blank): --model predicts those tasks first.
    """
    from stance.labelstudio.client import LabelStudioClient
    from stance.labelstudio.versions import format_versions, project_versions, use_version

    cfg = load(config)
    client = LabelStudioClient.from_settings(cfg.labelstudio)
    title = project or cfg.labelstudio.project
    if version is None and model is None:
        typer.echo(format_versions(*project_versions(client, title)))
        return
    switch = use_version(cfg, client, title, version, model=model, progress=progress)
    typer.echo(f"project {title!r} (id {switch.project_id}):")
    typer.echo("\n".join(f"  {line}" for line in switch.report.lines()))


@command("review", on=labelstudio_app)
def review_command(
    project: ProjectOption = None,
    decisions: Annotated[Path | None, typer.Option(help="JSON Lines of decisions {id, target, label} instead of asking (scripted adjudication).")] = None,
    unsure: Annotated[bool, typer.Option(help="Also put (paragraph, target) pairs that an annotator flagged unsure to the reviewer.")] = True,
    again: Annotated[bool, typer.Option(help="Ask again about pairs that already have a decision.")] = False,
    config: ConfigOption = None,
) -> None:
    """Adjudicate: one decision per (paragraph, target) on which annotators disagree, saved in Label
    Studio as a ground-truth annotation of the key's user and pulled like the others.

    Asks on the terminal (the text, who said what; a number picks a label, Enter skips, q stops),
    or takes the decisions from --decisions.
    """
    from stance.labelstudio.client import LabelStudioClient
    from stance.labelstudio.review import review_project

    cfg = load(config)
    client = LabelStudioClient.from_settings(cfg.labelstudio)
    decide = _decisions_from(decisions, cfg) if decisions else _ask(cfg)
    result = review_project(cfg, client, project or cfg.labelstudio.project, decide, unsure=unsure, again=again)
    typer.echo(f"{result.decided} decision(s) saved in {result.annotations} reviewer annotation(s); {result.skipped} skipped;"
               f" {result.already_decided} decided before")


def _ask(cfg: Any) -> Callable[[Any, int, int], str | None]:
    """The Decide callable of review_project that asks on the terminal."""
    import textwrap

    labels = list(cfg.all_label_names)

    def decide(item: Any, position: int, total: int) -> str | None:
        typer.echo(f"\n[{position}/{total}] {item.target} in {item.id} ({item.reason})")
        typer.echo(textwrap.fill(item.text, 100) if item.text else "(text not exported)")
        for who, label in sorted(item.labels.items()):
            typer.echo(f"  {who}: {label}" + (f"  ({item.comments[who]})" if who in item.comments else ""))
        typer.echo("  " + "  ".join(f"{i}={label}" for i, label in enumerate(labels, 1)) + "  Enter=skip  q=stop")
        answer = typer.prompt("decision", default="", show_default=False).strip().lower()
        if answer == "q":
            raise StopIteration
        if answer.isdigit() and 1 <= int(answer) <= len(labels):
            return labels[int(answer) - 1]
        return answer if answer in labels else None

    return decide


def _decisions_from(path: Path, cfg: Any) -> Callable[[Any, int, int], str | None]:
    """The Decide callable of review_project that reads decisions from a file."""
    from stance.fileio import iter_jsonl

    chosen = {(str(r.get("id")), str(r.get("target"))): str(r.get("label")) for _, r in iter_jsonl(path, "decisions")}
    return lambda item, position, total: chosen.get((item.id, item.target))


@command("backend", on=labelstudio_app)
def backend_command(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: only this machine; 0.0.0.0 for a server elsewhere).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9090,
    model: Annotated[str | None, typer.Option(help="Model (as `stance annotate --model`; default: MODELS_DIR/current with --train, else the config's model).")] = None,
    config: ConfigOption = None,
    train: Annotated[bool, typer.Option(help="Retrain in the background on submitted annotations (webhooks) and serve a promoted model.")] = False,
    models_dir: Annotated[Path, typer.Option(help="With --train: where models, `current` and promotions.jsonl live.")] = Path("models"),
    heldout: Annotated[Path | None, typer.Option(help="With --train: a fixed held-out gold file (default: cross-validation).")] = None,
    train_file: Annotated[list[Path] | None, typer.Option(help="With --train: extra training files (repeatable), e.g. NewsMTSC train.")] = None,
    min_annotations: Annotated[int, typer.Option(min=1, help="With --train: annotations submitted between two retrains.")] = 20,
) -> None:
    """Serve the model as a Label Studio ML backend (Settings > Model > Connect Model: http://HOST:PORT).

    Tasks imported any way get predictions from the same path as `stance annotate`, stamped with
    the model version; with --train, submitted annotations retrain it (one run at a time), and a
    model that beats the current one is promoted and served.
    """
    from stance.labelstudio.backend import BackendState, retrain_job, serve
    from stance.labelstudio.live import LiveModel, Retrainer

    cfg = load(config)
    chosen = model if model is not None else (str(models_dir / "current") if train else None)
    live = LiveModel(cfg, chosen, optional=model is None)
    typer.echo(f"loading the model ({chosen or cfg.model.name}) ...", err=True)
    version = live.model_version
    retrainer = None
    if train:
        models_dir.mkdir(parents=True, exist_ok=True)
        job = retrain_job(cfg, models_dir=models_dir, work_dir=models_dir, heldout=heldout, extra_files=tuple(train_file or ()))
        retrainer = Retrainer(job, min_annotations=min_annotations)
    typer.echo(f"stance ML backend for Label Studio at http://{host}:{port} serving {version}"
               + (f"; retraining every {min_annotations} annotation(s) into {models_dir}" if train else ""))
    typer.echo("connect it in the project's Settings > Model > Connect Model (URL above); Ctrl-C stops it.")
    serve(BackendState(cfg, live, retrainer), host, port)
