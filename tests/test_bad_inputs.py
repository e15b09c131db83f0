"""Every bad input gets a message that names the file, the place and what was expected."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.config import load_config
from stance.errors import ConfigError, InputError, ModelError
from stance.ingest import ProblemLog, ReadOptions, discover_inputs, iter_paragraphs

runner = CliRunner()


def ingest(path, config, on_error="fail", **options):
    log = ProblemLog(on_error)
    paragraphs = list(iter_paragraphs(discover_inputs([path]), config.ingest, ReadOptions(on_error=on_error, **options), log))
    return paragraphs, log


def annotate_cli(*args):
    return runner.invoke(app, ["annotate", *map(str, args), "--no-progress"])


def test_invalid_utf8_names_the_byte(tmp_path, default_config):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\u00e9 in Moscow".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt: not valid UTF-8 at byte 3 .*expected UTF-8 text"):
        ingest(path, default_config)


def test_invalid_utf8_in_jsonl_names_line_and_byte(tmp_path, default_config):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"mixed.jsonl:2: not valid UTF-8 at byte 52"):
        ingest(path, default_config)


def test_binary_file(tmp_path, default_config):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError, match=r"image.txt: looks like a binary file"):
        ingest(path, default_config)


def test_empty_file_is_a_warning_not_a_crash(tmp_path, default_config):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blank.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "good.txt").write_text("Beijing spoke.", encoding="utf-8")
    paragraphs, log = ingest(tmp_path, default_config)
    assert [p.text for p in paragraphs] == ["Beijing spoke."]
    assert sorted(p.where.rsplit("/", 1)[-1] for p in log.warnings) == ["blank.jsonl", "empty.txt"]
    assert all("empty" in p.message for p in log.warnings)


def test_jsonl_line_that_is_not_json(tmp_path, default_config):
    path = tmp_path / "batch.jsonl"
    path.write_text('{"id": "a", "text": "ok"}\n{"id": "b", "text": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"batch.jsonl:2: not valid JSON \(.*\); expected one JSON object per line"):
        ingest(path, default_config)


def test_jsonl_record_without_text(tmp_path, default_config):
    path = tmp_path / "batch.jsonl"
    path.write_text('{"id": "a", "body": "ok"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"batch.jsonl:1: has no 'text' field; expected the article text there"):
        ingest(path, default_config)
    path.write_text('{"id": "a", "text": 5}\n["x"]\n', encoding="utf-8")
    _, log = ingest(path, default_config, on_error="skip")
    assert [str(p).split("batch.jsonl")[1] for p in log.errors] == [
        ":1: field 'text' is a int; expected a string",
        ":2: is a JSON list; expected a JSON object with a 'text' field",
    ]


def test_csv_without_the_text_column(tmp_path, default_config):
    path = tmp_path / "batch.csv"
    path.write_text("id,body\n1,hello\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"batch.csv:1: has no 'text' column \(columns: id, body\); expected a text column, or name it with --text-column"):
        ingest(path, default_config)


def test_csv_ragged_rows(tmp_path, default_config):
    path = tmp_path / "batch.csv"
    path.write_text("id,text\n1,Moscow said\n2,Beijing said,extra\n3\n4,Washington said\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"batch.csv:3: has 3 fields but the header has 2"):
        ingest(path, default_config)
    paragraphs, log = ingest(path, default_config, on_error="skip")
    assert [p.text for p in paragraphs] == ["Moscow said", "Washington said"]
    assert [e.where.rsplit(":", 1)[1] for e in log.errors] == ["3", "4"]
    assert "has 1 fields but the header has 2" in log.errors[1].message


def test_huge_file_without_blank_lines_is_split_into_bounded_windows(tmp_path, default_config):
    sentence = "Officials in Moscow and Beijing discussed trade and security on Tuesday. "
    path = tmp_path / "huge.txt"
    path.write_text(sentence * (10_000_000 // len(sentence)), encoding="utf-8")
    started = time.monotonic()
    paragraphs, log = ingest(path, default_config)
    elapsed = time.monotonic() - started
    assert path.stat().st_size > 9_900_000
    assert not log.problems
    assert max(len(p.text) for p in paragraphs) <= default_config.ingest.max_chars
    assert sum(len(p.text) for p in paragraphs) + len(paragraphs) - 1 == len(path.read_text(encoding="utf-8").strip())
    print(f"10 MB without blank lines: {len(paragraphs)} windows in {elapsed:.1f} s")


def test_cli_reports_bad_file_cleanly_and_skip_goes_on(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.txt").write_text("The Kremlin said nothing.", encoding="utf-8")
    (tmp_path / "in" / "bad.jsonl").write_text("not json\n", encoding="utf-8")
    result = annotate_cli(tmp_path / "in", "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "bad.jsonl:1: not valid JSON" in result.output and "--on-error skip" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "predictions.jsonl").exists()  # failed before any work


def test_unsupported_and_missing_inputs(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK")
    result = annotate_cli(tmp_path / "notes.docx", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "unsupported file type '.docx'; expected one of .txt, .jsonl, .csv" in result.output
    result = annotate_cli(tmp_path / "nowhere", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "nowhere: no such file or folder" in result.output


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("targets:\n  - name: China\n    alias: [PRC]\n", r"line 4: targets\[0\]\.alias: unknown key"),
        ("model:\n  batch_size: lots\n", r"line 3: model\.batch_size: Input should be a valid integer"),
        ("model:\n  hypothesis_template: 'The author {verb} it.'\n", r"model\.hypothesis_template: template .* lacks \{target\}"),
        ("labels:\n  - {name: pro, description: d, verb: v, polarity: positive}\n  - {name: pro, description: d, verb: v, polarity: negative}\n", r"two labels are called 'pro'"),
        ("labels:\n  - {name: pro, description: d, verb: v}\n  - {name: contra, description: d, verb: v, polarity: negative}\n", r"line 3: labels\[0\]\.polarity: required key is missing"),
        ("labels:\n  - {name: pro, description: d, verb: v, polarity: good}\n  - {name: contra, description: d, verb: v, polarity: negative}\n", r"labels\[0\]\.polarity: Input should be 'positive', 'neutral' or 'negative'"),
        ("targets: []\n", r"targets is empty"),
        ("frames:\n  threshold: 2\n", r"frames\.threshold: Input should be less than or equal to 1"),
    ],
)
def test_config_errors_name_file_line_and_field(tmp_path, yaml_text, expected):
    from conftest import write_config

    path = write_config(tmp_path / "bad.yaml", yaml_text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_config_that_is_not_yaml_or_missing(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("targets: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"nope.yaml does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_model_path_that_does_not_exist(tmp_path, seeds_dir):
    result = annotate_cli(seeds_dir, "--out", tmp_path / "run", "--model", tmp_path / "missing-model")
    assert result.exit_code == 2
    assert f"model path {tmp_path / 'missing-model'} does not exist" in result.output


def test_hub_name_without_network_says_how_to_use_a_local_path(tmp_path, default_config):
    from stance.scoring.nli import NLIScorer

    with pytest.raises(ModelError, match=r"not a local directory and the Hugging Face hub did not provide it .*--model DIR"):
        NLIScorer(default_config, "some-org/no-such-nli-model")


def test_jsonl_record_ids_default_to_file_and_line(tmp_path, default_config):
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({"text": "Russia."}) + "\n" + json.dumps({"text": "China."}) + "\n", encoding="utf-8")
    paragraphs, _ = ingest(path, default_config)
    assert [p.doc_id for p in paragraphs] == ["feed-1", "feed-2"]
