#!/usr/bin/env python
"""Rebuild the shipped default models (the recipes of stance/resources/models/minilm-news-v2 and -v3).

    .venv/bin/python data/tools/train_default.py --newsmtsc ../shared/data/newsmtsc [--out DIR] [--replay 1500]
    .venv/bin/python data/tools/train_default.py --frames-over shipped:minilm-news-v2 [--out DIR]

minilm-news-v3 (the default) is minilm-news-v2's stance adapter, unchanged, with a frame head that
reads the stance model's own pass (`stance train --frame-vectors stance-pass` on the corpus train
split's frame records only): the same stance labels, and no second encoder pass for frames.

A LoRA adapter (rank 32, alpha 64) stacked over the previous default (shipped:minilm-newsmtsc-lora,
itself a LoRA adapter of all-MiniLM-L6-v2 trained on NewsMTSC), trained on
- the team's corpus train split (data/corpus/train.jsonl paragraphs, data/corpus/articles-train.jsonl
  articles; nine targets, configs/corpus.yaml), and
- a replay sample of NewsMTSC train (--replay records, whole articles, fixed seed 1), so that what the
  previous default knew about people as targets is kept.
With --one-pass, the same data trains the one-pass model instead (`stance train --one-pass`: each
paragraph encoded once, every target read from its mention tokens, frames from the same pass), a
rank-32 LoRA adapter over the encoder of the shipped default (shipped:minilm-news-v2), with new heads.
The dev split (data/corpus/dev.jsonl, articles-dev.jsonl) is never trained on. It runs `stance train`
exactly as a user would; the replay sample is written to a temporary folder and deleted afterwards
(NewsMTSC is read from the path given, never copied into the repository).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
NEWSMTSC_DOC = re.compile(r"^(?:newsmtsc:)?(allsides_\d+_\d+|polusa_v1_\d+_-?\d+)_\d+_")  # the article part of a NewsMTSC id


def replay_sample(train: Path, size: int, seed: int = 1) -> list[dict]:
    """`size` records of NewsMTSC train, whole articles in a shuffled (seeded) order."""
    if not train.is_file():
        sys.exit(f"error: {train} does not exist; expected NewsMTSC's train.jsonl (--newsmtsc names its folder)")
    rows = [json.loads(line) for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        match = NEWSMTSC_DOC.match(str(row["id"]))
        by_doc[match.group(1) if match else str(row["id"])].append(row)
    keys = sorted(by_doc)
    random.Random(seed).shuffle(keys)
    out: list[dict] = []
    for key in keys:
        if len(out) >= size:
            break
        out += by_doc[key]
    return out[:size]


def frames_over(model: str, out: Path) -> int:
    """A frames-only `stance train` from `model`: its stance classifier kept, a frame head on its own pass."""
    with tempfile.TemporaryDirectory(prefix="corpus-frames-") as scratch:
        files = []
        for name in ("train.jsonl", "articles-train.jsonl"):
            rows = [line for line in (ROOT / "data" / "corpus" / name).read_text(encoding="utf-8").splitlines()
                    if line.strip() and "target" not in json.loads(line)]
            path = Path(scratch) / f"frames-{name}"
            path.write_text("\n".join(rows) + "\n", encoding="utf-8")
            files.append(str(path))
        command = [sys.executable, "-m", "stance", "train", *files, "--config", "configs/corpus.yaml", "--base", model,
                   "--frame-vectors", "stance-pass", "--out", str(out.resolve()), "--overwrite"]
        print("+", " ".join(command), flush=True)
        return subprocess.call(command, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--newsmtsc", type=Path, default=None, help="folder with NewsMTSC train.jsonl (needed unless --frames-over)")
    parser.add_argument("--out", type=Path, default=None, help="model directory to write (default models/minilm-news-v2, or models/minilm-news-onepass)")
    parser.add_argument("--one-pass", action="store_true", help="train the one-pass model over the default's encoder")
    parser.add_argument("--frames-over", default=None, metavar="MODEL",
                        help="only train a stance-pass frame head over MODEL's stance classifier (how minilm-news-v3 is made)")
    parser.add_argument("--replay", type=int, default=1500, help="NewsMTSC train records to replay (default 1500)")
    parser.add_argument("--rank", type=int, default=32, help="LoRA rank (alpha is twice the rank)")
    args = parser.parse_args()
    if args.frames_over:
        sys.exit(frames_over(args.frames_over, args.out or ROOT / "models" / "minilm-news-v3"))
    if args.newsmtsc is None:
        parser.error("--newsmtsc is required (the folder with NewsMTSC's train.jsonl), unless --frames-over")
    out = args.out or ROOT / "models" / ("minilm-news-onepass" if args.one_pass else "minilm-news-v2")
    base = "shipped:minilm-news-v2" if args.one_pass else "shipped:minilm-newsmtsc-lora"
    with tempfile.TemporaryDirectory(prefix="newsmtsc-replay-") as scratch:
        replay = Path(scratch) / "newsmtsc-replay.jsonl"
        replay.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in replay_sample(args.newsmtsc / "train.jsonl", args.replay)),
                          encoding="utf-8")
        command = [sys.executable, "-m", "stance", "train",
                   "data/corpus/train.jsonl", "data/corpus/articles-train.jsonl", str(replay),  # relative: the model card names them so
                   "--config", "configs/corpus.yaml", "--base", base, *(["--one-pass"] if args.one_pass else []),
                   "--adapter", "--lora-rank", str(args.rank), "--lora-alpha", str(2 * args.rank),
                   "--out", str(out.resolve()), "--overwrite"]
        print("+", " ".join(command), flush=True)
        sys.exit(subprocess.call(command, cwd=ROOT))


if __name__ == "__main__":
    main()
