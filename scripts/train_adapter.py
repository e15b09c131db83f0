#!/usr/bin/env python
"""Train the shipped offline default: a LoRA adapter over the frozen bundled MiniLM, on NewsMTSC train.

Reproduces stance/resources/adapter/ (adapter.safetensors + adapter.json + README.md):

    .venv/bin/python scripts/train_adapter.py /work/shared/data/newsmtsc/train.jsonl

Seeds are fixed; the dev split (early stopping) is 10% of train, grouped by article, so NewsMTSC's
dev_rw/dev_mt stay untouched for the comparison in the README. About 35 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train", nargs="+", type=Path, help="training files in the interchange format (NewsMTSC train.jsonl)")
    parser.add_argument("--out", type=Path, default=ROOT / "stance" / "resources" / "adapter", help="adapter directory to write")
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "adapter-dev", help="where the dev evaluation report goes")
    parser.add_argument("--base", default="bundled:all-MiniLM-L6-v2", help="the frozen encoder")
    parser.add_argument("--name", default="minilm-newsmtsc-lora", help="name in the model version stamped on predictions")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank")
    parser.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (scale = alpha / rank)")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (for a quick check)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", type=Path, default=None, help="config for the labels (default: configs/default.yaml)")
    args = parser.parse_args(argv)

    from stance.config import load_config
    from stance.errors import StanceError
    from stance.train import TrainSettings, train_adapter

    settings = TrainSettings(
        base=args.base, epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed, lora_rank=args.rank, lora_alpha=args.alpha,
    )
    started = time.monotonic()
    try:
        result = train_adapter(args.train, args.out, load_config(args.config), settings, report_dir=args.report,
                               name=args.name, overwrite=True)
    except StanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {args.out} ({size / 1e6:.2f} MB), version {result.model_version}, {(time.monotonic() - started) / 60:.1f} min")
    if result.dev_metrics:
        m = result.dev_metrics
        print(f"dev ({m['n']} records): macro-F1 {m['macro_f1']:.3f}, accuracy {m['accuracy']:.3f}; report in {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
