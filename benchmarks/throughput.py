"""Throughput of stance's NLI scorer against the transformers zero-shot pipeline: same model, same corpus, one run.

    .venv/bin/python benchmarks/throughput.py [--paragraphs 1000] [--arch deberta-v3-base|bert-base]

(a) the baseline a user would write: `pipeline("zero-shot-classification")` called once per paragraph
and target, the stance hypotheses as candidate labels, the pipeline's default batch size;
(b) `stance annotate`'s NLI scorer: every pair of a chunk tokenized together, sorted by length,
padded per batch under a token cap, `torch.inference_mode()`; without the alias gate (every paragraph x
target, to compare like with like) and with the gate and the exact-duplicate cache (the default).
Both score the same hypotheses with the same model; the check is identical labels and scores within
1e-4. Frames are off on both sides (the pipeline baseline has no frames).

The model has the architecture and size of deberta-v3-base (or bert-base) with random weights and the
bundled MiniLM tokenizer: weights do not change the cost. The corpus is real news text: the seed
articles' paragraphs and NewsMTSC sentences (../shared/data/newsmtsc), shuffled with a fixed seed.
The machine's speed drifts, so the methods are interleaved block by block on the same paragraphs and
a fp32 matmul probe runs before every block; only the ratios of one run mean anything.

Breakdown (on the first --ablation-paragraphs paragraphs): the pipeline with batch_size=8, one forward
per (paragraph, target), one per paragraph with all targets' hypotheses, many paragraphs in fixed
unsorted batches, the scorer; and dynamic int8 quantisation and ONNX Runtime, each with its label
agreement against full precision. The last line reads
`speedup <ratio>x, label agreement <percent>%, <n> paragraphs` (gate and cache on).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "deberta-v3-base": {
        "kind": "deberta-v2",
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "relative_attention": True,
        "position_buckets": 256,
        "max_relative_positions": -1,
        "pos_att_type": ["p2c", "c2p"],
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "position_biased_input": False,
        "type_vocab_size": 0,
        "max_position_embeddings": 512,
    },
    "bert-base": {
        "kind": "bert",
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "max_position_embeddings": 512,
    },
    # small enough to try the script in seconds; not a benchmark
    "tiny": {"kind": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
}
NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


# ----------------------------------------------------------------------------- corpus and model


def build_corpus(n: int, seeds: Path, newsmtsc: Path, config: Any, seed: int = 0) -> list[str]:
    """`n` news paragraphs: every seed paragraph, then NewsMTSC sentences (each distinct text once), shuffled."""
    from stance.fileio import iter_jsonl
    from stance.ingest import ProblemLog, ReadOptions, discover_inputs, iter_paragraphs

    texts = [p.text for p in iter_paragraphs(discover_inputs([seeds]), config.ingest, ReadOptions(), ProblemLog("fail"))]
    seen: set[str] = set()
    for name in ("dev_rw.jsonl", "dev_mt.jsonl", "train.jsonl"):
        path = newsmtsc / name
        if not path.exists():
            raise SystemExit(f"{path} not found: pass --newsmtsc DIR (the folder with NewsMTSC's train/dev_rw/dev_mt.jsonl)")
        for _, record in iter_jsonl(path):
            if len(texts) >= n:
                break
            if record["text"] not in seen:
                seen.add(record["text"])
                texts.append(record["text"])
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} paragraphs available; ask for fewer with --paragraphs")
    texts = texts[:n]
    random.Random(seed).shuffle(texts)
    return texts


def build_model(arch: str, tokenizer: Any) -> Any:
    """A sequence classifier of the named size with random weights (fixed seed) and NLI labels."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, DebertaV2Config, DebertaV2ForSequenceClassification

    spec = dict(ARCHITECTURES[arch])
    kind = spec.pop("kind")
    common = {"vocab_size": len(tokenizer), "num_labels": 3, "id2label": NLI_LABELS, "label2id": {v: k for k, v in NLI_LABELS.items()}}
    torch.manual_seed(0)
    if kind == "deberta-v2":
        model = DebertaV2ForSequenceClassification(DebertaV2Config(**spec, **common))
    else:
        model = BertForSequenceClassification(BertConfig(**spec, **common))
    return model.eval()


