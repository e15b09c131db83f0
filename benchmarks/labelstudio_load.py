"""Push N paragraphs to a local Label Studio, accept every prediction, pull them back: time and peak memory.

    .venv/bin/python benchmarks/labelstudio_load.py --paragraphs 20000

Starts its own server on 127.0.0.1 with a throwaway data dir (or uses $LABEL_STUDIO_URL and
$LABEL_STUDIO_API_KEY with --external). The paragraphs are copies of the seeds' predictions
(annotated once with the default model), each with its own document and id. `stance push` and
`stance pull` run as separate processes, exactly as a user runs them; their peak RSS is read
from the kernel (wait4). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_records(seed_records: list[dict], n: int) -> list[dict]:
    out = []
    k = 0
    while len(out) < n:
        for record in seed_records:
            if len(out) == n:
                break
            record = json.loads(json.dumps(record))
            record["doc_id"] = f"{record['doc_id']}-copy{k}"
            record["id"] = f"{record['doc_id']}:{record['index']}:{k:08x}"
            record["text"] = f"{record['text']} [{k}]"
            out.append(record)
        k += 1
    return out


# A small launcher process: its child's peak RSS (wait4) is the command's own, not inflated by the
# pages of this benchmark process (which holds a model) that a direct fork would count before exec.
_MEASURE = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(command: list[str], env: dict[str, str], work: Path) -> dict:
    """Run a command; wall seconds, peak RSS (MiB) and the last lines of its output."""
    rss_file = work / "maxrss.txt"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(rss_file), *command], env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    peak_kib = int(rss_file.read_text())
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(peak_kib / 1024, 1), "output": done.stdout.strip().splitlines()[-6:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=5000)
    parser.add_argument("--external", action="store_true", help="use $LABEL_STUDIO_URL / $LABEL_STUDIO_API_KEY")
    parser.add_argument("--work", type=Path, default=None, help="folder for the run and the export (default: a temp dir)")
    args = parser.parse_args()

    from stance.annotate import annotate_corpus
    from stance.config import load_config
    from stance.labelstudio.client import Credentials, LabelStudioClient
    from stance.labelstudio.server import start_server

    work = args.work or Path(tempfile.mkdtemp(prefix="ls-load-"))
    config = load_config()
    seeds_run = work / "seeds"
    if not (seeds_run / "predictions.jsonl").exists():
        annotate_corpus([ROOT / "seeds"], seeds_run, config, progress=False)
    seed_records = [json.loads(line) for line in (seeds_run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    run = work / f"run-{args.paragraphs}"
    run.mkdir(parents=True, exist_ok=True)
    with (run / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for record in synthetic_records(seed_records, args.paragraphs):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    (run / "run.json").write_text(json.dumps({"status": "complete"}), encoding="utf-8")

    server = None
    if args.external:
        url, key = os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"]
    else:
        started = time.monotonic()
        server = start_server()
        print(f"server ready in {time.monotonic() - started:.0f} s at {server.url}", file=sys.stderr)
        url, key = server.url, server.api_key
    try:
        env = {**os.environ, "LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": key}
        title = f"load-{args.paragraphs}-{int(time.time())}"
        stance = [sys.executable, "-m", "stance"]
        push = run_measured([*stance, "push", str(run), "--project", title, "--no-progress"], env, work)
        again = run_measured([*stance, "push", str(run), "--project", title, "--no-progress"], env, work)
        client = LabelStudioClient(Credentials(url, key, "benchmark"))
        project = client.find_projects(title)[0]
        started = time.monotonic()
        client.annotations_from_predictions(project["id"], seed_records[0]["model_version"])
        accept_seconds = time.monotonic() - started
        out = work / f"reviewed-{args.paragraphs}.jsonl"
        out.unlink(missing_ok=True)
        out.with_name(out.stem + ".summary.json").unlink(missing_ok=True)
        pull = run_measured([*stance, "pull", "--project", title, "--out", str(out)], env, work)
        tasks = client.list_tasks(project["id"])
        records = sum(1 for _ in out.open(encoding="utf-8"))
        result = {
            "paragraphs": args.paragraphs,
            "tasks_in_project": len(tasks),
            "distinct_paragraphs": len({t.para_id for t in tasks}),
            "push": push,
            "push_again_nothing_new": again,
            "accept_all_predictions_seconds": round(accept_seconds, 1),
            "pull": pull,
            "pulled_records": records,
            "expected_records": args.paragraphs * len(config.targets),
        }
        print(json.dumps(result, indent=2))
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
