"""`stance annotate` killed with SIGKILL at many random points, resumed each time, ends with exactly
the output of an uninterrupted run: no paragraph missing, none twice, no partial line."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.model]

KILLS = 20
CHUNK = 4


def build_corpus(seeds_dir: Path, path: Path) -> int:
    """A few hundred paragraphs: seed paragraphs recombined into articles, some repeated word for word."""
    paragraphs = []
    for seed in sorted(seeds_dir.glob("*.txt")):
        paragraphs += [p.strip() for p in seed.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 40]
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as handle:
        for doc in range(60):
            chosen = rng.sample(paragraphs, 5)
            if doc % 3:  # two of three articles get a unique first paragraph
                chosen[0] = f"Report {doc}: officials in Moscow, Beijing and Washington commented on day {doc}."
            handle.write(json.dumps({"id": f"article-{doc}", "text": "\n\n".join(chosen), "date": f"2024-01-{doc % 28 + 1:02d}"}) + "\n")
    return 60 * 5


def annotate_command(corpus: Path, out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "stance", "annotate", str(corpus), "--out", str(out), "--config", str(config),
            "--chunk-size", str(CHUNK), "--no-progress"]


def complete_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    data = path.read_bytes().decode("utf-8")
    return data.splitlines()[: data.count("\n")]


def test_sigkill_at_random_points_then_resume_equals_uninterrupted(tmp_path, seeds_dir, tiny_nli_model_dir):
    from conftest import write_config

    config = write_config(tmp_path / "tiny.yaml", f"model:\n  backend: nli\n  name: {tiny_nli_model_dir}\n  max_length: 128\n")
    corpus = tmp_path / "corpus.jsonl"
    build_corpus(seeds_dir, corpus)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    started = time.monotonic()
    subprocess.run(annotate_command(corpus, tmp_path / "reference", config), check=True, env=env, capture_output=True, timeout=600)
    reference_seconds = time.monotonic() - started
    reference = complete_lines(tmp_path / "reference" / "predictions.jsonl")
    assert len(reference) >= 300  # long paragraphs add sentence windows

    out = tmp_path / "killed"
    rng = random.Random(2026)
    kills_while_writing = 0
    for attempt in range(KILLS):
        done = len(complete_lines(out / "predictions.jsonl"))
        process = subprocess.Popen(annotate_command(corpus, out, config), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt % 5 == 4:
            time.sleep(rng.uniform(0.1, 2.0))  # some kills during start-up, before any new line
        else:
            # most kills at a random point of the output: a random number of lines further on
            target = min(done + rng.randint(1, 3 * CHUNK), len(reference) - 1)
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if len(complete_lines(out / "predictions.jsonl")) >= target:
                    break
                time.sleep(0.002)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        lines = complete_lines(out / "predictions.jsonl")
        # whatever survived a kill is a prefix of the reference: nothing twice, nothing out of order
        assert lines == reference[: len(lines)]
        kills_while_writing += 0 < len(lines) < len(reference)
    assert kills_while_writing >= KILLS // 2, "too few kills landed while predictions were being written"

    subprocess.run(annotate_command(corpus, out, config), check=True, env=env, capture_output=True, timeout=600)
    assert (out / "predictions.jsonl").read_bytes() == (tmp_path / "reference" / "predictions.jsonl").read_bytes()
    assert (out / "predictions.csv").read_bytes() == (tmp_path / "reference" / "predictions.csv").read_bytes()
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "complete" and run["counts"]["paragraphs"] == len(reference)
    assert run["label_distribution"] == json.loads((tmp_path / "reference" / "run.json").read_text(encoding="utf-8"))["label_distribution"]
    print(f"{KILLS} SIGKILLs, {kills_while_writing} mid-run; reference run {reference_seconds:.1f} s; 0 records lost or duplicated")
