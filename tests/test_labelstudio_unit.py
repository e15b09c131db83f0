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
from stance.labelstudio.tasks import (
    annotation_records,
    check_prediction,
    prediction_for,
    prediction_result,
    review_score,
    task_for,
)
from stance.labelstudio.xml import config_differences, control_names, has_control, labeling_config, parse_choice_groups
from stance.metrics import annotator_agreement
from stance.records import LabelledRecord, Prediction

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


def test_labeling_config_has_one_required_single_choice_group_per_target_and_a_frames_group(default_config):
    xml = labeling_config(default_config)
    groups, data_keys = parse_choice_groups(xml)
    names = control_names(default_config)
    assert names == {"China": "stance_china", "Russia": "stance_russia", "United States": "stance_united_states"}
    root = ET.fromstring(xml)
    choices = {c.get("name"): c for c in root.iter("Choices")}
    for target in default_config.targets:
        group = groups[names[target.name]]
        assert group.mode == "single" and group.to_name == "text"
        assert group.values == default_config.all_label_names
        tag = choices[names[target.name]]
        assert tag.get("required") == "true" and tag.get("choice") == "single"  # a blank target cannot be submitted
        assert target.name in tag.get("requiredMessage")
    assert groups["frames"].mode == "multiple" and groups["frames"].values == default_config.frame_names
    assert groups["unsure"].values == ("unsure",) and [t.get("name") for t in root.iter("TextArea")] == ["comment"]
    # the paragraph is the only data an imported task must carry; the rest is shown by tags without a name
    assert set(data_keys) == {"text"}
    shown = {t.get("value") for t in root.iter() if t.tag in ("Markdown", "Header") and (t.get("value") or "").startswith("$")}
    assert shown == {"$head", "$before", "$after", "$frames_view"} | {f"$view_{n}" for n in names.values()}
    assert not [t for t in root.iter() if t.tag in ("Markdown", "Header") and t.get("name")]
    assert [label.get("value") for label in root.iter("Label")] == [t.name for t in default_config.targets]  # the mention marks
    hints = {c.get("value"): c.get("hint") for c in root.iter("Choice")}
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
    assert MARKUP_TARGET in headers
    groups, _ = parse_choice_groups(xml)
    assert MARKUP_FRAME in groups["frames"].values
    assert "<script>alert(1)</script> & co" in [c.get("hint") for c in root.iter("Choice")]
    assert "<script>" not in xml  # only ever as &lt;script&gt;


# the layout earlier versions gave their projects: plain Text objects, checkbox-style single choices, no unsure flag
EARLIER_LAYOUT = """<View>
  <View><Text name="context" value="$context"/></View>
  <View><Text name="before" value="$before"/></View>
  <View><Text name="text" value="$text"/></View>
  <View><Text name="after" value="$after"/></View>
  <Header value="Stance toward China" size="5"/>
  <Choices name="stance_china" toName="text" choice="single" showInline="true">
    <Choice value="favorable"/><Choice value="neutral"/><Choice value="unfavorable"/><Choice value="not_mentioned"/>
  </Choices>
  <Header value="Frames" size="5"/>
  <Choices name="frames" toName="text" choice="multiple" showInline="true">
    <Choice value="Economic"/><Choice value="Political"/>
  </Choices>
</View>"""


def test_config_differences_list_what_changed(default_config, tmp_path):
    xml = labeling_config(default_config)
    assert config_differences(xml, xml) == []
    assert config_differences(xml, xml.replace('size="5" style="margin: 0', 'size="4" style="margin: 1px')) == []  # cosmetic
    other = load_config(write_config(tmp_path / "o.yaml", "targets:\n  - name: China\n  - name: NATO\n"))
    differences = config_differences(labeling_config(other), xml)
    assert "choice group 'stance_nato' is missing from the project" in differences
    assert "the project has a choice group 'stance_russia' that the config does not define" in differences
    changed = xml.replace('<Choice value="neutral"', '<Choice value="mixed"', 1)
    assert any("lacks 'neutral'" in d for d in config_differences(xml, changed))
    assert config_differences(xml, "<View><Broken") == [config_differences(xml, "<View><Broken")[0]]
    assert "not valid XML" in config_differences(xml, "<View><Broken")[0]
    # a project of the earlier layout still takes the predictions (it lacks only the review flag, which is optional)
    small = load_config(write_config(tmp_path / "small.yaml", "targets:\n  - name: China\nframes:\n  items:\n"
                                     "    - {name: Economic, description: money, phrase: money}\n    - {name: Political, description: p, phrase: p}\n"))
    assert config_differences(labeling_config(small), EARLIER_LAYOUT) == []
    assert has_control(labeling_config(small), "mentions") and not has_control(EARLIER_LAYOUT, "mentions")
    strange = EARLIER_LAYOUT.replace('value="$after"', 'value="$summary"')
    assert config_differences(labeling_config(small), strange) == ["the project shows task data ['summary'] that stance's tasks do not carry"]


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


