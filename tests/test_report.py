"""The HTML report: aggregation functions, agreement numbers against scikit-learn, a run with any
targets and no dates or sources, and the CLI. Articles, outlets and intervals:
test_report_outlets.py; reviews: test_report_review.py; the page in Chromium: test_report_browser.py."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, write_config
from typer.testing import CliRunner

from stance.cli import app
from stance.errors import InputError
from stance.metrics import cohen_kappa
from stance.records import LabelledRecord, Prediction
from stance.report import (
    agreement,
    bin_label,
    bin_range,
    build_report,
    choose_bin_unit,
    collect,
    confusion,
    frame_cooccurrence,
    frame_counts,
    grouping,
    label_counts,
    label_counts_by_group,
    least_certain,
    load_annotations,
    most_confident,
    negative_label,
    stance_over_time,
)

LABELS = ["favorable", "neutral", "unfavorable", "not_mentioned"]
NM = "not_mentioned"
SCRIPT_TEXT = "<script>window.__pwned = 1; document.title = 'pwned';</script><img src=x onerror=\"window.__pwned = 2\">"
runner = CliRunner()


def rec(pid, labels, *, doc="d1", date="2024-01-03", source=None, title=None, frames=(), scores=None, text="text"):
    """A prediction as stance annotate writes it; `labels` maps target -> label."""
    stance = {}
    for target, label in labels.items():
        if scores and target in scores:
            s = scores[target]
        elif label == NM:
            s = {"favorable": 0.0, "neutral": 0.0, "unfavorable": 0.0, NM: 1.0}
        else:
            s = {name: (0.6 if name == label else 0.2) for name in LABELS[:3]} | {NM: 0.0}
        stance[target] = {"label": label, "scores": s, "mentioned": label != NM}
    return Prediction.from_json({
        "id": pid, "doc_id": doc, "index": 0, "text": text, "date": date, "title": title, "source": source,
        "stance": stance, "frames": dict.fromkeys(frames, 0.9), "frame_labels": list(frames), "model_version": "test",
    }, f"rec {pid}")


def jsonl(records) -> str:
    return "".join(json.dumps(r.to_json()) + "\n" for r in records)


# ---------------------------------------------------------------------------------------------
# Aggregation


def test_label_counts_counts_every_label_including_zeros():
    records = [rec("a", {"X": "favorable", "Y": NM}), rec("b", {"X": "favorable", "Y": "unfavorable"}), rec("c", {"X": NM, "Y": NM})]
    counts = label_counts(records, ["X", "Y"], LABELS)
    assert counts == {
        "X": {"favorable": 2, "neutral": 0, "unfavorable": 0, NM: 1},
        "Y": {"favorable": 0, "neutral": 0, "unfavorable": 1, NM: 2},
    }


def test_grouping_uses_sources_when_present_else_documents():
    with_sources = [rec("a", {"X": "neutral"}, source="Outlet B"), rec("b", {"X": "favorable"}, source="Outlet A"),
                    rec("c", {"X": "favorable"}, source="Outlet A"), rec("d", {"X": NM}, source=None)]
    group = grouping(with_sources)
    assert (group.by, group.missing, list(group.labels)) == ("source", 1, ["Outlet A", "Outlet B"])
    by = label_counts_by_group(with_sources, ["X"], LABELS, "source")
    assert list(by) == ["Outlet A", "Outlet B"]  # largest first
    assert by["Outlet A"]["X"]["favorable"] == 2 and by["Outlet B"]["X"]["neutral"] == 1

    no_sources = [rec("a", {"X": "neutral"}, doc="d1", title="First <b>story</b>", date="2024-02-01"), rec("b", {"X": NM}, doc="d2", date=None)]
    group = grouping(no_sources)
    assert group.by == "document"
    assert group.labels == {"d1": "First <b>story</b> (2024-02-01)", "d2": "d2"}


def test_bin_unit_follows_the_date_range():
    start = dt.date(2024, 1, 1)
    assert choose_bin_unit([start, start + dt.timedelta(days=112)]) == "week"
    assert choose_bin_unit([start, start + dt.timedelta(days=113)]) == "month"
    assert choose_bin_unit([dt.date(2023, 1, 1), dt.date(2024, 12, 31)]) == "month"  # 24 months
    assert choose_bin_unit([dt.date(2023, 1, 1), dt.date(2025, 1, 1)]) == "quarter"  # 25 months: bins that hold enough articles
    assert choose_bin_unit([dt.date(2010, 1, 1), dt.date(2021, 12, 31)]) == "quarter"  # 144 months
    assert choose_bin_unit([dt.date(2010, 1, 1), dt.date(2022, 1, 1)]) == "year"
    assert choose_bin_unit([]) == "month"


def test_bins_keep_empty_periods_and_are_named_readably():
    weeks = bin_range(dt.date(2023, 12, 27), dt.date(2024, 1, 10), "week")
    assert weeks == [dt.date(2023, 12, 25), dt.date(2024, 1, 1), dt.date(2024, 1, 8)]  # Mondays
    assert [bin_label(w, "week") for w in weeks] == ["2023-W52", "2024-W01", "2024-W02"]
    months = bin_range(dt.date(2023, 11, 15), dt.date(2024, 2, 2), "month")
    assert [bin_label(m, "month") for m in months] == ["2023-11", "2023-12", "2024-01", "2024-02"]
    quarters = bin_range(dt.date(2023, 11, 15), dt.date(2025, 1, 2), "quarter")
    assert quarters[0] == dt.date(2023, 10, 1) and quarters[-1] == dt.date(2025, 1, 1)
    assert [bin_label(q, "quarter") for q in quarters] == ["2023-Q4", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1"]


def test_stance_over_time_counts_per_bin_and_leaves_out_undated():
    records = [
        rec("a", {"X": "favorable"}, date="2024-01-02"),
        rec("b", {"X": "unfavorable"}, date="2024-01-05T10:00:00"),
        rec("c", {"X": "unfavorable"}, date="2024-03-20"),
        rec("d", {"X": "neutral"}, date=None),
        rec("e", {"X": "neutral"}, date="not a date"),
    ]
    series = stance_over_time(records, "X", LABELS)
    assert series.unit == "week"  # 78 days
    assert len(series.bins) == 12 and series.undated == 2
    assert series.counts[0] == {"favorable": 1, "neutral": 0, "unfavorable": 1, NM: 0}
    assert sum(sum(c.values()) for c in series.counts[1:-1]) == 0  # the empty weeks are there, with zeros
    assert series.counts[-1]["unfavorable"] == 1
    assert stance_over_time([rec("a", {"X": "neutral"}, date=None)], "X", LABELS).bins == []


def test_frame_cooccurrence_compares_unfavorable_coverage_with_all_coverage():
    records = [
        rec("a", {"X": "unfavorable"}, frames=["Security", "Economic"]),
        rec("b", {"X": "unfavorable"}, frames=["Security"]),
        rec("c", {"X": "favorable"}, frames=["Economic"]),
        rec("d", {"X": "neutral"}, frames=["Economic"]),
        rec("e", {"X": NM}, frames=["Security"]),  # does not mention X: not part of its coverage
    ]
    frames = ["Economic", "Security", "Morality"]
    assert frame_counts(records, frames) == {"Economic": 3, "Security": 3, "Morality": 0}
    rows = frame_cooccurrence(records, "X", "unfavorable", frames, NM)
    assert [r.frame for r in rows] == ["Security", "Economic"]  # Morality never co-occurs: left out
    security, economic = rows
    assert (security.with_label, security.label_total, security.with_target, security.target_total) == (2, 2, 2, 4)
    assert security.lift == pytest.approx(1.0 / 0.5)
    assert economic.share_in_label == pytest.approx(0.5) and economic.lift == pytest.approx(0.5 / 0.75)


def test_negative_label_comes_from_the_configured_polarity(tmp_path, default_config):
    from stance.config import load_config

    assert negative_label(default_config) == "unfavorable"
    custom = load_config(write_config(tmp_path / "c.yaml", "labels:\n  - {name: contra, description: d, verb: opposes, polarity: negative}\n"
                                      "  - {name: pro, description: d, verb: supports, polarity: positive}\n"))
    assert negative_label(custom) == "contra"  # by polarity, not by name or position
    assert custom.label_colours()["contra"] == "#D55E00" and custom.label_colours()["pro"] == "#0072B2"


def test_confident_and_uncertain_paragraphs_are_ordered_and_skip_the_gate():
    records = [
        rec("a", {"X": "favorable"}, scores={"X": {"favorable": 0.9, "neutral": 0.05, "unfavorable": 0.05, NM: 0.0}}),
        rec("b", {"X": "favorable"}, scores={"X": {"favorable": 0.5, "neutral": 0.45, "unfavorable": 0.05, NM: 0.0}}),
        rec("c", {"X": "unfavorable"}, scores={"X": {"favorable": 0.3, "neutral": 0.3, "unfavorable": 0.4, NM: 0.0}}),
        rec("d", {"X": NM}),  # the alias gate's not_mentioned: certain by rule, never "uncertain"
    ]
    assert [e.record.id for e in most_confident(records, "X", "favorable", 5, NM)] == ["a", "b"]
    assert most_confident(records, "X", "favorable", 1, NM)[0].score == pytest.approx(0.9)
    uncertain = least_certain(records, "X", 5, NM)
    assert [e.record.id for e in uncertain] == ["b", "c", "a"]
    assert uncertain[0].margin == pytest.approx(0.05)


# ---------------------------------------------------------------------------------------------
# Agreement


def test_kappa_and_confusion_match_sklearn_on_random_labelings():
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(2, 40)
        human = [rng.choice(LABELS) for _ in range(n)]
        model = [h if rng.random() < 0.6 else rng.choice(LABELS) for h in human]
        if len(set(human) | set(model)) < 2:
            continue
        assert cohen_kappa(human, model) == pytest.approx(cohen_kappa_score(human, model))
        assert confusion(human, model, LABELS) == confusion_matrix(human, model, labels=LABELS).tolist()
    assert cohen_kappa(["neutral"] * 3, ["neutral"] * 3) is None  # undefined, shown as n/a


def test_load_annotations_keeps_the_latest_label_per_annotator(tmp_path):
    path = tmp_path / "a.jsonl"
    lines = [
        {"id": "p1", "text": "t", "target": "X", "label": "neutral", "frames": None, "annotator": "ann", "updated_at": "2024-01-01T10:00:00Z"},
        {"id": "p1", "text": "t", "target": "X", "label": "unfavorable", "frames": ["Economic"], "annotator": "ann", "updated_at": "2024-01-02T10:00:00Z"},
        {"id": "p1", "text": "t", "target": "X", "label": "favorable", "frames": None, "annotator": "bob", "updated_at": "2024-01-01T09:00:00Z"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    loaded = sorted(load_annotations(path), key=lambda a: a.annotator)
    assert [(a.annotator, a.label, a.frames) for a in loaded] == [("ann", "unfavorable", ("Economic",)), ("bob", "favorable", None)]
    path.write_text(json.dumps({"id": "p1", "text": "t", "target": "X"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.jsonl:1: field 'label' is missing"):
        load_annotations(path)


def test_correction_rate_counts_changes_from_the_pre_label_people_saw():
    records = [rec("a", {"X": "favorable", "Y": NM}, frames=["Economic"]), rec("b", {"X": "neutral", "Y": "unfavorable"})]
    people = [
        LabelledRecord("a", "t", "X", "favorable", frames=("Economic",), model_label="neutral"),  # the run agrees; the shown pre-label was corrected
        LabelledRecord("a", "t", "Y", NM, frames=("Economic",)),
        LabelledRecord("b", "t", "X", "neutral", frames=("Security",)),  # stance kept, frames changed
        LabelledRecord("b", "t", "Y", "neutral"),
        LabelledRecord("zzz", "t", "X", "neutral"),  # not in the run
        LabelledRecord("a", "t", "Elsewhere", "neutral"),  # a target the report does not show
    ]
    result = agreement(people, records, ["X", "Y"], LABELS)
    x, y = result.targets
    assert (x.n, x.accuracy, x.corrections) == (2, 1.0, 1)
    assert (y.n, y.accuracy, y.corrections) == (2, 0.5, 1)
    assert (result.paragraphs, result.paragraphs_corrected, result.frames_compared, result.frames_corrected) == (2, 2, 2, 1)
    assert (result.not_in_run, result.unknown_targets) == (1, ["Elsewhere"])


# ---------------------------------------------------------------------------------------------
# Whole pages without a model


def test_any_targets_and_labels_without_dates_or_sources_render_and_are_escaped(tmp_path):
    from stance.config import load_config

    config = load_config(write_config(
        tmp_path / "eu.yaml",
        "targets:\n  - {name: '<i>EU</i>', aliases: [EU]}\n  - {name: NATO}\n"
        "labels:\n  - {name: pro, description: d, verb: supports, polarity: positive}\n"
        "  - {name: contra, description: d, verb: opposes, polarity: negative}\n"
        "frames:\n  enabled: false\n",
    ))
    run = tmp_path / "run"
    run.mkdir()
    records = []
    for i in range(6):
        label = ["pro", "contra", NM][i % 3]
        scores = {"pro": 0.7, "contra": 0.3, NM: 0.0} if label == "pro" else {"pro": 0.45, "contra": 0.55, NM: 0.0} if label == "contra" else {"pro": 0.0, "contra": 0.0, NM: 1.0}
        targets = ("<i>EU</i>", "NATO")
        records.append(rec(f"p{i}", dict.fromkeys(targets, label), scores=dict.fromkeys(targets, scores), doc=f"doc{i // 2}", date=None,
                           text=f"Paragraph {i} about the {SCRIPT_TEXT} & more"))
    (run / "predictions.jsonl").write_text(jsonl(records), encoding="utf-8")
    out = build_report(run, None, config)
    page = out.read_text(encoding="utf-8")
    assert out == run / "report.html"
    assert "No paragraph in this run has a date" in page
    assert "no sources" in page and "Frames were not scored in this run" in page
    assert "This run has no run.json" in page
    assert "&lt;i&gt;EU&lt;/i&gt;" in page and "<i>EU</i>" not in page
    assert "&lt;script&gt;window.__pwned" in page and "<script" not in page and "onerror=\"window" not in page
    assert ">contra<" in page and ">pro<" in page and "favorable" not in page


def test_label_colours_on_the_page_come_from_the_config(tmp_path):
    from stance.config import load_config

    config = load_config(write_config(
        tmp_path / "c.yaml",
        "labels:\n  - {name: pro, description: d, verb: supports, polarity: positive, colour: '#123456'}\n"
        "  - {name: contra, description: d, verb: opposes, polarity: negative}\n",
    ))
    run = tmp_path / "run"
    run.mkdir()
    scores = {"pro": 0.7, "contra": 0.3, NM: 0.0}
    records = [rec(f"p{i}", {"China": "pro"}, scores={"China": scores}) for i in range(3)]
    (run / "predictions.jsonl").write_text(jsonl(records), encoding="utf-8")
    page = build_report(run, None, config).read_text(encoding="utf-8")
    assert "background:#123456;color:white'>pro<" in page  # the label's own colour on its chip
    assert "background:#D55E00'" in page  # contra: the Okabe-Ito colour of negative polarity


def test_empty_run_and_a_config_whose_targets_the_run_lacks_give_notes_not_crashes(tmp_path, default_config):
    from stance.config import load_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "predictions.jsonl").write_text("", encoding="utf-8")
    assert "predictions.jsonl holds no paragraphs" in build_report(run, None, default_config).read_text(encoding="utf-8")
    # one target dated, another only undated: both share one time axis
    records = [rec("a", {"China": "favorable"}, doc="d1", date="2024-01-02"), rec("b", {"Russia": "neutral"}, doc="d2", date=None),
               rec("c", {"China": "neutral", "Russia": "unfavorable"}, doc="d3", date="2024-03-01")]
    (run / "predictions.jsonl").write_text(jsonl(records), encoding="utf-8")
    page = build_report(run, None, default_config).read_text(encoding="utf-8")
    assert "Targets in the config but not in these predictions (left out): United States." in page
    assert "1 of 3 articles have no date" in page
    other = load_config(write_config(tmp_path / "o.yaml", "targets:\n  - {name: Mars}\n"))
    page = build_report(run, None, other).read_text(encoding="utf-8")
    assert "No target of the config appears in these predictions." in page


def test_cli_writes_the_report_and_reports_a_missing_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "predictions.jsonl").write_text(
        jsonl(rec(f"p{i}", {"China": "neutral", "Russia": NM, "United States": "favorable"}, date=f"2024-01-0{i + 1}") for i in range(3)),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").stat().st_size > 10_000 and "wrote" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such directory" in result.output
    (run / "predictions.jsonl").write_text('{"id": "p1", "text": "t"}\n', encoding="utf-8")
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 2 and "predictions.jsonl:1: field 'stance'" in result.output


# ---------------------------------------------------------------------------------------------
# The seeds' run: agreement against scikit-learn


@pytest.fixture(scope="module")
def seeds_run_dir(seeds_run):
    """`stance annotate seeds/` with the offline default config (the session's run)."""
    return seeds_run[0]


def _hand_annotations(run: Path, path: Path) -> list[dict]:
    """A small hand-made interchange file: people's labels for the first six seed paragraphs."""
    records = [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()][:6]
    human = {
        "China": ["unfavorable", "unfavorable", "neutral", NM, "unfavorable", "favorable"],
        "Russia": ["neutral", "unfavorable", "neutral", "neutral", NM, NM],
        "United States": ["neutral", "unfavorable", NM, NM, NM, NM],
    }
    lines = []
    for i, record in enumerate(records):
        for target, labels in human.items():
            lines.append({
                "id": record["id"], "text": record["text"], "target": target, "label": labels[i],
                "frames": record["frame_labels"] if i % 2 else ["Economic"], "annotator": "reviewer@example.com",
                "updated_at": f"2024-05-0{i + 1}T12:00:00Z", "model_label": record["stance"][target]["label"],
                "model_version": record["model_version"],
            })
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return lines


@pytest.mark.model
def test_agreement_on_seed_paragraphs_matches_sklearn(seeds_run_dir, tmp_path, default_config):
    from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix

    lines = _hand_annotations(seeds_run_dir, tmp_path / "reviewed.jsonl")
    data = collect(seeds_run_dir, default_config, tmp_path / "reviewed.jsonl")
    assert data.agreement is not None and [t.target for t in data.agreement.targets] == ["China", "Russia", "United States"]
    for entry in data.agreement.targets:
        human = [line["label"] for line in lines if line["target"] == entry.target]
        model = [line["model_label"] for line in lines if line["target"] == entry.target]
        assert entry.n == 6
        assert entry.accuracy == pytest.approx(accuracy_score(human, model))
        assert len(set(human) | set(model)) > 1  # kappa is defined
        assert entry.kappa == pytest.approx(cohen_kappa_score(human, model))
        assert entry.matrix == confusion_matrix(human, model, labels=entry.labels).tolist()
        assert entry.correction_rate == pytest.approx(1 - accuracy_score(human, model))  # model_label is the run's label here
    assert data.agreement.paragraphs == 6 and data.agreement.frames_compared == 6


def test_report_module_imports_no_heavy_library_at_import_time():
    code = "import sys, stance.cli, stance.report, stance.report.render, stance.report.plots; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"
