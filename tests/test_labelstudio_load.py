"""A smaller version of the 20,000-paragraph load run (benchmarks/labelstudio_load.py): thousands of
tasks pushed and pulled back exactly, and memory that does not grow with the project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from labelstudio_fixture import make_client, read_predictions, unique_title, write_run
from test_labelstudio_reliability import assert_each_paragraph_once, synthetic_run

pytestmark = [pytest.mark.server, pytest.mark.slow]

# A small launcher: wait4 on its child gives the command's own peak RSS (a fork of this test
# process would count pytest's pages until the exec).
_MEASURE = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def stance_peak_mib(args: list[str], env: dict[str, str], tmp_path: Path) -> float:
    """Run `stance ARGS` in its own process; its peak resident memory in MiB."""
    rss = tmp_path / "maxrss"
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(rss), sys.executable, "-m", "stance", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return int(rss.read_text()) / 1024


def test_thousands_of_tasks_round_trip_in_memory_that_does_not_grow_with_them(labelstudio_server, ls_seeds_run, tmp_path):
    seeds = read_predictions(ls_seeds_run)
    env = {**os.environ, "LABEL_STUDIO_URL": labelstudio_server.url, "LABEL_STUDIO_API_KEY": labelstudio_server.api_key}
    client = make_client(labelstudio_server)
    peaks = {}
    for copies in (10, 100):  # 440 and 4,400 paragraphs
        records = synthetic_run(seeds, copies)
        run = write_run(tmp_path / f"run{copies}", records)
        title = unique_title(f"load{copies}")
        push_mib = stance_peak_mib(["push", str(run), "--project", title, "--no-progress"], env, tmp_path)
        project_id = client.find_projects(title)[0]["id"]
        assert_each_paragraph_once(client, project_id, records)
        client.annotations_from_predictions(project_id, records[0]["model_version"])  # everyone accepts the model's labels
        out = tmp_path / f"reviewed{copies}.jsonl"
        pull_mib = stance_peak_mib(["pull", "--project", title, "--out", str(out)], env, tmp_path)
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(lines) == 3 * len(records) and {r["id"] for r in lines} == {r["id"] for r in records}
        assert all(r["label"] == r["model_label"] for r in lines)
        peaks[copies] = (push_mib, pull_mib)
    # ten times the tasks: the processes may grow by a little bookkeeping, not by the tasks' contents
    # (before pull streamed its export it needed about 22 KiB more per task: some 85 MiB here)
    print(f"peak RSS MiB (push, pull): 440 paragraphs {peaks[10]}, 4,400 paragraphs {peaks[100]}")
    assert peaks[100][0] - peaks[10][0] < 40, peaks
    assert peaks[100][1] - peaks[10][1] < 40, peaks
