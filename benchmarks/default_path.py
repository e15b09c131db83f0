#!/usr/bin/env python
"""The default path against what a user would write with the same weights.

    .venv/bin/python benchmarks/default_path.py --newsmtsc ../shared/data/newsmtsc [--paragraphs 1500] [--rounds 2] [--runtimes]
        [--one-pass MODEL_DIR]

Corpus: mention-heavy real news: NewsMTSC sentences that name a configured target (China,
Russia, the United States by the default config's aliases) and the seed paragraphs, shuffled with a
fixed seed, as one .jsonl input (one sentence or paragraph per article).

Methods, on the same merged weights of the default model:
- the user's loop: `transformers.pipeline("text-classification")` on the classifier saved as a
  plain Hugging Face model directory, one call per (paragraph, mentioned target) with the same
  input (target name, paragraph with the target's mentions marked), mentions found by the same
  gate; frames the obvious way: the frame encoder as `pipeline("feature-extraction")`, one call per
  paragraph, mean pooling, then a frame head on it (the default's, or, when the default's head reads
  the stance pass, minilm-news-v2's: the same stance adapter with a head on the sentence encoder).
- `stance annotate`: the whole run (`annotate_corpus`: reading, the gate, scoring, writing) in
  this process, and its scoring alone (the `Annotator` on the paragraphs).
Rounds interleave the methods, each round after a fp32 matmul probe (this machine's speed drifts).
Reports paragraphs/s for the whole run (model load included for both: each builds its models from
disk) and for scoring alone, FLOPs per paragraph (FlopCounterMode on the real batches) and the
share of the probe's highest reading, and the label agreement (stance labels per (paragraph,
target), frame sets per paragraph).
With --one-pass DIR: a one-pass model (`stance train --one-pass`) runs the same corpus in the same
rounds (whole run and scoring), with its FLOPs per paragraph and its label agreement with the default.
With --runtimes: `model.runtime: onnx` and `model.quantize: int8` against fp32 torch: speed, label
agreement, NewsMTSC dev_rw macro-F1 of each.
The last line: `speedup <r>x, label agreement <p>%, <n> paragraphs`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
USER_FRAMES_MODEL = "shipped:minilm-news-v2"


def matmul_probe(n: int = 1536, repeats: int = 8) -> float:
    """GFLOP/s of a fp32 n x n matmul on this machine right now."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def build_corpus(n: int, newsmtsc: Path, config: Any, seed: int = 0) -> list[dict]:
    """Mention-heavy news: NewsMTSC sentences that name a configured target, and the seed paragraphs."""
    from stance.ingest import ProblemLog, ReadOptions, discover_inputs, iter_paragraphs
    from stance.scoring.targeted import gate_for

    gate = gate_for(config, config.targets)
    texts = [p.text for p in iter_paragraphs(discover_inputs([ROOT / "seeds"]), config.ingest, ReadOptions(), ProblemLog())]
    seen = set(texts)
    for path in ("train.jsonl", "dev_rw.jsonl", "dev_mt.jsonl"):
        for line in (newsmtsc / path).read_text(encoding="utf-8").splitlines():
            text = " ".join(json.loads(line)["text"].split())
            if text not in seen and gate.mentioned(text):
                seen.add(text)
                texts.append(text)
    random.Random(seed).shuffle(texts)
    return [{"id": f"bench-{i}", "text": t} for i, t in enumerate(texts[:n])]


