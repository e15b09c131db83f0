"""Ctrl-C or SIGTERM during `stance annotate`: one line saying how to go on, whole chunks kept, and
the same command resumes to exactly the output of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_config
from test_kill_resume import build_corpus

pytestmark = [pytest.mark.slow, pytest.mark.model]
CHUNK = 4


def long_corpus(seeds_dir: Path, path: Path, copies: int = 8) -> None:
    """test_kill_resume's corpus, `copies` times over with distinct texts (none copied from the cache):
    2,400 paragraphs, so that a fast model is still at work when the signal comes."""
    build_corpus(seeds_dir, path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    out = []
    for copy in range(copies):
        for row in rows:
            text = "\n\n".join(f"Copy {copy}. {paragraph}" for paragraph in row["text"].split("\n\n"))
            out.append(json.dumps({**row, "id": f"{row['id']}-{copy}", "text": text}))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def complete_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    data = path.read_bytes().decode("utf-8")
    return data.splitlines()[: data.count("\n")]


def test_ctrl_c_and_sigterm_say_how_to_resume_and_lose_nothing(tmp_path, seeds_dir, tiny_nli_model_dir):
    config = write_config(tmp_path / "tiny.yaml", f"model:\n  backend: nli\n  name: {tiny_nli_model_dir}\n  max_length: 128\n")
    corpus = tmp_path / "corpus.jsonl"
    long_corpus(seeds_dir, corpus)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "stance", "annotate", str(corpus), "--out", str(out), "--config", str(config),
                "--chunk-size", str(CHUNK), "--no-progress"]

    subprocess.run(command(tmp_path / "reference"), check=True, env=env, capture_output=True, timeout=600)
    reference = complete_lines(tmp_path / "reference" / "predictions.jsonl")

    out = tmp_path / "run"
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        before = len(complete_lines(out / "predictions.jsonl"))
        # a shell's background job (nohup ... &, some CI runners) inherits SIGINT ignored, and so would the run:
        # give the child the default disposition, as a terminal's Ctrl-C finds it
        process = subprocess.Popen(command(out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline and len(complete_lines(out / "predictions.jsonl")) < before + 2 * CHUNK:
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == code, stderr
        assert "interrupted: run the same command again to resume" in stderr and "Traceback" not in stderr, stderr
        written = complete_lines(out / "predictions.jsonl")
        assert (out / "predictions.jsonl").read_bytes().endswith(b"\n")  # no partial line
        assert len(written) % CHUNK == 0 and written == reference[: len(written)]

    resumed = subprocess.run(command(out), env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "predictions.jsonl").read_bytes() == (tmp_path / "reference" / "predictions.jsonl").read_bytes()
