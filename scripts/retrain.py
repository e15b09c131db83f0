#!/usr/bin/env python
"""Retrain, compare with the current model on a held-out file, promote only if better.

    .venv/bin/python scripts/retrain.py annotations/seeds/annotations.jsonl [extra.jsonl ...] \\
        --heldout heldout.jsonl --models models/ [--base bundled:all-MiniLM-L6-v2] [--epochs 3]

Trains models/stance-<time>, evaluates it and the current model (models/current, else the
config's zero-shot scorer) on the held-out file, and re-points models/current at the new model
only when its macro-F1 is higher (by more than --min-gain). Each decision is appended to
models/promotions.jsonl; the side-by-side report is in the new model's heldout/ folder.
Exit code 0 when promoted, 1 when the current model was kept, 2 on an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="training files (pulled annotations, extra labelled data)")
    parser.add_argument("--heldout", type=Path, required=True, help="gold file of other documents, the same for every comparison")
    parser.add_argument("--models", type=Path, default=Path("models"), help="where models, current and promotions.jsonl live")
    parser.add_argument("--name", default=None, help="name of the new model directory (default: stance-<UTC time>)")
    parser.add_argument("--base", default="bundled:all-MiniLM-L6-v2", help="encoder to fine-tune (models/current continues from it)")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--min-gain", type=float, default=0.0, help="macro-F1 the new model must add to be promoted")
    parser.add_argument("--config", type=Path, default=None, help="config (default: configs/default.yaml)")
    args = parser.parse_args(argv)

    from stance.config import load_config
    from stance.errors import StanceError
    from stance.retrain import describe, retrain_and_promote
    from stance.train import TrainSettings

    settings = TrainSettings(base=args.base, epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size, seed=args.seed)
    try:
        result = retrain_and_promote(
            args.files, args.heldout, args.models, load_config(args.config), settings, name=args.name, min_gain=args.min_gain
        )
    except StanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(describe(result))
    return 0 if result.promoted else 1


if __name__ == "__main__":
    sys.exit(main())
