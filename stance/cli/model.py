"""`stance train`, `stance retrain` and `stance evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import ConfigOption, command, load

TrainFiles = Annotated[
    list[Path],
    typer.Argument(help="Labelled JSON Lines files: stance records {id, text, target, label}, frame records {id, text, frames}"
                   " (pulled annotations carry both); a record whose text is a whole article is a document-level label."),
]
BaseOption = Annotated[
    str,
    typer.Option(help="Where training starts: 'current' (MODELS_DIR/current, else the config's model: a warm start from the"
                      " model that made the pre-labels), a model directory or shipped:NAME (warm), or an encoder such as"
                      " bundled:all-MiniLM-L6-v2, a hub name or a path (cold start)."),
]
ConflictsOption = Annotated[
    str, typer.Option(help="Annotators disagreeing on one (paragraph, target): majority (ties dropped), latest, or drop.")
]


def _settings(base: str, models_dir: Path, adapter: bool, epochs: float | None, max_steps: int | None, batch_size: int | None,
              learning_rate: float | None, max_length: int | None, seed: int, patience: int, conflicts: str, name: str | None,
              lora_rank: int = 8, lora_alpha: float | None = None, one_pass: bool | None = None, frame_vectors: str = "auto") -> object:
    from stance.training.train import TrainSettings

    return TrainSettings(base=base, models_dir=models_dir, adapter=adapter, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                         learning_rate=learning_rate, max_length=max_length, seed=seed, patience=patience,
                         conflicts=conflicts, name=name, lora_rank=lora_rank, one_pass=one_pass, frame_vectors=frame_vectors,
                         lora_alpha=lora_alpha if lora_alpha is not None else 2.0 * lora_rank)  # type: ignore[arg-type]


@command("train")
def train_command(
    files: TrainFiles,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Model directory to write (weights or adapter, frame head, stance_model.json, model card, eval/).")] = None,
    base: BaseOption = "current",
    models_dir: Annotated[Path, typer.Option(help="Where `current` is looked up (the models directory of `stance retrain`).")] = Path("models"),
    adapter: Annotated[bool, typer.Option(help="Train a LoRA adapter (peft) instead of every weight, over the frozen start model (2-6 MB instead of a full copy): how the shipped default is made.")] = False,
    lora_rank: Annotated[int, typer.Option(min=1, help="With --adapter: the LoRA rank.")] = 8,
    lora_alpha: Annotated[float | None, typer.Option(min=0.0, help="With --adapter: LoRA alpha (default: twice the rank).")] = None,
    one_pass: Annotated[bool | None, typer.Option("--one-pass/--target-conditioned", help="Architecture: --one-pass encodes each paragraph once and reads every target from its mention tokens and the frames from the same pass (one pass per paragraph); --target-conditioned runs one pass per (paragraph, mentioned target) plus a frame-encoder pass, as the shipped default. Default: what the start model is.", show_default=False)] = None,
    dev: Annotated[Path | None, typer.Option(help="Dev file for model selection and the report (default: 10% of FILES, grouped by document).")] = None,
    epochs: Annotated[float | None, typer.Option(min=0.01, help="Passes over the training data (default 3; 6 for a warm start on up to 1,000 records).")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many optimizer steps (overrides --epochs).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Training examples per step (default 32; 16 for a cold start).")] = None,
    learning_rate: Annotated[float | None, typer.Option(min=0.0, help="Peak learning rate (default 3e-5 warm, 1e-4 cold, 5e-4 for an adapter).")] = None,
    max_length: Annotated[int | None, typer.Option(min=16, help="Longest input in tokens (default: the config's model.max_length).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (weights init, data order, the dev split).")] = 42,
    patience: Annotated[int, typer.Option(min=1, help="Stop after this many dev evaluations (two per epoch) without a better macro-F1.")] = 3,
    conflicts: ConflictsOption = "majority",
    frames: Annotated[bool, typer.Option(help="Train the frame head when the files hold frame records.")] = True,
    frame_vectors: Annotated[str, typer.Option(help="What the frame head reads: 'stance-pass' (the stance model's own pass: no second encoder at annotation, how the shipped default reads frames), 'encoder' (frames.encoder's sentence embeddings: one more pass per paragraph), 'auto' (what the start model's head read).")] = "auto",
    curve: Annotated[bool, typer.Option(help="Instead of one model: train on 25/50/75/100% and print (and plot, with --out) the learning curve.")] = False,
    name: Annotated[str | None, typer.Option(help="Model name in model versions (default: the --out directory's name).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out directory.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress (bars on a terminal, periodic lines otherwise).")] = True,
    config: ConfigOption = None,
) -> None:
    """Train a stance classifier (and a frame head) on reviewed labels; `stance annotate --model OUT` then uses it.

    By default training continues from the model that made the pre-labels (a warm start), so a
    review round of a few hundred labels adapts it instead of replacing it.
    """
    cfg = load(config)
    settings = _settings(base, models_dir, adapter, epochs, max_steps, batch_size, learning_rate, max_length, seed, patience, conflicts, name,
                         lora_rank, lora_alpha, one_pass, frame_vectors)
    if curve:
        from stance.training.curve import format_curve, train_curve

        plot = out / "curve.png" if out else None
        typer.echo(format_curve(train_curve(files, cfg, settings, plot=plot, progress=progress)))  # type: ignore[arg-type]
        if plot:
            typer.echo(f"wrote {plot}")
        return
    if out is None:
        raise typer.BadParameter("expected the model directory to write", param_hint="--out")
    from stance.training.train import train_model

    result = train_model(files, out, cfg, settings, dev_file=dev, overwrite=overwrite, progress=progress, frames=frames)  # type: ignore[arg-type]
    if result.split is None:  # frame records only: the stance classifier (if any) was kept, not trained
        kept = f"kept the stance classifier of {result.start.spec}; " if result.start.warm else ""
        typer.echo(f"{kept}trained the frame head of {result.model_version or out.name} in {result.seconds / 60:.1f} min")
    else:
        typer.echo(f"trained {result.model_version or out.name} from {result.start.describe()}: {result.steps} steps in {result.seconds / 60:.1f} min")
    if result.dev_metrics:
        m = result.dev_metrics
        f_avg = f"{m['f_avg']:.3f}" if m["f_avg"] is not None else "n/a"
        typer.echo(f"dev ({m['n']} records): macro-F1 {m['macro_f1']:.3f}, accuracy {m['accuracy']:.3f}, F_avg {f_avg}")
    for level, m in (result.frame_metrics or {}).items():
        typer.echo(f"frames, {level} level ({m['n']} held-out predictions): micro-F1 {m['micro_f1']:.3f}, macro-F1 {m['macro_f1']:.3f}")
    typer.echo(f"wrote {out}/ (model card: {out}/README.md)")


@command("retrain")
def retrain_command(
    files: TrainFiles,
    heldout: Annotated[Path | None, typer.Option(help="Gold file of other documents, the same in every round (default: cross-validation on FILES, grouped by document).")] = None,
    models: Annotated[Path, typer.Option(help="Where models, `current` and promotions.jsonl live.")] = Path("models"),
    name: Annotated[str | None, typer.Option(help="Name of the new model directory (default: stance-<UTC time>).")] = None,
    base: BaseOption = "current",
    folds: Annotated[int, typer.Option(min=2, help="Folds of the cross-validation when there is no --heldout.")] = 3,
    min_gain: Annotated[float, typer.Option(help="Macro-F1 the new model must add to be promoted.")] = 0.0,
    epochs: Annotated[float | None, typer.Option(min=0.01, help="Passes over the training data (see stance train).")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many optimizer steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Training examples per step (default 32; 16 for a cold start).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    conflicts: ConflictsOption = "majority",
    project: Annotated[str | None, typer.Option("--project", "-p", help="After a promotion, make this Label Studio project show the new model (its unreviewed tasks predicted first).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
    config: ConfigOption = None,
) -> None:
    """Train on reviewed labels, compare with the current model, and promote the new one only if it is better.

    Exit code 0 when promoted, 1 when the current model was kept (with what to do next), 2 on an error.
    """
    from stance.training.retrain import describe, retrain_and_promote

    cfg = load(config)
    settings = _settings(base, models, False, epochs, max_steps, batch_size, None, None, seed, 3, conflicts, None)
    result = retrain_and_promote(files, heldout, models, cfg, settings, name=name, min_gain=min_gain, folds=folds, progress=progress)  # type: ignore[arg-type]
    typer.echo(describe(result))
    if not result.promoted:
        raise typer.Exit(1)
    if project:
        from stance.labelstudio.versions import promote_in_labelstudio

        switch = promote_in_labelstudio(cfg, project, result.new_model)
        typer.echo(f"Label Studio project {switch.project_title!r}: " + "; ".join(switch.report.lines()))


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
