"""Articles, outlets and uncertainty in the report: the bootstrap over articles (reproducible,
clustered, the vectorised sums equal to a plain loop), the outlet comparison against hand counts,
stance over time with counts and small bins, the article view by the documents.jsonl rule, mention
highlighting, the CSV files beside the page, and plots whose texts all fit their canvas."""

from __future__ import annotations

import csv
import datetime as dt
import re

import numpy as np
import pytest
from test_report import NM, SCRIPT_TEXT, jsonl, rec

from stance.report import build_report, collect
from stance.report.articles import article_counts, frames_by_article_stance, top_frames
from stance.report.highlight import Highlighter
from stance.report.outlets import compare_outlets
from stance.report.per_article import Polarity, article_rows
from stance.report.plots import confusion_matrices, frame_heatmaps, outside_canvas, tone_over_time
from stance.report.render import interval, signed
from stance.report.trends import tone_trends
from stance.report.uncertainty import CHUNK, ArticleBootstrap, grouped_sums, percentile_interval

STANCE = ["favorable", "neutral", "unfavorable"]
POLARITY = Polarity(frozenset({"favorable"}), frozenset({"unfavorable"}))


# ---------------------------------------------------------------------------------------------
# The bootstrap


def test_bootstrap_is_reproducible_and_draws_whole_articles():
    articles = [f"d{i}" for i in range(40)]
    values = np.arange(80, dtype=float).reshape(40, 2)
    first = ArticleBootstrap(articles, 600, seed=17).sums(values)
    assert first.shape == (600, 2)
    assert np.array_equal(first, ArticleBootstrap(articles, 600, seed=17).sums(values))  # same seed, same resamples
    assert not np.array_equal(first, ArticleBootstrap(articles, 600, seed=18).sums(values))
    counts = ArticleBootstrap(articles, 600, seed=17).sums(np.ones((40, 1)))
    assert np.all(counts == 40)  # every resample draws as many articles as there are


def test_grouped_sums_equal_a_plain_loop_over_the_same_resamples():
    rng = np.random.default_rng(0)
    k = 25
    numerators, denominators = rng.integers(-3, 4, k).astype(float), rng.integers(0, 5, k).astype(float)
    groups = [list(range(0, 10)), list(range(10, 25)), list(range(k))]
    bootstrap = ArticleBootstrap([f"a{i}" for i in range(k)], 2 * CHUNK + 7, seed=5)
    sums = grouped_sums(bootstrap, numerators, denominators, groups)
    weights = np.vstack([bootstrap._weights(c) for c in range(3)])
    for g, members in enumerate(groups):
        for b in (0, CHUNK, 2 * CHUNK + 6):  # a resample from each chunk
            assert sums.resampled_numerator[b, g] == sum(weights[b, i] * numerators[i] for i in members)
            assert sums.resampled_denominator[b, g] == sum(weights[b, i] * denominators[i] for i in members)
    rest, samples = sums.complement(0, 2)
    expected = (sums.resampled_numerator[:, 2] - sums.resampled_numerator[:, 0]) / (sums.resampled_denominator[:, 2] - sums.resampled_denominator[:, 0])
    assert np.allclose(samples, expected, equal_nan=True)
    assert rest.value == pytest.approx(numerators[10:].sum() / denominators[10:].sum())


def test_paragraphs_of_one_article_are_not_counted_as_independent():
    """20 articles of 10 paragraphs, each article all favorable or all unfavorable: the tone's
    interval is as wide as 20 independent units make it (about +-0.44), not 200 (+-0.14)."""
    records = []
    for a in range(20):
        label = "favorable" if a % 2 else "unfavorable"
        records += [rec(f"a{a}p{i}", {"X": label}, doc=f"a{a}", source="Outlet") for i in range(10)]
    rows = article_rows(records, ["X"], NM, POLARITY)
    bootstrap = ArticleBootstrap([r.doc_id for r in rows], 2000, seed=17)
    tone = grouped_sums(bootstrap, [r.tone["X"] for r in rows], [r.mentioned("X") for r in rows], [list(range(20))]).estimate(0)
    assert tone.value == 0.0 and tone.articles == 20
    assert 0.33 < (tone.high - tone.low) / 2 < 0.55
    naive = np.random.default_rng(1).choice([-1, 1], size=(2000, 200)).mean(axis=1)  # paragraphs as if independent
    low, high = percentile_interval(naive)
    assert tone.high - tone.low > 2.5 * (high - low)


# ---------------------------------------------------------------------------------------------
# Outlets, time, articles


def _outlet_records():
    """Outlet A: 4 articles, B: 3, C: 1 (too small to compare alone), one article without a source."""
    plan = {
        "A": [["favorable", "favorable"], ["favorable", "neutral"], ["unfavorable"], ["favorable", NM]],
        "B": [["unfavorable", "unfavorable"], ["neutral"], ["unfavorable", "favorable"]],
        "C": [["neutral"]],
        None: [["favorable"]],
    }
    records, n = [], 0
    for outlet, articles in plan.items():
        for a, labels in enumerate(articles):
            for i, label in enumerate(labels):
                records.append(rec(f"{outlet}{a}p{i}", {"X": label, "Y": NM}, doc=f"{outlet}{a}", source=outlet,
                                   date=f"2024-0{1 + n % 3}-15"))
            n += 1
    return records


