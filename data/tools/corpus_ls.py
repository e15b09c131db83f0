#!/usr/bin/env python
"""How the team's corpus was annotated through Label Studio: the annotators' side of the loop.

The paragraphs were pre-annotated (`stance annotate`) and pushed (`stance push`) like any run;
annotators then worked on the project's tasks through Label Studio's API, as a person does in
the labelling screen, and `stance pull` brought their labels back. This tool is the annotators'
screen for scripted annotators: `fetch` lists the tasks of a set of documents WITHOUT the model's
pre-labels (corpus annotators label from scratch, see data/GUIDELINE.md section 6), `submit`
saves one annotation per task as a named Label Studio user, checking every label against the
config first. `users` creates the annotators' accounts; `articles` writes the article-level
inputs (one task per article).

    export LABEL_STUDIO_URL=... LABEL_STUDIO_API_KEY=...
    python data/tools/corpus_ls.py users annotator-a@corpus.example annotator-b@corpus.example
    python data/tools/corpus_ls.py fetch --project stance-corpus --docs syn-w1-001,syn-w1-002 --out tasks.jsonl
    python data/tools/corpus_ls.py submit --project stance-corpus --user annotator-a@corpus.example --labels labels.jsonl

A labels line: {"task_id": 17, "stance": {"China": "neutral", ...every target...}, "frames": ["Political"], "seconds": 40}.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "configs" / "corpus.yaml"


def _client(config_path: Path):  # noqa: ANN202 - a script
    from stance.config import load_config
    from stance.labelstudio.client import LabelStudioClient

    config = load_config(config_path)
    return config, LabelStudioClient.from_settings(config.labelstudio)


def _project(client, title: str) -> dict:  # noqa: ANN001
    found = client.find_projects(title)
    if len(found) != 1:
        raise SystemExit(f"expected one project called {title!r} at {client.url}, found {len(found)}")
    return found[0]


def cmd_users(args: argparse.Namespace) -> None:
    _, client = _client(args.config)
    existing = {email: uid for uid, email in client.users().items()}
    for email in args.emails:
        uid = existing.get(email) or client.create_user(email, secrets.token_urlsafe(12))
        print(f"{email}\t{uid}")


def cmd_fetch(args: argparse.Namespace) -> None:
    _, client = _client(args.config)
    project = _project(client, args.project)
    wanted = set(args.docs.split(",")) if args.docs else None
    rows = []
    for task in client.export_tasks(project["id"], with_annotations_only=False):
        data = task.get("data") or {}
        if wanted is not None and data.get("doc_id") not in wanted:
            continue
        done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        rows.append({
            "task_id": task["id"], "para_id": data.get("para_id"), "doc_id": data.get("doc_id"), "index": data.get("index"),
            "title": data.get("title"), "source": data.get("source"), "date": data.get("date"),
            "before": data.get("before"), "text": data.get("text"), "after": data.get("after"),
            "annotated_by": sorted({_email(a.get("completed_by")) for a in done}),
        })
    rows.sort(key=lambda r: (str(r["doc_id"]), r["index"] if isinstance(r["index"], int) else 0))
    with Path(args.out).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} tasks of {len({r['doc_id'] for r in rows})} documents to {args.out}")


def cmd_submit(args: argparse.Namespace) -> None:
    from stance.labelstudio.xml import FRAMES_NAME, TEXT_NAME, control_names

    config, client = _client(args.config)
    project = _project(client, args.project)
    users = {email: uid for uid, email in client.users().items()}
    if args.user not in users:
        raise SystemExit(f"no Label Studio user {args.user!r}; create it with `users` first")
    names = control_names(config)
    allowed = set(config.all_label_names)
    frames_allowed = set(config.frame_names)
    residual = {f.name for f in config.frames.items if f.residual}
    tasks = {t.id: t for t in client.list_tasks(project["id"])}
    already = {  # tasks this user has annotated before: a re-run of submit adds nothing twice
        task["id"] for task in client.export_tasks(project["id"], with_annotations_only=True)
        if any(_email(a.get("completed_by")) == args.user for a in task.get("annotations") or [])
    }
    lines = [json.loads(line) for line in Path(args.labels).read_text(encoding="utf-8").splitlines() if line.strip()]
    problems = []
    for n, item in enumerate(lines, start=1):
        where = f"{args.labels}:{n}"
        if item.get("task_id") not in tasks:
            problems.append(f"{where}: task {item.get('task_id')!r} is not in project {args.project!r}")
            continue
        stance = item.get("stance") or {}
        missing = [t.name for t in config.targets if t.name not in stance]
        bad = {t: v for t, v in stance.items() if v not in allowed or t not in names}
        frames = item.get("frames") or []
        bad_frames = [f for f in frames if f not in frames_allowed]
        if missing or bad or bad_frames or not frames or (set(frames) & residual and len(frames) > 1):
            problems.append(f"{where}: missing targets {missing}, bad labels {bad}, bad frames {bad_frames}, frames {frames}")
    if problems:
        raise SystemExit("nothing submitted; fix these lines:\n" + "\n".join(problems[:30]))
    done = 0
    for item in lines:
        task = tasks[item["task_id"]]
        result = [{"from_name": names[t.name], "to_name": TEXT_NAME, "type": "choices", "value": {"choices": [item["stance"][t.name]]}}
                  for t in config.targets]
        result.append({"from_name": FRAMES_NAME, "to_name": TEXT_NAME, "type": "choices",
                       "value": {"choices": [f for f in config.frame_names if f in set(item["frames"])]}})
        if task.id in already:
            continue
        client.create_annotation(task.id, result, completed_by=users[args.user], lead_time=float(item.get("seconds") or 0) or None)
        done += 1
    print(f"submitted {done} annotations as {args.user} to project {args.project!r}")


def _email(completed_by: object) -> str:
    return str(completed_by.get("email")) if isinstance(completed_by, dict) else str(completed_by)


def cmd_articles(args: argparse.Namespace) -> None:
    """Article-level inputs: each article's paragraphs joined by single line breaks, so that the
    article config (ingest.split: blank_line, a large max_chars) keeps it one task."""
    out = Path(args.out)
    count = 0
    with out.open("w", encoding="utf-8") as sink:
        for path in sorted(Path(args.source).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                article = json.loads(line)
                paragraphs = [p.strip() for p in article["text"].split("\n\n") if p.strip()]
                sink.write(json.dumps({**article, "id": article["id"] + "#article", "text": "\n".join(paragraphs)}, ensure_ascii=False) + "\n")
                count += 1
    print(f"wrote {count} article-level inputs to {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    sub = parser.add_subparsers(dest="command", required=True)
    users = sub.add_parser("users", help="create annotator accounts (prints email and id)")
    users.add_argument("emails", nargs="+")
    fetch = sub.add_parser("fetch", help="tasks of some documents, without pre-labels")
    fetch.add_argument("--project", required=True)
    fetch.add_argument("--docs", default=None, help="comma-separated doc_ids (default: every task)")
    fetch.add_argument("--out", required=True)
    submit = sub.add_parser("submit", help="save annotations as a user")
    submit.add_argument("--project", required=True)
    submit.add_argument("--user", required=True)
    submit.add_argument("--labels", required=True)
    articles = sub.add_parser("articles", help="article-level inputs from the paragraph sources")
    articles.add_argument("source")
    articles.add_argument("out")
    args = parser.parse_args(argv)
    {"users": cmd_users, "fetch": cmd_fetch, "submit": cmd_submit, "articles": cmd_articles}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