class UserLoop:
    """What a user would write: transformers pipelines, one call per (paragraph, target) and per paragraph."""

    def __init__(self, classifier_dir: Path, config: Any, frame_scorer: Any) -> None:
        from transformers import pipeline

        from stance.scoring.loading import resolve_model_source
        from stance.scoring.targeted import gate_for

        self.config = config
        self.gate = gate_for(config, config.targets)
        self.stance = pipeline("text-classification", model=str(classifier_dir), tokenizer=str(classifier_dir), top_k=None, device="cpu")
        encoder = getattr(frame_scorer, "encoder_name", config.frames.encoder)
        source = resolve_model_source(encoder)
        self.features = pipeline("feature-extraction", model=source, tokenizer=source, device="cpu")
        self.frame_scorer = frame_scorer

    def run(self, texts: list[str]) -> tuple[list[dict[str, str]], list[list[str]]]:
        import torch

        from stance.scoring.targeted import mark_mentions

        labels: list[dict[str, str]] = []
        frames: list[list[str]] = []
        for text in texts:
            row = {}
            for target in self.config.targets:
                spans = self.gate.spans(text, target)
                if not spans:
                    row[target.name] = self.config.not_mentioned.name
                    continue
                scores = self.stance({"text": target.name, "text_pair": mark_mentions(text, spans)}, truncation="only_second", max_length=256)
                row[target.name] = max(scores, key=lambda s: s["score"])["label"]
            labels.append(row)
            hidden = torch.tensor(self.features(text, truncation=True, max_length=256)[0])
            vector = torch.nn.functional.normalize(hidden.mean(dim=0, keepdim=True), dim=-1)
            frames.append(self.frame_scorer.decide(vector))
        return labels, frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--newsmtsc", type=Path, required=True)
    parser.add_argument("--paragraphs", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runtimes", action="store_true", help="also ONNX Runtime and dynamic int8 against fp32")
    parser.add_argument("--one-pass", type=Path, default=None, help="a one-pass model directory to run beside the default")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    from stance.annotate import annotate_corpus
    from stance.annotator import Annotator
    from stance.config import load_config
    from stance.records import Paragraph
    from stance.scoring import build_scorer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    config = load_config(None)
    corpus = build_corpus(args.paragraphs, args.newsmtsc, config)
    texts = [r["text"] for r in corpus]
    paragraphs = [Paragraph(id=r["id"], doc_id=r["id"], index=0, text=r["text"], start=0, end=len(r["text"])) for r in corpus]
    print(f"corpus: {len(texts)} paragraphs, {sum(map(len, texts)) / len(texts):.0f} characters on average", file=sys.stderr)
    results: dict[str, list[float]] = {"user_whole": [], "user_scoring": [], "stance_whole": [], "stance_scoring": []}
    probes: list[float] = []
    with tempfile.TemporaryDirectory(prefix="stance-default-path-") as scratch:
        scratch_path = Path(scratch)
        (scratch_path / "in").mkdir()
        (scratch_path / "in" / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
        annotator = Annotator(config, build_scorer(config))
        classifier_dir = scratch_path / "merged"
        annotator.scorer.model.save_pretrained(classifier_dir)
        annotator.scorer.tokenizer.save_pretrained(classifier_dir)
        # the user's frames the obvious way: a sentence-encoder pass per paragraph and a frame head on it; the default's own
        # head reads the stance pass, which a pipeline loop does not expose, so the loop uses the same stance adapter's
        # sentence-encoder head (shipped:minilm-news-v2)
        reference = annotator if annotator.frame_scorer is not None else Annotator(config, build_scorer(config, USER_FRAMES_MODEL))
        frame_scorer = _UserFrames(reference)
        one_pass_config = one_pass = None
        if args.one_pass:
            one_pass_config = config.model_copy(update={"model": config.model.model_copy(update={"backend": "finetuned", "name": str(args.one_pass)})})
            one_pass = Annotator(one_pass_config, build_scorer(one_pass_config))
        ours_labels = user_labels = one_pass_labels = None
        for round_no in range(args.rounds):
            probes.append(matmul_probe())
            started = time.perf_counter()
            loop = UserLoop(classifier_dir, config, frame_scorer)
            loaded = time.perf_counter()
            user_labels = loop.run(texts)
            done = time.perf_counter()
            results["user_whole"].append(len(texts) / (done - started))
            results["user_scoring"].append(len(texts) / (done - loaded))
            probes.append(matmul_probe())
            started = time.perf_counter()
            run = annotate_corpus([scratch_path / "in"], scratch_path / f"run{round_no}", config, progress=False)
            results["stance_whole"].append(len(texts) / (time.perf_counter() - started))
            results["stance_scoring"].append(len(texts) / run.scoring_seconds)
            started = time.perf_counter()
            predicted = annotator.predict(paragraphs)
            results.setdefault("stance_scoring_in_memory", []).append(len(texts) / (time.perf_counter() - started))
            ours_labels = ([{t: p.stance[t].label for t in p.stance} for p in predicted], [list(p.frame_labels) for p in predicted])
            if one_pass is not None:
                probes.append(matmul_probe())
                started = time.perf_counter()
                run = annotate_corpus([scratch_path / "in"], scratch_path / f"one-pass{round_no}", one_pass_config, progress=False)
                results.setdefault("one_pass_whole", []).append(len(texts) / (time.perf_counter() - started))
                results.setdefault("one_pass_scoring", []).append(len(texts) / run.scoring_seconds)
                started = time.perf_counter()
                one_pass_predicted = one_pass.predict(paragraphs)
                results.setdefault("one_pass_scoring_in_memory", []).append(len(texts) / (time.perf_counter() - started))
                one_pass_labels = ([{t: p.stance[t].label for t in p.stance} for p in one_pass_predicted],
                                   [list(p.frame_labels) for p in one_pass_predicted])
            print(f"round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results.items()) + " paragraphs/s", file=sys.stderr, flush=True)
        assert ours_labels is not None and user_labels is not None
        pairs = [(a[t], b[t]) for a, b in zip(ours_labels[0], user_labels[0], strict=True) for t in a]
        stance_agreement = sum(x == y for x, y in pairs) / len(pairs)
        frame_agreement = sum(set(a) == set(b) for a, b in zip(ours_labels[1], user_labels[1], strict=True)) / len(texts)
        flops = _flops_per_paragraph(annotator, paragraphs[: min(200, len(paragraphs))])
        runtime_rows = _runtimes(config, paragraphs, args.newsmtsc, predicted) if args.runtimes else []
        one_pass_row = None
        if one_pass is not None and one_pass_labels is not None:
            op_pairs = [(a[t], b[t]) for a, b in zip(ours_labels[0], one_pass_labels[0], strict=True) for t in a]
            one_pass_row = {
                "model": str(args.one_pass), "flops_per_paragraph": _flops_per_paragraph(one_pass, paragraphs[: min(200, len(paragraphs))]),
                "stance_label_agreement_with_default": sum(x == y for x, y in op_pairs) / len(op_pairs),
                "frame_set_agreement_with_default": sum(set(a) == set(b) for a, b in zip(ours_labels[1], one_pass_labels[1], strict=True)) / len(texts),
            }
    median = {k: statistics.median(v) for k, v in results.items()}
    speedup = median["stance_whole"] / median["user_whole"]
    peak = max(probes)
    achieved = flops * median["stance_scoring_in_memory"] / 1e9
    summary = {
        "paragraphs": len(texts), "rates": median, "probes_gflops": probes, "flops_per_paragraph": flops,
        "scoring_gflops": achieved, "share_of_peak_probe": achieved / peak, "stance_label_agreement": stance_agreement,
        "frame_set_agreement": frame_agreement, "speedup_whole": speedup, "speedup_scoring": median["stance_scoring"] / median["user_scoring"],
        "runtimes": runtime_rows,
    }
    if one_pass_row is not None:
        one_pass_row["speedup_whole"] = median["one_pass_whole"] / median["user_whole"]
        one_pass_row["speedup_scoring"] = median["one_pass_scoring"] / median["user_scoring"]
        one_pass_row["scoring_gflops"] = one_pass_row["flops_per_paragraph"] * median["one_pass_scoring_in_memory"] / 1e9
        one_pass_row["share_of_peak_probe"] = one_pass_row["scoring_gflops"] / peak
        summary["one_pass"] = one_pass_row
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if one_pass_row is not None:
        print(f"one-pass: speedup {one_pass_row['speedup_whole']:.2f}x, label agreement with the default"
              f" {100 * one_pass_row['stance_label_agreement_with_default']:.2f}%, {len(texts)} paragraphs")
    print(f"speedup {speedup:.2f}x, label agreement {100 * stance_agreement:.2f}%, {len(texts)} paragraphs")
    return 0


class _UserFrames:
    """The default's frame decision from one paragraph vector (what a user reproduces by hand)."""

    def __init__(self, annotator: Any) -> None:
        self.annotator = annotator
        self.scorer = annotator.frame_scorer
        self.encoder_name = getattr(self.scorer, "encoder_name", None)

    def decide(self, vector: Any) -> list[str]:
        scores = self.scorer.score_frames(["(vector given)"], vectors=vector)[0]
        return self.annotator.frame_labels({k: round(v, 6) for k, v in scores.items()})


def _flops_per_paragraph(annotator: Any, paragraphs: list[Any]) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        annotator.predict(paragraphs)
    return float(counter.get_total_flops()) / len(paragraphs)


def _runtimes(config: Any, paragraphs: list[Any], newsmtsc: Path, reference: list[Any]) -> list[dict]:
    """ONNX Runtime and dynamic int8 against fp32: speed, label agreement, NewsMTSC dev_rw macro-F1."""
    from stance.annotator import Annotator
    from stance.evaluate import evaluate_records
    from stance.labelled import read_labelled
    from stance.scoring import build_scorer

    gold, _ = read_labelled([newsmtsc / "dev_rw.jsonl"], config)
    rows = []
    for runtime, quantize in (("torch", "none"), ("onnx", "none"), ("torch", "int8"), ("onnx", "int8")):
        variant = config.model_copy(update={"model": config.model.model_copy(update={"runtime": runtime, "quantize": quantize})})
        annotator = Annotator(variant, build_scorer(variant))
        annotator.predict(paragraphs[:20])  # export / warm-up
        started = time.perf_counter()
        predicted = annotator.predict(paragraphs)
        rate = len(paragraphs) / (time.perf_counter() - started)
        pairs = [(p.stance[t].label, r.stance[t].label) for p, r in zip(predicted, reference, strict=True) for t in p.stance]
        f1 = evaluate_records("config", gold, variant, progress=False).metrics["model"]["overall"]["macro_f1"]
        rows.append({"runtime": runtime, "quantize": quantize, "paragraphs_per_second": rate,
                     "label_agreement_with_fp32": sum(a == b for a, b in pairs) / len(pairs), "dev_rw_macro_f1": f1})
        print(f"{runtime}/{quantize}: {rate:.1f} paragraphs/s, agreement {rows[-1]['label_agreement_with_fp32']:.4f}, dev_rw {f1:.3f}",
              file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