def test_outlet_comparison_matches_hand_counts():
    rows = article_rows(_outlet_records(), ["X", "Y"], NM, POLARITY)
    bootstrap = ArticleBootstrap([r.doc_id for r in rows], 2000, seed=17)
    comparison = compare_outlets(rows, ["X", "Y"], STANCE, bootstrap)
    assert comparison is not None
    assert (comparison.outlets, comparison.outlets_total, comparison.left_out, comparison.without_source) == (["A", "B"], 3, 1, 1)
    a, b = comparison.cells[("A", "X")], comparison.cells[("B", "X")]
    assert a.counts == {"favorable": 4, "neutral": 1, "unfavorable": 1} and (a.paragraphs, a.articles) == (6, 4)
    assert a.tone.value == pytest.approx((4 - 1) / 6)
    assert b.tone.value == pytest.approx((1 - 3) / 5)
    rest_of_a = (1 - 3 + 0) / (5 + 1)  # B and C: the small outlet counts among the others
    assert a.versus_rest.value == pytest.approx(a.tone.value - rest_of_a)
    assert a.versus_rest.low < a.versus_rest.value < a.versus_rest.high
    (pair,) = [p for p in comparison.pairs if p.target == "X"]
    assert (pair.first, pair.second) == ("A", "B") and pair.difference.value == pytest.approx(a.tone.value - b.tone.value)
    assert comparison.cells[("A", "Y")].tone.value is None  # never mentioned: no tone, no interval
    assert comparison.overall["X"].value == pytest.approx((4 - 1 + 1 - 3 + 0) / 12)
    assert a.small and b.small  # fewer than 5 articles
    assert compare_outlets(article_rows([rec("p", {"X": "neutral"})], ["X"], NM, POLARITY), ["X"], STANCE, bootstrap) is None


def test_stance_over_time_counts_every_bin_and_marks_small_ones(tmp_path):
    from stance.config import load_config
    from stance.documents import iter_documents, share_rule

    config = load_config()
    records = [rec(f"d{a}p{i}", {"China": ["favorable", "unfavorable"][(a + i) % 2]}, doc=f"d{a}", date="2024-01-10" if a < 6 else "2024-03-05")
               for a in range(8) for i in range(2)]
    rows = article_rows(records, ["China"], NM, POLARITY)
    documents = list(iter_documents(iter(records), config, share_rule(config)))
    bins = [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)]
    trend = tone_trends(rows, documents, ["China"], STANCE, "month", bins, ArticleBootstrap([r.doc_id for r in rows], 500, 17))["China"]
    january, february, march = trend.bins
    assert [b.name for b in trend.bins] == ["2024-01", "2024-02", "2024-03"]
    assert (january.tone.articles, january.mentioned, january.small) == (6, 12, False)
    assert (february.tone.articles, february.tone.value, february.tone.has_interval) == (0, None, False)  # empty, kept
    assert march.small and march.tone.articles == 2 and march.tone.has_interval
    assert sum(january.articles.values()) == 6  # articles by article stance, every bin counted


def test_article_view_follows_the_documents_rule():
    from stance.config import load_config
    from stance.documents import iter_documents, share_rule

    config = load_config()
    strong = {"favorable": 0.1, "neutral": 0.1, "unfavorable": 0.8, NM: 0.0}
    weak = {"favorable": 0.4, "neutral": 0.35, "unfavorable": 0.25, NM: 0.0}
    records = [
        rec("a1", {"China": "unfavorable"}, doc="a", scores={"China": strong}, frames=["Economic"]),
        rec("a2", {"China": "favorable"}, doc="a", scores={"China": weak}, frames=["Economic"]),
        rec("a3", {"China": NM}, doc="a"),
        rec("b1", {"China": "favorable"}, doc="b", scores={"China": weak}, frames=["Political"]),
        rec("c1", {"China": NM}, doc="c"),
    ]
    documents = list(iter_documents(iter(records), config, share_rule(config)))
    counts = article_counts(documents, ["China"], STANCE)
    assert counts == {"China": {"favorable": 1, "neutral": 0, "unfavorable": 1}}  # a: mean of its two mentioning paragraphs; c left out
    by_stance = frames_by_article_stance(documents, "China", STANCE, config.frame_names)
    assert by_stance["unfavorable"][0] == 1 and by_stance["unfavorable"][1]["Economic"] == 1
    assert [f.frame for f in top_frames(by_stance)["favorable"]] == ["Political"]


# ---------------------------------------------------------------------------------------------
# Mentions, CSV files, plots