def bench_config(config: Any, gate: bool) -> Any:
    """The default config with the NLI backend, frames off, long inputs allowed, and the gate on or off."""
    model = config.model.model_copy(update={"backend": "nli", "max_length": 512})
    frames = config.frames.model_copy(update={"enabled": False})
    gate_settings = config.gate.model_copy(update={"enabled": gate})
    return config.model_copy(update={"model": model, "frames": frames, "gate": gate_settings})


# ----------------------------------------------------------------------------- measuring


def matmul_probe(n: int = 1536, repeats: int = 8) -> float:
    """GFLOP/s of a fp32 n x n matmul on this machine right now."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


class FlopModel:
    """FLOPs of one forward call of shape (batch, length): batch * (a*L + b*L^2) + c, fitted by torch's FlopCounterMode.

    `c` is work that does not depend on the input (DeBERTa projects its relative-position
    embeddings in every layer on every call); `a` and `b` are per-token and attention terms.
    """

    def __init__(self, model: Any) -> None:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        def count(batch: int, length: int) -> float:
            ids = torch.full((batch, length), 1000, dtype=torch.long)
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                model(input_ids=ids, attention_mask=torch.ones_like(ids))
            return float(counter.get_total_flops())

        lengths = (32, 64, 128)
        values = [count(1, length) for length in lengths]
        # solve c + a L + b L^2 = F for the three lengths
        matrix = torch.tensor([[1.0, L, L * L] for L in lengths], dtype=torch.float64)
        self.c, self.a, self.b = torch.linalg.solve(matrix, torch.tensor(values, dtype=torch.float64)).tolist()
        predicted, measured = self(2, 96), count(2, 96)
        self.fit_error = abs(predicted - measured) / measured

    def __call__(self, batch: int, length: int) -> float:
        return batch * (self.a * length + self.b * length * length) + self.c

    def per_pair(self, length: int) -> float:
        """Input-dependent FLOPs of one pair (the constant term belongs to the call, not the pair)."""
        return self.a * length + self.b * length * length


def scorer_flops(scorer: Any, texts: Sequence[str], targets: Sequence[Sequence[Any]], flops: FlopModel) -> tuple[float, float, int]:
    """(FLOPs the scorer's padded batches execute, FLOPs of the pairs themselves, number of batches)."""
    from stance.prompts import stance_hypotheses
    from stance.scoring.batching import length_sorted_batches

    premises, hypotheses = [], []
    for text, text_targets in zip(texts, targets, strict=True):
        for target in text_targets:
            for _, hypothesis in stance_hypotheses(scorer.config, target, scorer.include_not_mentioned):
                premises.append(text)
                hypotheses.append(hypothesis)
    if not premises:
        return 0.0, 0.0, 0
    lengths = [len(ids) for ids in scorer.tokenizer(premises, hypotheses, truncation="only_first", max_length=scorer.max_length)["input_ids"]]
    batches = length_sorted_batches(lengths, scorer.config.model.batch_size, scorer.config.model.max_tokens_per_batch)
    executed = sum(flops(len(batch), max(lengths[i] for i in batch)) for batch in batches)
    useful = sum(flops.per_pair(length) for length in lengths)
    return executed, useful, len(batches)


def seconds_of(value: float) -> str:
    return f"{value:.1f} s"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


# ----------------------------------------------------------------------------- the methods


def pipeline_scores(pipe: Any, config: Any, texts: Sequence[str], batch_size: int | None = None) -> list[dict[str, dict[str, float]]]:
    """The user's loop: one pipeline call per paragraph and target; per target a distribution over stance labels."""
    from stance.prompts import stance_hypotheses

    kwargs = {"batch_size": batch_size} if batch_size else {}
    out = []
    for text in texts:
        per_target = {}
        for target in config.targets:
            pairs = stance_hypotheses(config, target, False)
            label_of = {hypothesis: label for label, hypothesis in pairs}
            result = pipe(text, candidate_labels=[h for _, h in pairs], hypothesis_template="{}", multi_label=False, **kwargs)
            per_target[target.name] = {label_of[h]: s for h, s in zip(result["labels"], result["scores"], strict=True)}
        out.append(per_target)
    return out


def scorer_scores(scorer: Any, texts: Sequence[str], targets: Sequence[Sequence[Any]]) -> list[dict[str, dict[str, float]]]:
    return [s.stance for s in scorer.score(texts, targets)]


def gated_cached_scores(scorer: Any, gate: Any, texts: Sequence[str], cache: dict[str, dict] | None) -> list[dict[str, dict[str, float]]]:
    """What `stance annotate` does: score each distinct text once, only toward the targets it mentions."""
    fresh: dict[str, list[Any]] = {}
    for text in texts:
        if (cache is None or text not in cache) and text not in fresh:
            fresh[text] = gate.mentioned(text)
    scored = dict(zip(fresh, scorer_scores(scorer, list(fresh), list(fresh.values())), strict=True))
    if cache is not None:
        cache.update(scored)
        return [cache[text] for text in texts]
    return [scored[text] for text in texts]


def per_call_scores(scorer: Any, texts: Sequence[str], targets: Sequence[Any], per_target: bool) -> list[dict[str, dict[str, float]]]:
    """The scorer called once per (paragraph, target), or once per paragraph with all its targets."""
    out = []
    for text in texts:
        if per_target:
            merged: dict[str, dict[str, float]] = {}
            for target in targets:
                merged.update(scorer_scores(scorer, [text], [[target]])[0])
            out.append(merged)
        else:
            out.append(scorer_scores(scorer, [text], [targets])[0])
    return out


def unsorted_scores(scorer: Any, texts: Sequence[str], targets: Sequence[Any], batch: int) -> list[dict[str, dict[str, float]]]:
    """Many paragraphs per forward, but fixed-size batches in corpus order padded to their longest pair."""
    import torch

    from stance.prompts import stance_hypotheses

    premises, hypotheses, rows = [], [], []
    for text in texts:
        for target in targets:
            for label, hypothesis in stance_hypotheses(scorer.config, target, False):
                rows.append((len(premises), target.name, label))
                premises.append(text)
                hypotheses.append(hypothesis)
    logits = []
    with torch.inference_mode():
        for start in range(0, len(premises), batch):
            encoded = scorer.tokenizer(
                premises[start : start + batch], hypotheses[start : start + batch],
                truncation="only_first", max_length=scorer.max_length, padding=True, return_tensors="pt",
            )
            logits.append(scorer.model(**encoded).logits.float())
    entail = torch.cat(logits)[:, scorer.entailment_id]
    out: list[dict[str, dict[str, float]]] = []
    per_text = len(targets) * len(scorer.config.labels)
    for t in range(len(texts)):
        block = rows[t * per_text : (t + 1) * per_text]
        stance: dict[str, dict[str, float]] = {}
        for target in targets:
            picked = [(i, label) for i, name, label in block if name == target.name]
            probs = torch.softmax(entail[[i for i, _ in picked]].double(), dim=0).tolist()
            stance[target.name] = {label: p for (_, label), p in zip(picked, probs, strict=True)}
        out.append(stance)
    return out


class OnnxModel:
    """An ONNX Runtime session that answers like a transformers classifier (`model(**batch).logits`)."""

    def __init__(self, model: Any, path: Path, threads: int) -> None:
        import onnxruntime
        import torch

        ids = torch.full((2, 16), 1000, dtype=torch.long)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        inputs = (ids, torch.ones_like(ids), torch.zeros_like(ids))
        axes = {name: {0: "batch", 1: "length"} for name in names}
        torch.onnx.export(
            model, inputs, str(path), input_names=names, output_names=["logits"], dynamic_axes=axes, dynamo=False, opset_version=17
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        path.unlink()  # the session holds the model; do not leave hundreds of MB in the temp folder
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.config = model.config

    def to(self, device: Any) -> OnnxModel:
        return self

    def eval(self) -> OnnxModel:
        return self

    def __call__(self, **batch: Any) -> Any:
        import torch

        feed = {k: v.cpu().numpy() for k, v in batch.items() if k in self.inputs}
        return _Logits(torch.from_numpy(self.session.run(["logits"], feed)[0]))


class _Logits:
    def __init__(self, logits: Any) -> None:
        self.logits = logits


# ----------------------------------------------------------------------------- comparing


def compare(reference: Sequence[dict], other: Sequence[dict]) -> tuple[int, int, float]:
    """(pairs compared, pairs with the same top label, largest score difference) over the pairs both scored."""
    pairs = agree = 0
    worst = 0.0
    for ref, mine in zip(reference, other, strict=True):
        for target, scores in mine.items():
            if target not in ref:
                continue
            pairs += 1
            agree += max(scores, key=scores.__getitem__) == max(ref[target], key=ref[target].__getitem__)
            worst = max(worst, max(abs(scores[label] - ref[target][label]) for label in scores))
    return pairs, agree, worst


def pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 100.0


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=1000, help="corpus size (default 1000)")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="deberta-v3-base", help="model size (random weights)")
    parser.add_argument("--block", type=int, default=250, help="paragraphs per interleaved block (default 250)")
    parser.add_argument("--sample-every", type=int, default=1, metavar="K",
                        help="run the pipeline and the ungated scorer on every K-th paragraph only (default 1: all); the gated"
                             " scorer always runs on all. Rates are per paragraph, so the ratio stays like for like")
    parser.add_argument("--ablation-paragraphs", type=int, default=100, help="paragraphs for the breakdown (default 100)")
    parser.add_argument("--no-optional", action="store_true", help="skip int8 and ONNX Runtime")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds", help="folder of seed articles")
    parser.add_argument("--newsmtsc", type=Path, default=ROOT.parent / "shared" / "data" / "newsmtsc", help="NewsMTSC folder")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)

    import platform

    import torch
    import transformers
    from transformers import AutoTokenizer, pipeline

    from stance.config import load_config
    from stance.mentions import MentionGate
    from stance.scoring.loading import resolve_model_source
    from stance.scoring.nli import NLIScorer

    transformers.logging.set_verbosity_error()
    base = load_config(ROOT / "configs" / "default.yaml")
    config, gated_config = bench_config(base, gate=False), bench_config(base, gate=True)
    texts = build_corpus(args.paragraphs, args.seeds, args.newsmtsc, base)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_source("bundled:all-MiniLM-L6-v2"))
    model = build_model(args.arch, tokenizer)
    name = f"random-{args.arch}"
    scorer = NLIScorer(config, name, tokenizer=tokenizer, model=model)
    scorer.include_not_mentioned = False  # exactly the pipeline's candidate labels, for every target
    gated = NLIScorer(gated_config, name, tokenizer=tokenizer, model=model)
    gate = MentionGate(config.targets)
    pipe = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=-1)
    targets = list(config.targets)
    flops = FlopModel(model)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {args.arch}-sized, random weights, {params / 1e6:.0f}M parameters; torch {torch.__version__}, transformers {transformers.__version__},"
          f" {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"corpus: {len(texts)} paragraphs ({len(set(texts))} distinct), {statistics.mean(map(len, texts)):.0f} chars on average;"
          f" {len(targets)} targets x {len(config.labels)} hypotheses")
    print(f"FLOPs per forward call: {flops.a / 1e6:.0f} MFLOP per token + {flops.b / 1e3:.0f} kFLOP per token^2 + {flops.c / 1e9:.1f} GFLOP constant"
          f" (fit error {flops.fit_error:.1e})")

    # warm up both paths once
    pipeline_scores(pipe, config, texts[:2])
    scorer_scores(scorer, texts[:2], [targets] * 2)

    every = max(1, args.sample_every)
    sampled = list(range(0, len(texts), every))
    base_rows: list[dict] = []
    base_seconds: list[float] = []  # per sampled paragraph, to sum over any subset
    probes: list[float] = []
    totals = {"scorer": 0.0, "gated": 0.0, "gated_cached": 0.0}
    rows = {"scorer": [], "gated": [], "gated_cached": []}
    executed = useful = 0.0
    cache: dict[str, dict] = {}
    blocks = [texts[i : i + args.block] for i in range(0, len(texts), args.block)]
    for number, block in enumerate(blocks, 1):
        probes.append(matmul_probe())
        first = (number - 1) * args.block
        part = [texts[i] for i in sampled if first <= i < first + len(block)]
        started = time.perf_counter()
        for text in part:
            t0 = time.perf_counter()
            base_rows.extend(pipeline_scores(pipe, config, [text]))
            base_seconds.append(time.perf_counter() - t0)
        baseline_block = time.perf_counter() - started
        result, seconds = timed(lambda part=part: scorer_scores(scorer, part, [targets] * len(part)))
        rows["scorer"] += result
        totals["scorer"] += seconds
        e, u, _ = scorer_flops(scorer, part, [targets] * len(part), flops)
        executed, useful = executed + e, useful + u
        result, seconds = timed(lambda block=block: gated_cached_scores(gated, gate, block, None))
        rows["gated"] += result
        totals["gated"] += seconds
        result, seconds = timed(lambda block=block: gated_cached_scores(gated, gate, block, cache))
        rows["gated_cached"] += result
        totals["gated_cached"] += seconds
        print(f"block {number}/{len(blocks)}: {len(block)} paragraphs ({len(part)} for the pipeline), matmul probe {probes[-1]:.0f} GFLOP/s,"
              f" pipeline {baseline_block:.1f} s, ungated scorer {seconds_of(totals['scorer'])}, gated {seconds_of(totals['gated_cached'])} so far", flush=True)
    probes.append(matmul_probe())
    n, m = len(texts), len(sampled)
    baseline_total = sum(base_seconds) * n / m  # the whole corpus at the sampled paragraphs' rate
    achieved = executed / totals["scorer"] / 1e9  # on the sample, where the FLOPs were counted
    totals["scorer"] *= n / m

    def rate(seconds: float, count: int = n) -> float:
        return count / seconds if seconds else float("inf")

    def at_sample(key: str) -> list[dict]:
        return [rows[key][i] for i in sampled]

    pairs, agree, worst = compare(base_rows, rows["scorer"])
    peak = max(probes)
    mentioned_pairs = sum(len(gate.mentioned(t)) for t in texts)
    none_share = pct(sum(1 for t in texts if not gate.mentioned(t)), n)
    figures: dict[str, Any] = {
        "arch": args.arch, "paragraphs": n, "distinct": len(set(texts)), "threads": torch.get_num_threads(),
        "matmul_probe_gflops": [round(p, 1) for p in probes],
        "flops_per_paragraph": useful / m, "sample_every": every, "sampled_paragraphs": m,
        "pipeline": {"seconds": baseline_total, "paragraphs_per_second": rate(baseline_total)},
        "scorer_no_gate": {"seconds": totals["scorer"], "paragraphs_per_second": rate(totals["scorer"]), "pairs": pairs,
                           "label_agreement": pct(agree, pairs), "max_score_difference": worst,
                           "executed_gflops": achieved, "share_of_peak": achieved / peak, "padding_overhead": executed / useful - 1},
    }
    print()
    if every > 1:
        print(f"the pipeline and the ungated scorer ran on one paragraph in {every} ({m} of {n}); their rates are per paragraph of that sample")
    print(f"FLOPs per paragraph ({len(targets) * len(config.labels)} pairs): {useful / m / 1e9:.1f} GFLOP;"
          f" fp32 matmul probe: max {peak:.0f}, median {statistics.median(probes):.0f} GFLOP/s over {len(probes)} probes")
    print(f"pipeline, batch size default (1), one call per paragraph x target: {rate(baseline_total):6.3f} paragraphs/s")
    print(f"stance nli scorer, no gate, no cache:                          {rate(totals['scorer']):6.3f} paragraphs/s"
          f"  = {baseline_total / totals['scorer']:.2f}x; {achieved:.0f} GFLOP/s = {achieved / peak:.0%} of the peak probe"
          f" ({executed / useful - 1:.1%} of it padding)")
    print(f"  check: {pairs} (paragraph, target) pairs, label agreement {pct(agree, pairs):.2f}%, max |score difference| {worst:.1e}"
          f" ({'within' if worst <= 1e-4 else 'NOT within'} 1e-4)")
    for key, title in (("gated", "+ alias gate"), ("gated_cached", "+ alias gate + duplicate cache (default)")):
        p, a, w = compare(base_rows, at_sample(key))
        figures[key] = {"seconds": totals[key], "paragraphs_per_second": rate(totals[key]), "pairs": p, "label_agreement": pct(a, p), "max_score_difference": w}
        print(f"stance nli scorer {title:<41} {rate(totals[key]):6.3f} paragraphs/s  = {baseline_total / totals[key]:.2f}x;"
              f" agreement {pct(a, p):.2f}% over the {p} pairs it scores")
    figures["gate"] = {"mentioned_pair_share": pct(mentioned_pairs, n * len(targets)), "no_target_paragraph_share": none_share}
    print(f"  the gate scores {pct(mentioned_pairs, n * len(targets)):.1f}% of (paragraph, target) pairs; {none_share:.1f}% of the paragraphs"
          f" mention none of the targets; exact duplicates: {n - len(set(texts))} of {n} paragraphs")

    figures["breakdown"] = breakdown(args, [texts[i] for i in sampled], pipe, config, scorer, targets, base_rows, base_seconds, model, tokenizer, name)
    figures["ratio"] = baseline_total / totals["gated_cached"]
    p, a, _ = compare(base_rows, at_sample("gated_cached"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"speedup {baseline_total / totals['gated_cached']:.2f}x, label agreement {pct(a, p):.2f}%, {n} paragraphs")
    return 0


def breakdown(args: Any, texts: list[str], pipe: Any, config: Any, scorer: Any, targets: list, base_rows: list, base_seconds: list,
              model: Any, tokenizer: Any, name: str) -> dict[str, Any]:
    """Where the gain comes from, on the first --ablation-paragraphs paragraphs (interleaved, same run)."""
    import torch

    from stance.scoring.nli import NLIScorer

    sample = texts[: args.ablation_paragraphs]
    k = len(sample)
    reference = base_rows[:k]
    baseline = sum(base_seconds[:k])
    print(f"\nbreakdown on the first {k} paragraphs (pipeline, batch size 1: {k / baseline:.3f} paragraphs/s)")
    methods: list[tuple[str, Callable[[], list]]] = [
        ("pipeline, batch_size=8", lambda: pipeline_scores(pipe, config, sample, batch_size=8)),
        ("scorer, one forward per paragraph x target", lambda: per_call_scores(scorer, sample, targets, per_target=True)),
        ("scorer, one forward per paragraph (all targets)", lambda: per_call_scores(scorer, sample, targets, per_target=False)),
        ("scorer, fixed batches of 64 pairs, unsorted", lambda: unsorted_scores(scorer, sample, targets, 64)),
        ("scorer, length-sorted, token-capped (stance)", lambda: scorer_scores(scorer, sample, [targets] * k)),
    ]
    results: dict[str, Any] = {"paragraphs": k, "pipeline_seconds": baseline}
    for title, fn in methods:
        out, seconds = timed(fn)
        pairs, agree, worst = compare(reference, out)
        results[title] = {"seconds": seconds, "speedup": baseline / seconds, "label_agreement": pct(agree, pairs), "max_score_difference": worst}
        print(f"  {title:<50} {k / seconds:6.3f} paragraphs/s = {baseline / seconds:5.2f}x the pipeline;"
              f" agreement {pct(agree, pairs):.2f}%, max |diff| {worst:.1e}", flush=True)
    if args.no_optional:
        return results
    fp32 = scorer_scores(scorer, sample, [targets] * k)
    optional: list[tuple[str, Callable[[], Any]]] = [
        ("dynamic int8 (torch, nn.Linear)", lambda: torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)),
        ("ONNX Runtime (fp32)", lambda: _onnx_model(model)),
    ]
    for title, make in optional:
        try:
            with warnings.catch_warnings():  # the exporters' and quantiser's deprecation notes are not results
                warnings.simplefilter("ignore")
                fast_model = make()
        except Exception as exc:  # report why an optional path is unavailable, then go on with the others
            print(f"  {title:<50} unavailable: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            results[title] = {"unavailable": f"{type(exc).__name__}: {exc}"}
            continue
        fast = NLIScorer(scorer.config, name, tokenizer=tokenizer, model=fast_model)
        fast.include_not_mentioned = False
        scorer_scores(fast, sample[:2], [targets] * 2)
        out, seconds = timed(lambda fast=fast: scorer_scores(fast, sample, [targets] * k))
        _, reference_seconds = timed(lambda: scorer_scores(scorer, sample, [targets] * k))
        pairs, agree, worst = compare(fp32, out)
        results[title] = {"seconds": seconds, "vs_fp32_scorer": reference_seconds / seconds, "label_agreement_with_fp32": pct(agree, pairs),
                          "max_score_difference": worst}
        verdict = "keeps" if pct(agree, pairs) >= 99 else "does NOT keep"
        print(f"  {title:<50} {k / seconds:6.3f} paragraphs/s = {reference_seconds / seconds:5.2f}x the fp32 scorer;"
              f" agreement with fp32 {pct(agree, pairs):.2f}% ({verdict} 99%), max |diff| {worst:.1e}", flush=True)
    return results


def _onnx_model(model: Any) -> OnnxModel:
    import torch

    with tempfile.TemporaryDirectory(prefix="stance-onnx-") as directory:
        return OnnxModel(model, Path(directory) / "model.onnx", torch.get_num_threads())


if __name__ == "__main__":
    sys.exit(main())