def test_task_carries_ids_context_the_screen_and_one_prediction_with_the_mentions_marked(default_config):
    labels = {"China": "neutral", "Russia": "not_mentioned", "United States": "neutral"}
    record = prediction_record(default_config, labels, frames=["Economic", "Political"])
    text = "Beijing 🇨🇳 said Wang would meet US officials; China denied it."
    record = Prediction.from_json({**record.to_json(), "text": text, "url": "https://example.org/a?b=1&c=2", "index": 2,
                                   "stance": {**record.to_json()["stance"], "Russia": {"label": "not_mentioned", "scores": {"not_mentioned": 1.0},
                                                                                      "mentioned": False, "why": "no alias found"}}}, "t")
    task = task_for(record, default_config, "Before.", None, context=frozenset({"Wang"}), paragraphs_in_document=5)
    data = task["data"]
    assert data["para_id"] == "d:0:00000000" and data["doc_id"] == "d" and data["date"] == "2024-01-02" and data["source"] == "Outlet"
    assert data["text"] == text and data["context"] == "A title · 2024-01-02 · Outlet" and data["short_forms"] == ["Wang"]
    assert data["before"] == "Previous paragraph: Before." and data["after"] == "(last paragraph of the document)"
    assert '<a href="https://example.org/a?b=1&amp;c=2" target="_blank"' in data["head"] and "paragraph 3 of 5" in data["head"]
    assert "<b>neutral" in data["view_stance_china"] and "3 mentions" in data["view_stance_china"]  # Beijing, Wang (in context), China
    assert "no alias found by the gate" in data["view_stance_russia"]
    [prediction] = task["predictions"]
    frames = next(r for r in prediction["result"] if r["from_name"] == "frames")
    assert frames["value"]["choices"] == ["Economic", "Political"]
    marks = [r for r in prediction["result"] if r["from_name"] == "mentions"]
    # Label Studio counts UTF-16 code units: the flag (two astral characters) is four of them
    china = [(m["value"]["start"], m["value"]["end"], m["value"]["text"]) for m in marks if m["value"]["labels"] == ["China"]]
    utf16 = text.encode("utf-16-le")
    assert [utf16[2 * s : 2 * e].decode("utf-16-le") for s, e, _ in china] == [t for _, _, t in china] == ["Beijing", "Wang", "China"]
    assert [m["value"]["text"] for m in marks if m["value"]["labels"] == ["United States"]] == ["US"]
    plain = task_for(record, default_config, None, None, marks=False)["predictions"][0]  # a project of the earlier layout
    assert not [r for r in plain["result"] if r["from_name"] == "mentions"] and plain["result"] == prediction_result(record, default_config)


