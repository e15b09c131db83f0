#!/usr/bin/env python
"""Quality of models side by side: the team's dev split, NewsMTSC dev, the seed sample.

    .venv/bin/python benchmarks/quality.py MODEL [MODEL ...] --newsmtsc ../shared/data/newsmtsc [--json out.json]

MODEL is anything `stance evaluate` takes (`config`, `shipped:NAME`, a model directory). For each:
- corpus dev, paragraphs (data/corpus/dev.jsonl, configs/corpus.yaml, nine targets): stance macro-F1
  (over favorable, neutral, unfavorable; a pair the gate missed counts as an error) and F_avg on the
  pairs people saw as mentioned, polar macro-F1 (F_avg on the pairs people
  labelled favorable or unfavorable: how the held-out contested-news set is scored), and the
  gate's accuracy on not_mentioned; frames micro-F1;
- corpus dev, articles (data/corpus/articles-dev.jsonl): the same at article level (documents.jsonl rule);
- NewsMTSC dev_rw and dev_mt: macro-F1 (people as targets, every record mentioned);
- the seed sample (tests/fixtures/seed_gold.jsonl): macro-F1 and accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def corpus_figures(spec: str, gold: Path) -> dict:
    """Stance on mentioned pairs, polar macro-F1, gate accuracy and frames, on one corpus file."""
    from stance.config import load_config
    from stance.evaluate import run_source
    from stance.labelled import read_labelled
    from stance.metrics import classification_metrics as metrics

    config = load_config(ROOT / "configs" / "corpus.yaml")
    records, _ = read_labelled([gold], config)
    source = run_source(spec, records, config, progress=False)
    order, polar = list(config.all_label_names), list(config.polar_label_names)
    pairs = list(zip(records, source.predictions, strict=True))
    mentioned = [(r, p) for r, p in pairs if r.label != config.not_mentioned.name]
    polar_pairs = [(r, p) for r, p in mentioned if r.label in polar]
    absent = [(r, p) for r, p in pairs if r.label == config.not_mentioned.name]
    m = metrics([r.label for r, _ in mentioned], [p.label for _, p in mentioned], order, polar)
    pm = metrics([r.label for r, _ in polar_pairs], [p.label for _, p in polar_pairs], order, polar)
    frames = source.frames or {}
    level = "document" if "document" in frames else "paragraph"
    stance_f1 = [m["per_label"].get(label, {}).get("f1", 0.0) for label in config.stance_label_names]
    return {
        # macro-F1 over the stance labels people gave (a gate miss, predicted not_mentioned, counts as an error)
        "mentioned_pairs": len(mentioned), "macro_f1": sum(stance_f1) / len(stance_f1), "f_avg": m["f_avg"], "polar_pairs": len(polar_pairs),
        "polar_macro_f1": pm["f_avg"], "gate_not_mentioned_accuracy": sum(p.label == r.label for r, p in absent) / len(absent) if absent else None,
        "frames_micro_f1": frames.get(level, {}).get("micro_f1"), "frames_per_item": frames.get(level, {}).get("predicted_per_item"),
        "version": source.model_version, "seconds": round(source.seconds, 1),
    }


def plain_figures(spec: str, gold: Path) -> dict:
    from stance.config import load_config
    from stance.evaluate import evaluate_records
    from stance.labelled import read_labelled

    config = load_config(None)
    records, _ = read_labelled([gold], config)
    overall = evaluate_records(spec, records, config, progress=False).metrics["model"]["overall"]
    return {"n": overall["n"], "macro_f1": overall["macro_f1"], "accuracy": overall["accuracy"], "f_avg": overall["f_avg"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--newsmtsc", type=Path, default=None, help="folder with NewsMTSC dev_rw.jsonl and dev_mt.jsonl")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    table = {}
    for spec in args.models:
        row = {"corpus_paragraphs": corpus_figures(spec, ROOT / "data" / "corpus" / "dev.jsonl"),
               "corpus_articles": corpus_figures(spec, ROOT / "data" / "corpus" / "articles-dev.jsonl"),
               "seeds": plain_figures(spec, ROOT / "tests" / "fixtures" / "seed_gold.jsonl")}
        if args.newsmtsc:
            for part in ("dev_rw", "dev_mt"):
                row[part] = plain_figures(spec, args.newsmtsc / f"{part}.jsonl")
        table[spec] = row
        print(f"{spec}: {json.dumps(row)}", file=sys.stderr, flush=True)
    header = "| model | dev par. macro-F1 | dev par. polar macro-F1 | dev art. macro-F1 | dev art. polar macro-F1 | frames par. / art. micro-F1 | seeds macro-F1 |"
    if args.newsmtsc:
        header += " dev_rw macro-F1 | dev_mt macro-F1 |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for spec, row in table.items():
        p, a = row["corpus_paragraphs"], row["corpus_articles"]
        cells = [spec, f"{p['macro_f1']:.3f}", f"{p['polar_macro_f1']:.3f}", f"{a['macro_f1']:.3f}", f"{a['polar_macro_f1']:.3f}",
                 f"{p['frames_micro_f1'] or 0:.3f} / {a['frames_micro_f1'] or 0:.3f}", f"{row['seeds']['macro_f1']:.3f}"]
        if args.newsmtsc:
            cells += [f"{row['dev_rw']['macro_f1']:.3f}", f"{row['dev_mt']['macro_f1']:.3f}"]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
