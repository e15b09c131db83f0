#!/usr/bin/env python
"""Calibrate `documents.neutral_weight` (the article rule's weight on the neutral mean) on the team
corpus' train articles, and report the chosen value on the dev articles.

    .venv/bin/python benchmarks/neutral_weight.py [--model shipped:minilm-news-v3] [--weights 0.6 0.7 ...]

The articles of data/corpus/articles-{train,dev}.jsonl are annotated with `stance annotate`'s own
pipeline (configs/corpus.yaml, nine targets); for each weight, documents.jsonl's rule
(`stance.documents.document_stance`) gives each (article, target) a label, scored against the
article-level gold labels on the pairs people saw as mentioned: macro-F1 over the three stance
labels (a gate miss counts as an error) and polar macro-F1 (mean F1 of favorable and unfavorable
on the pairs labelled favorable or unfavorable). The weight with the best train macro-F1 wins (ties:
the one nearest 1.0). The default model trained on the train articles, so train figures are
optimistic; dev is the check.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def article_predictions(split: str, model: str, scratch: Path) -> tuple[dict, list[dict]]:
    from stance.annotate import annotate_corpus
    from stance.config import load_config
    from stance.runs import read_predictions

    config = load_config(ROOT / "configs" / "corpus.yaml")
    config = config.model_copy(update={"model": config.model.model_copy(update={"name": model})})
    rows = [json.loads(line) for line in (ROOT / "data" / "corpus" / f"articles-{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = {r["doc_id"]: r["text"] for r in rows}
    gold = [r for r in rows if "target" in r and r["label"] != config.not_mentioned.name]
    inputs = scratch / f"{split}-in"
    inputs.mkdir()
    (inputs / "articles.jsonl").write_text("".join(json.dumps({"id": d, "text": t}) + "\n" for d, t in texts.items()), encoding="utf-8")
    out = scratch / f"{split}-run"
    annotate_corpus([inputs], out, config, progress=False)
    by_doc: dict[str, list] = defaultdict(list)
    for prediction in read_predictions(out):
        by_doc[prediction.doc_id].append(prediction)
    return {"config": config, "by_doc": by_doc}, gold


def figures(state: dict, gold: list[dict], weight: float) -> dict:
    from stance.documents import document_stance
    from stance.metrics import classification_metrics

    config = state["config"]
    config = config.model_copy(update={"documents": config.documents.model_copy(update={"neutral_weight": weight})})
    predicted = [document_stance(state["by_doc"][r["doc_id"]], r["target"], config).label for r in gold]
    order, polar = list(config.all_label_names), list(config.polar_label_names)
    m = classification_metrics([r["label"] for r in gold], predicted, order, polar)
    pairs = [(r["label"], p) for r, p in zip(gold, predicted, strict=True) if r["label"] in polar]
    pm = classification_metrics([g for g, _ in pairs], [p for _, p in pairs], order, polar)
    f1 = [m["per_label"].get(label, {}).get("f1", 0.0) for label in config.stance_label_names]
    return {"weight": weight, "macro_f1": round(sum(f1) / len(f1), 4), "polar_macro_f1": round(pm["f_avg"], 4), "pairs": len(gold)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="shipped:minilm-news-v3")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stance-neutral-weight-") as tmp:
        train_state, train_gold = article_predictions("train", args.model, Path(tmp))
        dev_state, dev_gold = article_predictions("dev", args.model, Path(tmp))
    rows = [{"train": figures(train_state, train_gold, w), "dev": figures(dev_state, dev_gold, w)} for w in args.weights]
    for row in rows:
        t, d = row["train"], row["dev"]
        print(f"neutral_weight {t['weight']:.2f}: train macro-F1 {t['macro_f1']:.3f} polar {t['polar_macro_f1']:.3f}"
              f" ({t['pairs']} pairs) | dev macro-F1 {d['macro_f1']:.3f} polar {d['polar_macro_f1']:.3f} ({d['pairs']} pairs)")
    best = max(rows, key=lambda r: (r["train"]["macro_f1"], -abs(r["train"]["weight"] - 1.0)))
    print(f"chosen on train: neutral_weight {best['train']['weight']}; dev macro-F1 {best['dev']['macro_f1']:.3f},"
          f" polar {best['dev']['polar_macro_f1']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
