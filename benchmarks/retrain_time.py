#!/usr/bin/env python
"""How long one review round's retraining takes: `stance train` on N reviewed pairs, warm start.

    .venv/bin/python benchmarks/retrain_time.py [--pairs 500] [--base current] [--adapter] [--no-frames]

The pairs are the first N mentioned (paragraph, target) pairs of the team's corpus train split
(data/corpus/train.jsonl), whole documents, the way a review round returns them; training runs as
`stance train` runs it (the default settings; the documents' frame records train the frame head too,
as a pulled review round's do; --no-frames: the stance model alone), in this process. Prints the
wall time, the steps and the dev figures, and a last line for scripts:
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
    parser.add_argument("--no-frames", action="store_true", help="leave the documents' frame records out (the stance model alone)")
    args = parser.parse_args(argv)

    from stance.config import load_config
    from stance.training.train import TrainSettings, train_model

    rows = [json.loads(line) for line in (ROOT / "data" / "corpus" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    documents: list[str] = []  # whole documents, in file order, until they hold --pairs stance pairs
    pairs = 0
    for row in rows:
        if "target" not in row or row["doc_id"] in documents:
            pairs += "target" in row and row["doc_id"] in documents
            continue
        if pairs >= args.pairs:
            break
        documents.append(row["doc_id"])
        pairs += 1
    keep = set(documents)
    chosen = [r for r in rows if r["doc_id"] in keep and "target" in r]
    frame_rows = [r for r in rows if r["doc_id"] in keep and "target" not in r and not args.no_frames]
    config = load_config(ROOT / "configs" / "corpus.yaml")
    with tempfile.TemporaryDirectory(prefix="stance-retrain-time-") as scratch:
        path = Path(scratch) / "reviewed.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in chosen + frame_rows), encoding="utf-8")
        settings = TrainSettings(base=args.base, models_dir=Path(scratch) / "models", adapter=args.adapter)
        started = time.monotonic()
        result = train_model([path], Path(scratch) / "model", config, settings, progress=True, frames=bool(frame_rows))
        seconds = time.monotonic() - started
    dev = result.dev_metrics or {}
    print(f"{len(chosen)} pairs and {len(frame_rows)} paragraphs' frames from {len(documents)} documents, start {result.start.describe()}: {result.steps} steps,"
          f" dev macro-F1 {dev.get('macro_f1', float('nan')):.3f} on {dev.get('n', 0)} records")
    cpus = len(os.sched_getaffinity(0))
    print(f"retrain {len(chosen)} pairs: {seconds:.1f} s ({seconds / 60:.1f} min) on {cpus} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