def test_the_screen_pieces_are_escaped_single_lines_and_links_only_http(default_config):
    from stance.labelstudio import screen

    labels = dict.fromkeys(["China", "Russia", "United States"], "neutral")
    nasty = prediction_record(default_config, labels)
    for url, linked in (("javascript:alert(1)", False), ("data:text/html,x", False), ("https://ok.example/x", True), ("http://a b", False)):
        record = Prediction.from_json({**nasty.to_json(), "title": "<img src=x onerror=alert(1)>\n\n# not a heading *x*", "url": url,
                                       "source": "<script>s</script>"}, "t")
        head = screen.head_html(record)
        assert "<img" not in head and "<script>" not in head and "&lt;img src=x onerror=alert(1)&gt;" in head
        assert "\n" not in head and head.startswith("<div") and head.endswith("</div>")  # Markdown leaves one HTML line alone
        assert ("<a href=" in head) == linked
    view = screen.frames_view_html(Prediction.from_json({**nasty.to_json(), "frames": {"Economic": 0.8, "Political": 0.3, "Other": 0.6},
                                                         "frame_labels": ["Economic"]}, "t"), default_config)
    assert "Economic 80%" in view and "Political 30%" in view and "Other" not in view  # the residual frame is no runner-up
    instructions = screen.instructions_html(default_config)
    assert all(label.description in instructions for label in default_config.labels)
    assert all(frame.description.replace("'", "&#x27;") in instructions for frame in default_config.frames.items)


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
    records, stats = annotation_records(exported, default_config)
    china = [r for r in records if r.target == "China"]
    assert [(r.id, r.annotator, r.label, r.model_label, r.model_version) for r in china] == [
        ("p1", "a@x", "favorable", "neutral", "v1"),
        ("p1", "b@x", "neutral", "neutral", "v1"),
    ]
    assert china[0].to_json()["frames"] == ["Economic"] and china[1].to_json()["frames"] == ["Political"]
    assert set(china[0].to_json()) >= {"id", "text", "target", "label", "frames", "annotator", "updated_at", "model_label", "model_version"}
    assert stats.skipped_tasks == 1 and stats.cancelled == 1 and stats.from_prediction == 4
    assert stats.invalid == [
        "task 3 (paragraph 'p3'), annotation 4: label ['maybe'] for target 'China' is not one of"
        " favorable, neutral, unfavorable, not_mentioned; skipped"
    ]
    assert stats.annotations == 4  # p1 twice, p3, p4
    assert stats.frames_changed == pytest.approx(2 / 3, abs=1e-3)  # b changed them, p4 cleared them, a kept them (p3 left them blank)


def _review(unsure=False, comment=None):
    result = []
    if unsure:
        result.append({"from_name": "unsure", "to_name": "text", "type": "choices", "value": {"choices": ["unsure"]}})
    if comment:
        result.append({"from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": comment}})
    return result


def test_only_annotations_that_started_from_a_prediction_are_compared_and_review_fields_ride_along(default_config):
    from stance.labelstudio.pull import review_summary

    prediction = {"id": 7, "model_version": "v1", "result": _result(["neutral"]), "created_at": "2024"}
    base = {"was_cancelled": False, "updated_at": "2024-05-01T00:00:00Z"}
    exported = [_export_task(1, "p1", [
        {**base, "id": 1, "completed_by": {"email": "a@x"}, "parent_prediction": 7, "result": _result(["favorable"]) + _review(True, ["why", "so"])},
        # a blank form: the prediction is in the export (the server notes the project's version at submit), but nobody saw it
        {**base, "id": 2, "completed_by": {"email": "b@x"}, "parent_prediction": None, "prediction": prediction, "result": _result(["unfavorable"])},
        {**base, "id": 3, "completed_by": {"email": "r@x"}, "ground_truth": True, "result": _result(["favorable"]), "updated_at": "2024-06-01"},
    ], [prediction])]
    records, stats = annotation_records(exported, default_config)
    a, b, r = records
    assert (a.model_label, b.model_label, b.model_version) == ("neutral", None, None)
    assert stats.from_prediction == 1 and stats.unsure == 1 and stats.comments == 1
    keys = list(a.to_json())
    assert keys[:11] == ["id", "text", "target", "label", "frames", "annotator", "updated_at", "model_label", "model_version", "doc_id", "annotation_id"]
    assert keys[11:] == ["unsure", "comment"] and a.to_json()["comment"] == "why\nso" and "unsure" not in b.to_json()
    assert r.to_json()["adjudicated"] is True
    china = review_summary(records, default_config)["China"]
    assert (china["compared"], china["corrected"], china["correction_rate"], china["blank_form"]) == (1, 1, 1.0, 2)
    assert china["paragraphs_with_several_annotators"] == 1  # a and b; the reviewer's decision is not a third opinion


