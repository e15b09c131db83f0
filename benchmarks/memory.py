"""Peak memory of `stance annotate` as the corpus grows: it should stay flat (inputs and outputs are streams).

    .venv/bin/python benchmarks/memory.py [--paragraphs 10000 100000] [--config configs/default.yaml]

Writes a synthetic JSONL corpus of real news sentences (each paragraph two NewsMTSC sentences, every
paragraph distinct, ten paragraphs per article), runs `stance annotate` on it as a separate process,
exactly as a user does, and reads that process's peak RSS from the kernel (wait4). Without --config the
model is a tiny random NLI classifier with the bundled tokenizer, so that 100,000 paragraphs take minutes:
what grows with the corpus is the pipeline's own memory, and the model's memory does not depend on the
corpus size. Prints one line per size and a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_corpus(path: Path, paragraphs: int, newsmtsc: Path, seed: int = 0) -> None:
    """`paragraphs` distinct paragraphs of two real sentences each, ten per article, as JSONL articles."""
    sentences = sorted({json.loads(line)["text"] for line in (newsmtsc / "train.jsonl").open(encoding="utf-8")})
    rng = random.Random(seed)
    seen: set[str] = set()
    with path.open("w", encoding="utf-8") as out:
        article: list[str] = []
        while len(seen) < paragraphs:
            text = f"{rng.choice(sentences)} {rng.choice(sentences)}"
            if text in seen:
                continue
            seen.add(text)
            article.append(text)
            if len(article) == 10 or len(seen) == paragraphs:
                out.write(json.dumps({"id": f"article-{len(seen) // 10:06d}", "text": "\n\n".join(article)}) + "\n")
                article = []


def tiny_nli_model(directory: Path) -> Path:
    """A 2-layer, 32-wide BERT NLI classifier with random weights and the bundled tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from stance.scoring.loading import resolve_model_source

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_source("bundled:all-MiniLM-L6-v2"))
    labels = {0: "entailment", 1: "neutral", 2: "contradiction"}
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def run_annotate(corpus: Path, out: Path, config: Path) -> dict:
    """Run `stance annotate` as its own process; its wall time and peak RSS (MiB)."""
    command = [str(Path(sys.executable).parent / "stance"), "annotate", str(corpus), "--out", str(out), "--config", str(config), "--overwrite"]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    stderr = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stance annotate failed:\n{stderr}")
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "paragraphs": run["counts"]["paragraphs"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, nargs="+", default=[10_000, 100_000], help="corpus sizes (default 10000 100000)")
    parser.add_argument("--config", type=Path, help="config to annotate with (default: a tiny random NLI model, frames on)")
    parser.add_argument("--newsmtsc", type=Path, default=ROOT.parent / "shared" / "data" / "newsmtsc", help="NewsMTSC folder")
    args = parser.parse_args(argv)

    results = {}
    with tempfile.TemporaryDirectory(prefix="stance-memory-") as scratch:
        scratch_dir = Path(scratch)
        config = args.config
        if config is None:
            model = tiny_nli_model(scratch_dir / "tiny-nli")
            config = scratch_dir / "tiny-nli.yaml"
            config.write_text(f"extends: {ROOT / 'configs' / 'default.yaml'}\nmodel:\n  backend: nli\n  name: {model}\n", encoding="utf-8")
        for size in args.paragraphs:
            corpus = scratch_dir / f"corpus-{size}.jsonl"
            write_corpus(corpus, size, args.newsmtsc)
            result = run_annotate(corpus, scratch_dir / f"run-{size}", config)
            result["input_mib"] = round(corpus.stat().st_size / 2**20, 1)
            result["output_mib"] = round((scratch_dir / f"run-{size}" / "predictions.jsonl").stat().st_size / 2**20, 1)
            results[size] = result
            print(f"{size:>7} paragraphs: peak RSS {result['peak_rss_mib']} MiB, {result['seconds']} s,"
                  f" input {result['input_mib']} MiB, predictions {result['output_mib']} MiB", flush=True)
            corpus.unlink()
    print(json.dumps({"config": str(args.config or "tiny random NLI model, default config"), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
