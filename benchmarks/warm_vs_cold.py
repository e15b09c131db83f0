#!/usr/bin/env python
"""Warm start against cold start, by how many reviewed labels there are.

    .venv/bin/python benchmarks/warm_vs_cold.py --newsmtsc ../shared/data/newsmtsc [--sizes 50 200 1000 2000] [--json out.json]

For each size N, two models are trained with `stance train` defaults on the same N records: warm
(`--base current`: the config's shipped model) and cold (`--base bundled:all-MiniLM-L6-v2`, a new
head on the raw encoder), and judged on
- NewsMTSC: N records of NewsMTSC train (whole articles, fixed seed); judged on dev_rw and dev_mt;
- the team's corpus: N mentioned pairs of data/corpus/train.jsonl (whole documents); judged on the
  dev split (paragraphs: macro-F1 on the pairs people saw mentioned, polar macro-F1);
- the seed sample (tests/fixtures/seed_gold.jsonl), for both.
Also the cold start of the issue: 2,000 NewsMTSC records, exactly one epoch (`--cold-epoch`).
The shipped default saw all of NewsMTSC train, so on NewsMTSC the warm rows say whether a small
batch keeps what it knows; the corpus rows say whether it learns a new domain.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWSMTSC_DOC = re.compile(r"^(?:newsmtsc:)?(allsides_\d+_\d+|polusa_v1_\d+_-?\d+)_\d+_")


def newsmtsc_sample(path: Path, size: int, seed: int = 1) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        match = NEWSMTSC_DOC.match(row["id"])
        by_doc[match.group(1) if match else row["id"]].append(row)
    keys = sorted(by_doc)
    random.Random(seed).shuffle(keys)
    out: list[dict] = []
    for key in keys:
        if len(out) >= size:
            break
        out += by_doc[key]
    return out[:size]


def corpus_sample(size: int) -> list[dict]:
    rows = [json.loads(line) for line in (ROOT / "data" / "corpus" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    out = [r for r in rows if "target" in r]
    return out[:size]


def train_and_judge(rows: list[dict], base: str, scratch: Path, name: str, config_path: Path | None, judges: dict[str, Path],
                    epochs: float | None = None, learning_rate: float | None = None, batch_size: int | None = None) -> dict:
    from stance.config import load_config
    from stance.evaluate import run_source
    from stance.labelled import read_labelled
    from stance.metrics import classification_metrics
    from stance.training.train import TrainSettings, train_model

    config = load_config(config_path)
    path = scratch / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    started = time.monotonic()
    result = train_model([path], scratch / name, config, TrainSettings(base=base, models_dir=scratch / "no-models", epochs=epochs,
                                                                                     learning_rate=learning_rate, batch_size=batch_size),
                         progress=False, frames=False)
    row: dict = {"records": len(rows), "base": base, "seconds": round(time.monotonic() - started, 1), "steps": result.steps}
    for judge, gold in judges.items():
        judge_config = load_config(ROOT / "configs" / "corpus.yaml") if judge == "corpus_dev" else load_config(None)
        records, _ = read_labelled([gold], judge_config)
        if judge == "corpus_dev":
            records = [r for r in records if r.label != judge_config.not_mentioned.name]
        predictions = run_source(str(scratch / name), records, judge_config, progress=False).predictions
        order, polar = list(judge_config.all_label_names), list(judge_config.polar_label_names)
        overall = classification_metrics([r.label for r in records], [p.label for p in predictions], order, polar)
        row[f"{judge}_macro_f1"] = round(overall["macro_f1"], 4)
        if judge == "corpus_dev":
            pairs = [(r.label, p.label) for r, p in zip(records, predictions, strict=True) if r.label in polar]
            row["corpus_dev_polar_macro_f1"] = round(classification_metrics([g for g, _ in pairs], [q for _, q in pairs], order, polar)["f_avg"], 4)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--newsmtsc", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000, 2000])
    parser.add_argument("--data", nargs="+", choices=["newsmtsc", "corpus"], default=["newsmtsc", "corpus"],
                        help="which training data to sample (default both)")
    parser.add_argument("--warm-base", default="current",
                        help="where the warm start starts (default: current, the config's model; e.g. shipped:minilm-newsmtsc-lora, "
                             "which never saw the team corpus)")
    parser.add_argument("--cold-epoch", action="store_true", help="only the cold start on 2,000 NewsMTSC records, one epoch")
    parser.add_argument("--learning-rate", type=float, default=None, help="with --cold-epoch: instead of the cold default")
    parser.add_argument("--batch-size", type=int, default=None, help="with --cold-epoch: instead of the cold default")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    seeds = ROOT / "tests" / "fixtures" / "seed_gold.jsonl"
    rows = []
    with tempfile.TemporaryDirectory(prefix="stance-warm-cold-") as tmp:
        scratch = Path(tmp)
        if args.cold_epoch:
            sample = newsmtsc_sample(args.newsmtsc / "train.jsonl", 2000)
            judges = {"dev_rw": args.newsmtsc / "dev_rw.jsonl", "dev_mt": args.newsmtsc / "dev_mt.jsonl"}
            rows.append({"data": "newsmtsc", **train_and_judge(sample, "bundled:all-MiniLM-L6-v2", scratch, "cold-epoch", None, judges, epochs=1.0,
                                                                 learning_rate=args.learning_rate, batch_size=args.batch_size)})
        else:
            for size in args.sizes:
                for data in args.data:
                    if data == "newsmtsc":
                        sample = newsmtsc_sample(args.newsmtsc / "train.jsonl", size)
                        judges = {"dev_rw": args.newsmtsc / "dev_rw.jsonl", "dev_mt": args.newsmtsc / "dev_mt.jsonl", "seeds": seeds}
                        config_path = None
                    else:
                        sample = corpus_sample(size)
                        judges = {"corpus_dev": ROOT / "data" / "corpus" / "dev.jsonl", "seeds": seeds}
                        config_path = ROOT / "configs" / "corpus.yaml"
                    for start, base in (("warm", args.warm_base), ("cold", "bundled:all-MiniLM-L6-v2")):
                        row = {"data": data, "size": size, "start": start,
                               **train_and_judge(sample, base, scratch, f"{data}-{size}-{start}", config_path, judges)}
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
    for row in rows:
        print(json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
