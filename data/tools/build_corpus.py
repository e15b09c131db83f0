#!/usr/bin/env python
"""Build data/corpus/ from what `stance pull` brought back from the two corpus projects.

    python data/tools/build_corpus.py --paragraphs PULLED.jsonl [MORE ...] --articles PULLED.jsonl [MORE ...] [--adjudicated FILE] --out data/corpus

- Annotators: `annotator-*` labelled every document (primary); `second-*` labelled a sample of
  42 documents again, independently (the agreement sample).
- Agreement (agreement.json): per target Cohen's kappa between the two annotations, over all
  (paragraph, target) pairs and over the pairs either annotator saw as mentioning the target;
  frames: micro-F1 of one annotation against the other; for paragraphs and for articles.
- Labels in the corpus: one per (paragraph, target). Where the two annotations disagree, the
  adjudicated label (a third, blind reading of the disagreements, --adjudicated) wins, else the
  primary annotator's.
- Split: the 42 doubly annotated documents (adjudicated, the most reliable labels) are the dev
  split; no model trains on it. The other documents are train.
- Records keep the text, the document id, the outlet, genre and the `synthetic` flag of their article.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "data" / "sources" / "synthetic"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def articles() -> dict[str, dict]:
    found = {}
    for path in sorted(SOURCES.glob("*.jsonl")):
        for row in load(path):
            found[row["id"]] = {**row, "writer": path.stem}
    return found


def agreement(records: list[dict], targets: list[str], frames: list[str]) -> dict:
    from stance.metrics import cohen_kappa, multilabel_metrics

    by_item: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    frames_by: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for r in records:
        role = "second" if r["annotator"].startswith("second-") else "primary"
        by_item[(r["id"], r["target"])][role] = r["label"]
        if r.get("frames") is not None:
            frames_by[r["id"]][role] = r["frames"]
    out: dict = {"targets": {}}
    all_first, all_second = [], []
    for target in targets:
        pairs = [(v["primary"], v["second"]) for (i, t), v in by_item.items() if t == target and {"primary", "second"} <= set(v)]
        mentioned = [(a, b) for a, b in pairs if a != "not_mentioned" or b != "not_mentioned"]
        all_first += [a for a, _ in mentioned]
        all_second += [b for _, b in mentioned]
        out["targets"][target] = {
            "pairs": len(pairs), "kappa": _round(cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])),
            "mentioned_pairs": len(mentioned), "kappa_mentioned": _round(cohen_kappa([a for a, _ in mentioned], [b for _, b in mentioned])),
            "agreement_mentioned": _round(sum(a == b for a, b in mentioned) / len(mentioned)) if mentioned else None,
        }
    out["all_targets_mentioned"] = {"pairs": len(all_first), "kappa": _round(cohen_kappa(all_first, all_second)),
                                    "agreement": _round(sum(a == b for a, b in zip(all_first, all_second, strict=True)) / len(all_first)) if all_first else None,
                                    **ceiling(all_first, all_second)}
    both = [v for v in frames_by.values() if {"primary", "second"} <= set(v)]
    if both:
        m = multilabel_metrics([v["primary"] for v in both], [v["second"] for v in both], frames)
        out["frames"] = {"items": len(both), "micro_f1": _round(m["micro_f1"]), "macro_f1": _round(m["macro_f1"]),
                         "per_item": [_round(m["gold_per_item"]), _round(m["predicted_per_item"])]}
    return out


def ceiling(first: list[str], second: list[str]) -> dict:
    """The second annotation scored as a model against the primary one, with benchmarks/quality.py's
    figures: macro-F1 over the three stance labels on the pairs the primary annotator labelled with a
    stance (the second's not_mentioned is an error), polar macro-F1 (mean F1 of favorable and
    unfavorable) on the pairs it labelled favorable or unfavorable. The ceiling of a model's scores."""
    from stance.metrics import classification_metrics

    stance_labels, polar = ["favorable", "neutral", "unfavorable"], ["favorable", "unfavorable"]
    order = [*stance_labels, "not_mentioned"]
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if a in stance_labels]
    polar_pairs = [(a, b) for a, b in pairs if a in polar]
    if not pairs:
        return {}
    m = classification_metrics([a for a, _ in pairs], [b for _, b in pairs], order, polar)
    pm = classification_metrics([a for a, _ in polar_pairs], [b for _, b in polar_pairs], order, polar)
    f1 = [m["per_label"].get(label, {}).get("f1", 0.0) for label in stance_labels]
    return {"stance_pairs": len(pairs), "macro_f1": _round(sum(f1) / len(f1)), "polar_pairs": len(polar_pairs),
            "polar_macro_f1": _round(pm["f_avg"])}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def resolve(records: list[dict], adjudicated: dict[tuple[str, str], str], adjudicated_frames: dict[str, list[str]]) -> list[dict]:
    """One record per (paragraph, target): adjudicated, else the primary annotator's."""
    chosen: dict[tuple[str, str], dict] = {}
    frames: dict[str, list[str]] = {}
    for r in records:
        key = (r["id"], r["target"])
        if not r["annotator"].startswith("second-"):
            chosen[key] = r
            frames[r["id"]] = r["frames"]
    out = []
    for key, r in chosen.items():
        label = adjudicated.get(key, r["label"])
        out.append({**r, "label": label, "frames": adjudicated_frames.get(r["id"], frames[r["id"]]),
                    "adjudicated": key in adjudicated and adjudicated[key] != r["label"]})
    return out


