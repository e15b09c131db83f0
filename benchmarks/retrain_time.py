#!/usr/bin/env python
"""How long one review round's retraining takes: `stance train` on N reviewed pairs, warm start.

    .venv/bin/python benchmarks/retrain_time.py [--pairs 500] [--base current] [--adapter]

The pairs are the first N mentioned (paragraph, target) pairs of the team's corpus train split
(data/corpus/train.jsonl), whole documents, the way a review round returns them; training runs as
`stance train` runs it (the default settings, frames off so that the figure is the stance model's),
in this process. Prints the wall time, the steps and the dev figures, and a last line for scripts:
`retrain <pairs> pairs: <seconds> s (<minutes> min) on <cpus> CPUs`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--base", default="current", help="where training starts (see stance train --base)")
    parser.add_argument("--adapter", action="store_true", help="train a LoRA adapter over the warm model instead of every weight")
    args = parser.parse_args(argv)

    from stance.config import load_config
    from stance.training.train import TrainSettings, train_model

    rows = [json.loads(line) for line in (ROOT / "data" / "corpus" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen, documents = [], []
    for row in rows:
        if "target" not in row:
            continue
        if len(chosen) >= args.pairs and row["doc_id"] not in documents[-1:]:
            break
        if row["doc_id"] not in documents:
            documents.append(row["doc_id"])
        chosen.append(row)
    config = load_config(ROOT / "configs" / "corpus.yaml")
    with tempfile.TemporaryDirectory(prefix="stance-retrain-time-") as scratch:
        path = Path(scratch) / "reviewed.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
        settings = TrainSettings(base=args.base, models_dir=Path(scratch) / "models", adapter=args.adapter)
        started = time.monotonic()
        result = train_model([path], Path(scratch) / "model", config, settings, progress=True, frames=False)
        seconds = time.monotonic() - started
    dev = result.dev_metrics or {}
    print(f"{len(chosen)} pairs from {len(documents)} documents, start {result.start.describe()}: {result.steps} steps,"
          f" dev macro-F1 {dev.get('macro_f1', float('nan')):.3f} on {dev.get('n', 0)} records")
    cpus = len(os.sched_getaffinity(0))
    print(f"retrain {len(chosen)} pairs: {seconds:.1f} s ({seconds / 60:.1f} min) on {cpus} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
