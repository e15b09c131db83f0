"""`stance train` and `stance evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stance.cli.app import ConfigOption, command, load


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
