"""One real Label Studio server for the whole test session (a fresh data dir starts in 35-80 s).

Registered from conftest.py; the server starts only when a test asks for it, and is stopped
(SIGTERM) at the end of the session.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from conftest import write_config


@pytest.fixture(scope="session")
def labelstudio_server(tmp_path_factory):
    """A started `LocalServer` on 127.0.0.1 with a throwaway data dir, an admin user and a legacy token."""
    from stance.errors import LabelStudioError
    from stance.labelstudio.server import label_studio_binary, start_server

    try:
        label_studio_binary()
    except LabelStudioError as exc:
        pytest.fail(f"{exc} (scripts/test.sh installs it and sets LABEL_STUDIO_BIN)")
    started = time.monotonic()
    server = start_server(tmp_path_factory.mktemp("labelstudio-data"))
    print(f"Label Studio ready at {server.url} in {time.monotonic() - started:.0f} s")
    yield server
    server.stop()


def make_client(server_or_url, api_key: str | None = None, *, timeout: float = 120.0, max_retries: int = 3, backoff: float = 0.2):
    """A client with short back-off (tests need no patience)."""
    from stance.labelstudio.client import LabelStudioClient
    from stance.labelstudio.credentials import Credentials

    url = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    key = api_key if api_key is not None else server_or_url.api_key
    return LabelStudioClient(Credentials(url, key, "test key"), timeout=timeout, max_retries=max_retries, backoff=backoff)


@pytest.fixture()
def ls_client(labelstudio_server):
    return make_client(labelstudio_server)


def unique_title(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def ls_seeds_run(seeds_run) -> Path:
    """The seeds annotated with the default (offline) model: the predictions a user pushes first (the session's seeds run)."""
    return seeds_run[0]


def read_predictions(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]


def typed(record: dict):
    """A prediction record as `read_predictions` gives it (or a test made it), as the `Prediction` push takes."""
    from stance.records import Prediction

    return Prediction.from_json(record, f"test record {record.get('id')!r}")


def write_run(run_dir: Path, records: list[dict]) -> Path:
    """A run directory holding exactly `records` (a hand-made or edited run)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    (run_dir / "run.json").write_text(json.dumps({"status": "complete"}), encoding="utf-8")
    return run_dir


MARKUP_TEXT = 'He said <script>window.__pwned = 1</script> & "quoted" \'single\' <b>bold</b> AT&T <Inc> &amp; done.'
MARKUP_TARGET = "AT&T <Inc>"


def markup_config(tmp_path: Path):
    """A config whose target and frame names hold markup: `AT&T <Inc>`, quotes, `<b>`."""
    from stance.config import load_config

    return load_config(
        write_config(
            tmp_path / "markup.yaml",
            f"targets:\n  - name: {json.dumps(MARKUP_TARGET)}\n    aliases: [AT&T]\n  - name: China\n"
            "frames:\n  items:\n    - name: \"Economic & \\\"trade\\\" <b>\"\n      description: \"<i>money</i> & 'markets'\"\n"
            "      phrase: money\n    - name: Other\n      description: other\n      phrase: other\n      residual: true\n",
        )
    )


def markup_records(config) -> list[dict]:
    """Two hand-made predictions; the first paragraph holds a <script>, &, quotes and tags."""
    frame = config.frame_names[0]
    return [
        {
            "id": f"markup:{i}:0000000{i}", "doc_id": "markup", "index": i, "text": text, "date": None,
            "title": "<h1>Title & \"co\"</h1>", "source": "<Source>",
            "stance": {
                MARKUP_TARGET: {"label": "unfavorable", "scores": {"unfavorable": 0.6, "neutral": 0.4}, "mentioned": True},
                "China": {"label": "not_mentioned", "scores": {"not_mentioned": 1.0}, "mentioned": False},
            },
            "frames": {frame: 0.9}, "frame_labels": [frame], "model_version": "markup-v1",
        }
        for i, text in enumerate([MARKUP_TEXT, "Plain <i>second</i> paragraph & more."])
    ]
