"""Label Studio parts that need no server: the labeling config, predictions, export parsing, agreement, keys."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from conftest import write_config

from stance.config import LabelStudioSettings, load_config
from stance.errors import LabelStudioError
from stance.labelstudio.client import LabelStudioClient
from stance.labelstudio.credentials import Credentials, resolve_credentials
from stance.labelstudio.pull import pull_project
from stance.labelstudio.push import order_records
from stance.labelstudio.tasks import annotation_records, check_prediction, prediction_for, review_score, task_for
from stance.labelstudio.xml import config_differences, control_names, labeling_config, parse_choice_groups
from stance.metrics import annotator_agreement
from stance.records import Prediction

MARKUP_TARGET = "AT&T <Inc>"
MARKUP_FRAME = 'Frame "quoted" & <b>bold</b>'


@pytest.fixture()
def markup_config(tmp_path):
    return load_config(
        write_config(
            tmp_path / "markup.yaml",
            f"targets:\n  - name: {json.dumps(MARKUP_TARGET)}\n    aliases: [AT&T]\n  - name: \"AT T Inc\"\n  - name: China\n"
            f"frames:\n  items:\n    - name: {json.dumps(MARKUP_FRAME)}\n      description: \"<script>alert(1)</script> & co\"\n"
            "      phrase: markup\n    - name: Economic\n      description: money\n      phrase: money\n",
        )
    )


def prediction_record(config, labels: dict[str, str], *, frames=(), version="v1", scores=None, pid="d:0:00000000") -> Prediction:
    return Prediction.from_json({
        "id": pid,
        "doc_id": "d",
        "index": 0,
        "text": "Some text",
        "date": "2024-01-02",
        "title": "A title",
        "source": "Outlet",
        "stance": {
            t.name: {"label": labels[t.name], "scores": (scores or {}).get(t.name, {labels[t.name]: 1.0}), "mentioned": True}
            for t in config.targets
        },
        "frames": {},
        "frame_labels": list(frames),
        "model_version": version,
    }, "test prediction")


def test_labeling_config_has_one_single_choice_group_per_target_and_a_frames_group(default_config):
    xml = labeling_config(default_config)
    groups, data_keys = parse_choice_groups(xml)
    names = control_names(default_config)
    assert names == {"China": "stance_china", "Russia": "stance_russia", "United States": "stance_united_states"}
    for target in default_config.targets:
        group = groups[names[target.name]]
        assert group.mode == "single" and group.to_name == "text"
        assert group.values == default_config.all_label_names
    assert groups["frames"].mode == "multiple" and groups["frames"].values == default_config.frame_names
    assert set(data_keys) == {"text", "context", "before", "after"}
    hints = {c.get("value"): c.get("hint") for c in ET.fromstring(xml).iter("Choice")}
    assert hints["favorable"] == default_config.labels[0].description
    assert labeling_config(default_config) == xml  # deterministic


def test_markup_in_target_and_frame_names_is_escaped_and_survives_parsing(markup_config):
    xml = labeling_config(markup_config)
    root = ET.fromstring(xml)  # well-formed despite & < > and quotes
    names = control_names(markup_config)
    # "AT&T <Inc>" and "AT T Inc" slug alike: both get a hash suffix, stable and safe
    assert names[MARKUP_TARGET].startswith("stance_at_t_inc_") and names["AT T Inc"].startswith("stance_at_t_inc_")
    assert names[MARKUP_TARGET] != names["AT T Inc"] and names == control_names(markup_config)
    assert all(n.replace("_", "").isalnum() for n in names.values())
    headers = [h.get("value") for h in root.iter("Header")]
    assert f"Stance toward {MARKUP_TARGET}" in headers
    groups, _ = parse_choice_groups(xml)
    assert MARKUP_FRAME in groups["frames"].values
    assert "<script>alert(1)</script> & co" in [c.get("hint") for c in root.iter("Choice")]
    assert "<script>" not in xml  # only ever as &lt;script&gt;


def test_config_differences_list_what_changed(default_config, tmp_path):
    xml = labeling_config(default_config)
    assert config_differences(xml, xml) == []
    assert config_differences(xml, xml.replace("Stance toward", "Attitude to")) == []  # headers are cosmetic
    other = load_config(write_config(tmp_path / "o.yaml", "targets:\n  - name: China\n  - name: NATO\n"))
    differences = config_differences(labeling_config(other), xml)
    assert "choice group 'stance_nato' is missing from the project" in differences
    assert "the project has a choice group 'stance_russia' that the config does not define" in differences
    changed = xml.replace('<Choice value="neutral"', '<Choice value="mixed"', 1)
    assert any("lacks 'neutral'" in d for d in config_differences(xml, changed))
    assert config_differences(xml, "<View><Broken") == [config_differences(xml, "<View><Broken")[0]]
    assert "not valid XML" in config_differences(xml, "<View><Broken")[0]


def test_confidence_is_the_smallest_top_label_margin(default_config):
    labels = {"China": "favorable", "Russia": "neutral", "United States": "not_mentioned"}
    scores = {
        "China": {"favorable": 0.7, "neutral": 0.2, "unfavorable": 0.1, "not_mentioned": 0.0},
        "Russia": {"favorable": 0.3, "neutral": 0.36, "unfavorable": 0.34, "not_mentioned": 0.0},
        "United States": {"not_mentioned": 1.0, "favorable": 0.0, "neutral": 0.0, "unfavorable": 0.0},
    }
    record = prediction_record(default_config, labels, scores=scores)
    assert review_score(record) == pytest.approx(0.02)
    prediction = prediction_for(record, default_config)
    assert prediction["score"] == pytest.approx(0.02) and prediction["model_version"] == "v1"
    assert [r["from_name"] for r in prediction["result"]] == ["stance_china", "stance_russia", "stance_united_states"]
    assert [r["value"]["choices"] for r in prediction["result"]] == [["favorable"], ["neutral"], ["not_mentioned"]]


def test_task_carries_ids_context_and_one_prediction(default_config):
    labels = dict.fromkeys(["China", "Russia", "United States"], "neutral")
    task = task_for(prediction_record(default_config, labels, frames=["Economic", "Political"]), default_config, "Before.", None)
    data = task["data"]
    assert data["para_id"] == "d:0:00000000" and data["doc_id"] == "d" and data["date"] == "2024-01-02" and data["source"] == "Outlet"
    assert data["context"] == "A title · 2024-01-02 · Outlet"
    assert data["before"] == "Previous paragraph: Before." and data["after"] == "(last paragraph of the document)"
    frames = task["predictions"][0]["result"][-1]
    assert frames["from_name"] == "frames" and frames["value"]["choices"] == ["Economic", "Political"]


def test_check_prediction_names_the_bad_label_and_target(default_config):
    labels = {"China": "maybe", "Russia": "neutral", "United States": "neutral"}
    problems = check_prediction(prediction_record(default_config, labels, frames=["Astrology"]), default_config)
    assert "label 'maybe' for target 'China' is not one of favorable, neutral, unfavorable, not_mentioned" in problems
    assert "frame 'Astrology' is not in the config" in problems


def test_order_records():
    records = [
        Prediction.from_json({"id": str(i), "text": "t", "stance": {"t": {"label": "a", "scores": {"a": s, "b": 0.0}}}}, "test")
        for i, s in enumerate([0.9, 0.1, 0.5, 0.1])
    ]
    assert [r.id for r in order_records(records, "uncertainty")] == ["1", "3", "2", "0"]
    assert [r.id for r in order_records(records, "document")] == ["0", "1", "2", "3"]
    shuffled = [r.id for r in order_records(records, "random", seed=3)]
    assert shuffled == [r.id for r in order_records(records, "random", seed=3)] and sorted(shuffled) == ["0", "1", "2", "3"]
    with pytest.raises(LabelStudioError, match="unknown order"):
        order_records(records, "alphabetical")


def _export_task(task_id, para_id, annotations, predictions):
    return {"id": task_id, "data": {"text": f"text {para_id}", "para_id": para_id, "doc_id": "d"}, "annotations": annotations, "predictions": predictions}


def _result(china=None, frames=None):
    result = []
    if china is not None:
        result.append({"from_name": "stance_china", "to_name": "text", "type": "choices", "value": {"choices": china}})
    if frames is not None:
        result.append({"from_name": "frames", "to_name": "text", "type": "choices", "value": {"choices": frames}})
    return result


def test_export_parsing_keeps_every_annotator_and_counts_what_it_leaves_out(default_config):
    prediction = {"id": 7, "model_version": "v1", "result": _result(["neutral"], ["Economic"]), "created_at": "2024"}
    ann = {"completed_by": {"id": 1, "email": "a@x"}, "was_cancelled": False, "updated_at": "2024-05-01T00:00:00Z", "parent_prediction": 7}
    exported = [
        _export_task(1, "p1", [{**ann, "id": 1, "result": _result(["favorable"], ["Economic"])},
                               {**ann, "id": 2, "completed_by": {"id": 2, "email": "b@x"}, "result": _result(["neutral"], ["Political"])}], [prediction]),
        _export_task(2, "p2", [{**ann, "id": 3, "was_cancelled": True, "result": []}], [prediction]),
        _export_task(3, "p3", [{**ann, "id": 4, "result": _result(["maybe"])}], [prediction]),
        _export_task(4, "p4", [{**ann, "id": 5, "result": _result(None, [])}], [prediction]),
    ]
    records, stats = annotation_records(exported, default_config, "v1")
    china = [r for r in records if r.target == "China"]
    assert [(r.id, r.annotator, r.label, r.model_label, r.model_version) for r in china] == [
        ("p1", "a@x", "favorable", "neutral", "v1"),
        ("p1", "b@x", "neutral", "neutral", "v1"),
    ]
    assert china[0].to_json()["frames"] == ["Economic"] and china[1].to_json()["frames"] == ["Political"]
    assert set(china[0].to_json()) >= {"id", "text", "target", "label", "frames", "annotator", "updated_at", "model_label", "model_version"}
    assert stats.skipped_tasks == 1 and stats.cancelled == 1
    assert stats.invalid == [
        "task 3 (paragraph 'p3'), annotation 4: label ['maybe'] for target 'China' is not one of"
        " favorable, neutral, unfavorable, not_mentioned; skipped"
    ]
    assert stats.annotations == 4  # p1 twice, p3, p4
    assert stats.frames_changed == pytest.approx(2 / 3, abs=1e-3)  # b changed them, p4 cleared them, a kept them (p3 left them blank)


def test_agreement_matches_known_values():
    from sklearn.metrics import cohen_kappa_score

    a = ["x", "x", "y", "y", "z", "x"]
    b = ["x", "y", "y", "y", "z", "z"]
    labels = {(str(i), "a"): la for i, la in enumerate(a)} | {(str(i), "b"): lb for i, lb in enumerate(b)}
    kappa, alpha, overlap = annotator_agreement(labels, ["x", "y", "z"])
    assert overlap == 6
    assert kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-4)
    import krippendorff
    import numpy as np

    codes = {"x": 0, "y": 1, "z": 2}
    expected = krippendorff.alpha(reliability_data=np.array([[codes[v] for v in a], [codes[v] for v in b]], float), level_of_measurement="nominal")
    assert alpha == pytest.approx(expected, abs=1e-4)
    assert annotator_agreement({("1", "a"): "x"}, ["x"]) == (None, None, 0)


def test_api_key_from_env_or_file_never_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9/")
    settings = LabelStudioSettings()
    with pytest.raises(LabelStudioError, match="no Label Studio API key: set the environment variable LABEL_STUDIO_API_KEY"):
        resolve_credentials(settings)
    key_file = tmp_path / "key"
    key_file.write_text("file-secret-123\n", encoding="utf-8")
    key_file.chmod(0o600)
    creds = resolve_credentials(LabelStudioSettings(api_key_file=str(key_file)))
    assert creds.api_key == "file-secret-123" and creds.url == "http://127.0.0.1:9" and str(key_file) in creds.key_source
    assert "file-secret-123" not in repr(creds)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "env-secret-456")
    assert resolve_credentials(LabelStudioSettings(api_key_file=str(key_file))).api_key == "env-secret-456"
    with pytest.raises(LabelStudioError, match="does not exist"):
        monkeypatch.delenv("LABEL_STUDIO_API_KEY")
        resolve_credentials(LabelStudioSettings(api_key_file=str(tmp_path / "missing")))


def test_push_and_pull_take_no_key_option():
    from typer.testing import CliRunner

    from stance.cli import app

    for command in ("push", "pull"):
        result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
        assert result.exit_code == 0
        assert "--api-key" not in result.output and "--token" not in result.output


def test_pull_never_overwrites_an_earlier_export_silently(tmp_path, default_config):
    out = tmp_path / "reviewed.jsonl"
    out.write_text("earlier export\n", encoding="utf-8")
    client = LabelStudioClient(Credentials("http://127.0.0.1:9", "k", "test"), max_retries=0)
    with pytest.raises(LabelStudioError, match="already exists .*--overwrite"):
        pull_project(default_config, client, "p", out)
    assert out.read_text(encoding="utf-8") == "earlier export\n"


def test_export_is_read_one_task_at_a_time_across_chunk_boundaries():
    import io

    from stance.labelstudio.tasks import iter_json_array

    tasks = [{"id": i, "data": {"text": f"ü, ] }} {{ \"[{i}]\" " * (i % 7), "n": [i, {"x": None}]}} for i in range(200)]
    raw = json.dumps(tasks, ensure_ascii=False, indent=1).encode("utf-8")
    for chunk_size in (1, 7, 64, 1 << 20):
        assert list(iter_json_array(io.BytesIO(raw), chunk_size=chunk_size)) == tasks
    assert list(iter_json_array(io.BytesIO(b" [ ] "))) == []
    for broken in (b"", b"{}", b'[{"id": 1}', b'[{"id": 1}, 3]'):
        with pytest.raises(ValueError):
            list(iter_json_array(io.BytesIO(broken), chunk_size=4))


def test_a_pull_that_fails_mid_export_keeps_the_earlier_export(tmp_path, default_config):
    """--overwrite replaces the export only once the new one is complete: a broken pull leaves the old file whole."""
    from stance.errors import LabelStudioUnreachableError

    out = tmp_path / "reviewed.jsonl"
    earlier = '{"id": "a:0:00000000", "target": "China", "label": "neutral"}\n'
    out.write_text(earlier, encoding="utf-8")

    class ExportBreaksHalfWay:
        url = "http://127.0.0.1:9"
        retries_done = 0

        def whoami(self):
            return {"id": 1}

        def find_projects(self, title):
            return [{"id": 7, "model_version": "v1"}]

        def export_tasks(self, project_id, with_annotations_only):
            yield {"id": 1, "data": {"id": "a:0:00000000", "text": "t"}, "annotations": [], "predictions": []}
            raise LabelStudioUnreachableError("connection reset while reading the export")

    with pytest.raises(LabelStudioUnreachableError, match="connection reset"):
        pull_project(default_config, ExportBreaksHalfWay(), "p", out, overwrite=True)
    assert out.read_text(encoding="utf-8") == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviewed.jsonl"]  # no temporary file or summary left behind