def test_disagreements_list_who_said_what_and_the_decision(default_config):
    from stance.labelstudio.review import find_disagreements

    def record(pid, target, label, who, when="2024-01-01", **extra):
        return LabelledRecord(pid, "t", target, label, annotator=who, updated_at=when, extra=extra)

    records = [
        record("p1", "China", "favorable", "a"), record("p1", "China", "neutral", "b"),
        record("p1", "Russia", "neutral", "a"), record("p1", "Russia", "neutral", "b"),
        record("p2", "China", "neutral", "a"), record("p2", "China", "unfavorable", "a", when="2024-02-01"),  # a changed their mind: no dispute
        record("p3", "China", "neutral", "a", unsure=True),
        record("p4", "China", "favorable", "a"), record("p4", "China", "unfavorable", "b", comment="sarcasm"),
        record("p4", "China", "unfavorable", "r", when="2024-03-01", adjudicated=True),
    ]
    found = find_disagreements(records)
    assert [(d.id, d.target, d.labels, d.decided) for d in found] == [
        ("p1", "China", {"a": "favorable", "b": "neutral"}, None),
        ("p4", "China", {"a": "favorable", "b": "unfavorable"}, "unfavorable"),
    ]
    assert found[1].comments == {"b": "sarcasm"} and "decided unfavorable by r" in found[1].describe()
    assert [(d.id, d.reason) for d in find_disagreements(records, unsure=True)] == [("p1", "disagreement"), ("p3", "unsure"), ("p4", "disagreement")]


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


class _FakeExport:
    """A client whose project exports the given tasks (slowly, so that two pulls overlap)."""

    url = "http://127.0.0.1:9"
    retries_done = 0

    def __init__(self, tasks, pause=0.0):
        self.tasks, self.pause = tasks, pause

    def whoami(self):
        return {"id": 1}

    def find_projects(self, title):
        return [{"id": 7, "model_version": "v1", "task_number": 3}]

    def export_tasks(self, project_id, with_annotations_only):
        import time

        for task in self.tasks:
            time.sleep(self.pause)
            yield task

    def list_tasks(self, project_id):
        return []


def _annotated(n, label="neutral"):
    ann = {"id": n, "completed_by": {"email": f"u{n}@x"}, "was_cancelled": False, "updated_at": "2024-05-01", "result": _result([label])}
    return _export_task(n, f"p{n}", [ann], [])


def test_pulling_a_project_without_labels_says_so_and_writes_nothing(tmp_path, default_config):
    out = tmp_path / "reviewed.jsonl"
    skipped = _export_task(1, "p1", [{"id": 1, "completed_by": 1, "was_cancelled": True, "result": []}], [])
    for tasks, expected in (([], "has no labels to pull yet (3 task(s), none annotated)"), ([skipped], "1 skipped")):
        with pytest.raises(LabelStudioError, match=r"has no labels to pull yet") as error:
            pull_project(default_config, _FakeExport(tasks), "p", out)
        assert expected in str(error.value) and "nothing written" in str(error.value)
        assert list(tmp_path.iterdir()) == []  # no file, no summary, no temporary file


def test_pulls_at_the_same_time_into_one_file_leave_a_file_and_summary_of_the_same_export(tmp_path, default_config):
    import threading

    from stance.labelstudio.pull import summary_path_for

    out = tmp_path / "reviewed.jsonl"
    clients = [_FakeExport([_annotated(i) for i in range(1, n + 1)], pause=0.02) for n in (2, 5, 3, 4)]
    errors = []

    def pull(client):
        try:
            pull_project(default_config, client, "p", out, overwrite=True)
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=pull, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    lines = out.read_text(encoding="utf-8").splitlines()
    summary = json.loads(summary_path_for(out).read_text(encoding="utf-8"))
    assert summary["records"] == len(lines) == summary["annotations"] == summary["tasks_exported"]  # one China label per task
    assert {json.loads(line)["id"] for line in lines} == {f"p{i}" for i in range(1, summary["tasks_exported"] + 1)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviewed.jsonl", "reviewed.summary.json"]


def test_a_namesake_listed_late_still_wins_the_project_race():
    """Two pushes create a project of one title; the older one was not listed yet at the first look:
    the second look finds it and ours (empty) is deleted."""
    from stance.labelstudio.converge import settle_project

    class Listing:
        def __init__(self) -> None:
            self.looks = [[{"id": 13}], [{"id": 11}, {"id": 13}]]
            self.deleted: list[int] = []

        def find_projects(self, title):
            return self.looks.pop(0)

        def delete_project(self, pid):
            self.deleted.append(pid)

    client = Listing()
    assert settle_project(client, "t", {"id": 13}, wait=0)["id"] == 11
    assert client.deleted == [13]
    alone = Listing()
    alone.looks = [[{"id": 13}], [{"id": 13}]]
    assert settle_project(alone, "t", {"id": 13}, wait=0)["id"] == 13 and alone.deleted == []