def test_mentions_are_marked_with_the_runs_gate_and_escaped(tmp_path, default_config):
    records = [
        rec("p0", {"China": "neutral"}, doc="d", text="BEIJING, Jan 3 (Reuters) - Foreign Minister Wang Yi met envoys."),
        rec("p1", {"China": "unfavorable"}, doc="d", text=f"Later Wang said Chinese firms {SCRIPT_TEXT} & more.",
            scores={"China": {"favorable": 0.02, "neutral": 0.02, "unfavorable": 0.96, NM: 0.0}}),
    ]
    records[1] = type(records[1])(**{**records[1].__dict__, "index": 1})
    highlighter = Highlighter(default_config, records)
    marked = [s.text for s in highlighter.segments(records[1], "China", 1200) if s.mention]
    assert marked == ["Wang", "Chinese"]  # the surname counts after the full name earlier in the document
    first = [s.text for s in highlighter.segments(records[0], "China", 1200) if s.mention]
    assert first == ["Wang Yi"]  # the dateline's BEIJING is where the story was filed, not a mention
    assert "".join(s.text for s in highlighter.segments(records[1], "China", 20)).endswith(" …")
    run = tmp_path / "run"
    run.mkdir()
    (run / "predictions.jsonl").write_text(jsonl(records), encoding="utf-8")
    page = build_report(run, None, default_config).read_text(encoding="utf-8")
    assert "Later <mark>Wang</mark> said <mark>Chinese</mark> firms &lt;script&gt;window.__pwned" in page
    assert "<script" not in page


def _multi_outlet_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    records = []
    for a in range(36):
        outlet = ["Wire One", "Wire Two", "Daily Three"][a % 3]
        for i in range(3):
            label = ["favorable", "neutral", "unfavorable"][(a + i + (a % 3 == 2)) % 3]
            records.append(rec(f"a{a}p{i}", {"China": label, "Russia": NM if i else "unfavorable"}, doc=f"a{a}", source=outlet,
                               date=f"202{3 + a % 2}-{1 + a % 12:02d}-05", frames=["Economic"] if i else ["Political", "Economic"]))
    (run / "predictions.jsonl").write_text(jsonl(records), encoding="utf-8")
    return run


def test_every_table_is_a_csv_beside_the_page_and_linked(tmp_path, default_config):
    run = _multi_outlet_run(tmp_path)
    out = build_report(run, tmp_path / "out" / "corpus.html", default_config)
    page = out.read_text(encoding="utf-8")
    folder = tmp_path / "out" / "corpus_files"
    links = set(re.findall(r'href="(corpus_files/[a-z-]+\.csv)"', page))
    written = {f"corpus_files/{p.name}" for p in folder.glob("*.csv")}
    assert links == written and {"corpus_files/outlet-comparison.csv", "corpus_files/stance-over-time.csv",
                                 "corpus_files/article-stance.csv", "corpus_files/frames.csv"} <= written
    data = collect(run, default_config)
    with (folder / "outlet-comparison.csv").open(encoding="utf-8") as handle:
        rows = {(r["outlet"], r["target"]): r for r in csv.DictReader(handle)}
    for (outlet, target), cell in data.outlets.cells.items():
        row = rows[(outlet, target)]
        assert int(row["mentioned_paragraphs"]) == cell.paragraphs
        if cell.versus_rest.has_interval:
            assert float(row["difference_low"]) == pytest.approx(cell.versus_rest.low, abs=1e-4)
            assert interval(cell.versus_rest) in page
    assert (signed(-0.254), signed(0.1), signed(-0.001), signed(None)) == ("\u22120.25", "+0.10", "0.00", "n/a")
    with (folder / "stance-over-time.csv").open(encoding="utf-8") as handle:
        bins = list(csv.DictReader(handle))
    assert {r["unit"] for r in bins} == {"month"} and len(bins) == 2 * len(data.bins)  # every bin of both targets, empty ones too
    (folder / "stale.csv").write_text("x\n", encoding="utf-8")
    build_report(run, tmp_path / "out" / "corpus.html", default_config)
    assert not (folder / "stale.csv").exists()  # the folder holds this report's files only


def test_plots_keep_every_text_inside_the_canvas(tmp_path, default_config):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frames = ["Legality, constitutionality and jurisprudence", "Policy prescription and evaluation", "Economic"]
    targets = ["The Democratic People's Republic of Korea", "European Union", "United States", "NATO", "Iran"]
    by_target = {t: {label: (4, {f: i for i, f in enumerate(frames)}) for label in STANCE} for t in targets}
    heatmap = frame_heatmaps(targets, frames, by_target, STANCE, unit="article", alt="x")
    assert heatmap.clipped == ()  # the colour bar's title and the long frame names fit
    run = _multi_outlet_run(tmp_path)
    data = collect(run, default_config)
    trends = [data.trends[t] for t in data.targets] * 3  # six panels
    assert tone_over_time(trends, STANCE, data.colours, alt="x").clipped == ()
    assert confusion_matrices(["A"], {"A": [[1, 2], [3, 4]]}, {"A": ["not_mentioned", "unfavorable"]}, alt="x").clipped == ()
    fig = Figure(figsize=(2, 1))
    fig.text(0.9, 0.5, "a label running off the right edge")
    FigureCanvasAgg(fig).draw()
    assert outside_canvas(fig) == ("a label running off the right edge",)  # the check sees what it should