def corpus_record(r: dict, article: dict, level: str, text: str) -> dict:
    return {
        "id": r["id"], "doc_id": article["id"], "text": text, "target": r["target"], "label": r["label"], "frames": r["frames"],
        "level": level, "annotator": r["annotator"], "adjudicated": r.get("adjudicated", False), "outlet": article["source"],
        "genre": article["genre"], "date": article["date"], "synthetic": bool(article.get("synthetic")),
    }


def deduplicated(records: list[dict]) -> tuple[list[dict], int]:
    """One record per (item, target, annotator): the latest (a server that fails mid-write can save
    an annotation twice); returns the records and how many annotations were repeats."""
    latest: dict[tuple[str, str, str], dict] = {}
    for r in records:
        key = (r["id"], r["target"], r["annotator"])
        if key not in latest or (r.get("updated_at") or "") >= (latest[key].get("updated_at") or ""):
            latest[key] = r
    repeats = len({(r["id"], r["annotator"], r.get("annotation_id")) for r in records}) - len({(i, a) for i, _, a in latest})
    return list(latest.values()), repeats


def compact(records: list[dict]) -> list[dict]:
    """Train files keep the text once per paragraph: a frame record per paragraph (no target), then a
    stance record per target it mentions. Every target a paragraph has no stance record for was
    labelled not_mentioned (training leaves those out anyway; dev files keep them, for the gate)."""
    out, seen = [], set()
    for r in records:
        if r["id"] not in seen:
            seen.add(r["id"])
            out.append({k: v for k, v in r.items() if k not in ("target", "label", "adjudicated")})
        if r["label"] != "not_mentioned":
            out.append({**r, "frames": None})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=Path, nargs="+", required=True, help="pulled paragraph annotations (every round)")
    parser.add_argument("--articles", type=Path, nargs="+", required=True, help="pulled article annotations (every round)")
    parser.add_argument("--adjudicated", type=Path, default=None, help="JSON Lines {id, target, label} / {id, frames} from the adjudication")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "corpus")
    args = parser.parse_args(argv)
    from stance.config import load_config

    config = load_config(ROOT / "configs" / "corpus.yaml")
    targets, frames = [t.name for t in config.targets], list(config.frame_names)
    sources = articles()
    paragraphs, repeated_p = deduplicated([row for path in args.paragraphs for row in load(path)])
    whole, repeated_a = deduplicated([row for path in args.articles for row in load(path)])
    adjudicated: dict[tuple[str, str], str] = {}
    adjudicated_frames: dict[str, list[str]] = {}
    if args.adjudicated:
        for row in load(args.adjudicated):
            if "target" in row:
                adjudicated[(row["id"], row["target"])] = row["label"]
            if "frames" in row:
                adjudicated_frames[row["id"]] = row["frames"]
    report = {"paragraphs": agreement(paragraphs, targets, frames), "articles": agreement(whole, targets, frames)}
    doubly = {r["doc_id"] for r in paragraphs if r["annotator"].startswith("second-")}
    args.out.mkdir(parents=True, exist_ok=True)
    counts: dict = {}
    for level, rows in (("paragraph", resolve(paragraphs, adjudicated, adjudicated_frames)), ("document", resolve(whole, adjudicated, adjudicated_frames))):
        for split in ("train", "dev"):
            chosen = []
            for r in rows:
                doc = r["doc_id"].removesuffix("#article")
                if (doc in doubly) != (split == "dev"):
                    continue
                article = sources[doc]
                text = r["text"] if level == "paragraph" else "\n\n".join(p for p in article["text"].split("\n\n") if p.strip())
                chosen.append(corpus_record(r, article, level, text))
            chosen.sort(key=lambda r: (r["doc_id"], r["id"], targets.index(r["target"])))
            if split == "train":
                chosen = compact(chosen)
            name = f"{split}.jsonl" if level == "paragraph" else f"articles-{split}.jsonl"
            with (args.out / name).open("w", encoding="utf-8") as handle:
                for r in chosen:
                    handle.write(json.dumps(r, ensure_ascii=False) + "\n")
            stance = [r for r in chosen if "target" in r]
            framed = {r["id"]: r for r in chosen if r.get("frames") is not None}
            counts[name] = {
                "documents": len({r["doc_id"] for r in chosen}), "items": len({r["id"] for r in chosen}), "records": len(chosen),
                "labels": dict(Counter(r["label"] for r in stance)),
                "mentioned_by_target": {t: sum(1 for r in stance if r["target"] == t and r["label"] != "not_mentioned") for t in targets},
                "frames": dict(Counter(f for r in framed.values() for f in r["frames"])),
                "adjudicated_changes": sum(bool(r.get("adjudicated")) for r in stance),
            }
    report["counts"] = counts
    report["annotators"] = dict(Counter(r["annotator"] for r in paragraphs if r["target"] == targets[0]))
    report["repeated_annotations_removed"] = {"paragraphs": repeated_p, "articles": repeated_a}
    (args.out / "agreement.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "counts"}, indent=1)[:3000])
    print(json.dumps({k: {"records": v["records"], "labels": v["labels"]} for k, v in counts.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
