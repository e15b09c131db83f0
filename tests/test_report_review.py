"""The report's review part: the correction rate per model version across review rounds (with its
interval by bootstrap over articles), agreement per outlet, and annotators against each other,
checked against hand counts, scikit-learn and krippendorff; and the page and CSVs after two rounds.

`two_review_rounds` writes the pulled-annotation file of two review rounds for any run (the
browser test and the closing note use it too): round 1 on the pre-labels of an older model, many
corrected; round 2 on the run's own model, fewer corrected; a second annotator on part of each
round, disagreeing now and then.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from test_report import LABELS, NM, jsonl, rec

from stance.records import LabelledRecord
from stance.report import build_report, collect
from stance.report.review import agreement_by_outlet, annotators_compared, latest_per_version, review_rounds

OLD_MODEL = "embedding:all-MiniLM-L6-v2:round1"


def two_review_rounds(run_dir: Path, path: Path, *, seed: int = 3, per_round: int = 60, old_correction: float = 0.35,
                      new_correction: float = 0.12) -> list[dict]:
    """Pulled annotations of two review rounds over the paragraphs of `run_dir` that mention a target.

    Round 1 (model_version OLD_MODEL, reviewed in March): pre-labels from an older model, which
    disagreed with the run's label on `old_correction` of them; people gave the run's label.
    Round 2 (the run's model version, reviewed in June, other paragraphs): pre-labels are the run's
    labels, people changed `new_correction` of them. In both rounds `second@example.com` also
    labels every fourth item and differs from the first annotator on a third of those.
    """
    rng = random.Random(seed)
    records = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    items = [(r, target) for r in records for target, s in r["stance"].items() if s["label"] != NM]
    rng.shuffle(items)
    stance = ["favorable", "neutral", "unfavorable"]
    lines: list[dict] = []
    for number, (version, month, share) in enumerate(((OLD_MODEL, "03", old_correction), (None, "06", new_correction))):
        for i, (record, target) in enumerate(items[number * per_round:(number + 1) * per_round]):
            run_label = record["stance"][target]["label"]
            changed = rng.random() < share
            other = rng.choice([label for label in stance if label != run_label])
            if version == OLD_MODEL:
                shown, human = (other, run_label) if changed else (run_label, run_label)
            else:
                shown, human = run_label, other if changed else run_label
            base = {"id": record["id"], "text": record["text"], "target": target, "frames": None, "doc_id": record["doc_id"],
                    "model_label": shown, "model_version": version or record["model_version"]}
            lines.append({**base, "label": human, "annotator": "first@example.com", "updated_at": f"2025-{month}-{1 + i % 28:02d}T10:00:00Z"})
            if i % 4 == 0:
                second = rng.choice([label for label in stance if label != human]) if rng.random() < 1 / 3 else human
                lines.append({**base, "label": second, "annotator": "second@example.com", "updated_at": f"2025-{month}-{1 + i % 28:02d}T11:00:00Z"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return lines


def labelled(pid, target, label, *, shown, version, when, who="ann", doc=None):
    return LabelledRecord(pid, "text", target, label, doc_id=doc, annotator=who, updated_at=when, model_label=shown, model_version=version)


def test_rounds_give_the_correction_rate_per_model_version_in_review_order():
    records = [rec(f"p{i}", {"X": "neutral"}, doc=f"d{i // 2}") for i in range(20)]
    reviews = []
    for i in range(10):  # "zeta" reviewed first (January): 4 of 10 corrected
        reviews.append(labelled(f"p{i}", "X", "unfavorable" if i < 4 else "neutral", shown="neutral", version="zeta", when=f"2025-01-{i + 1:02d}"))
    for i in range(10, 20):  # "alpha" reviewed later (May): 1 of 10 corrected
        reviews.append(labelled(f"p{i}", "X", "favorable" if i == 10 else "neutral", shown="neutral", version="alpha", when=f"2025-05-{i:02d}"))
    reviews.append(LabelledRecord("elsewhere", "t", "X", "neutral"))  # not in the run, no pre-label: cannot be judged
    rounds, unjudged = review_rounds(reviews, records, 2000, 17)
    assert unjudged == 1
    assert [(r.number, r.model_version, r.labels, r.corrected) for r in rounds] == [(1, "zeta", 10, 4), (2, "alpha", 10, 1)]
    first, second = rounds
    assert first.rate.value == pytest.approx(0.4) and second.rate.value == pytest.approx(0.1)
    assert first.change is None and second.change.value == pytest.approx(-0.3)
    assert first.rate.low < 0.4 < first.rate.high and second.change.low < -0.3 < second.change.high
    assert (first.first, second.last) == ("2025-01-01", "2025-05-19")
    assert review_rounds(reviews, records, 2000, 17) == (rounds, unjudged)  # same seed, same intervals


def test_a_paragraph_reviewed_again_in_a_later_round_counts_in_both():
    reviews = [labelled("p1", "X", "neutral", shown="unfavorable", version="v1", when="2025-01-01"),
               labelled("p1", "X", "neutral", shown="unfavorable", version="v1", when="2025-01-02"),  # the same label saved twice
               labelled("p1", "X", "neutral", shown="neutral", version="v2", when="2025-06-01")]
    kept = latest_per_version(reviews)
    assert sorted((r.model_version, r.updated_at) for r in kept) == [("v1", "2025-01-02"), ("v2", "2025-06-01")]
    rounds, _ = review_rounds(kept, [rec("p1", {"X": "neutral"})], 200, 17)
    assert [(r.model_version, r.corrected) for r in rounds] == [("v1", 1), ("v2", 0)]


def test_annotators_against_each_other_match_sklearn_and_krippendorff():
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(11)
    stance = LABELS[:3]
    items = [(f"p{i}", "X") for i in range(30)]
    first = {item: rng.choice(stance) for item in items}
    second = {item: (first[item] if rng.random() < 0.7 else rng.choice(stance)) for item in items[:20]}
    reviews = [LabelledRecord(pid, "t", t, label, annotator="ann") for (pid, t), label in first.items()]
    reviews += [LabelledRecord(pid, "t", t, label, annotator="bob") for (pid, t), label in second.items()]
    people = annotators_compared(reviews, [rec("p0", {"X": "neutral"}, text="China and X")], LABELS)
    assert people is not None and people.items == 20
    (pair,) = people.pairs
    shared = list(second)
    assert (pair.first, pair.second, pair.items) == ("ann", "bob", 20)
    assert pair.agreed == sum(first[i] == second[i] for i in shared)
    assert pair.kappa == pytest.approx(cohen_kappa_score([first[i] for i in shared], [second[i] for i in shared]))
    matrix = [[LABELS.index(first[i]) for i in shared], [LABELS.index(second[i]) for i in shared]]
    assert people.alpha == pytest.approx(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-4)
    assert {d.id for d in people.disagreements} == {pid for pid, _ in shared if first[(pid, "X")] != second[(pid, "X")]}
    assert all(set(d.labels) == {"ann", "bob"} for d in people.disagreements)
    assert annotators_compared(reviews[:30], [], LABELS) is None  # one annotator: nothing to compare


def test_agreement_per_outlet_pools_the_targets_of_each_outlet():
    records = [rec("a", {"X": "neutral", "Y": "favorable"}, source="Outlet A"), rec("b", {"X": "unfavorable"}, source="Outlet B"),
               rec("c", {"X": "neutral"}, source=None)]
    reviews = [LabelledRecord("a", "t", "X", "neutral"), LabelledRecord("a", "t", "Y", "unfavorable"),
               LabelledRecord("b", "t", "X", "unfavorable"), LabelledRecord("c", "t", "X", "favorable", model_label="favorable")]
    by_outlet = {g.name: g for g in agreement_by_outlet(reviews, records, ["X", "Y"])}
    assert (by_outlet["Outlet A"].n, by_outlet["Outlet A"].accuracy, by_outlet["Outlet A"].corrections) == (2, 0.5, 1)
    assert (by_outlet["Outlet B"].n, by_outlet["Outlet B"].accuracy) == (1, 1.0)
    assert (by_outlet["(no source)"].accuracy, by_outlet["(no source)"].corrections) == (0.0, 0)  # people kept the pre-label they saw


def test_page_and_csv_after_two_review_rounds(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    records = []
    for i in range(80):
        outlet = ["Alpha Wire", "Beta Daily", "Gamma Post"][i % 3]
        label = ["favorable", "neutral", "unfavorable", "neutral"][i % 4]
        records.append(rec(f"p{i}", {"China": label, "Russia": NM}, doc=f"d{i // 2}", source=outlet, date=f"2024-0{1 + i % 6}-10",
                           text=f"China said {i} things."))
    (run / "predictions.jsonl").write_text(jsonl(records), encoding="utf-8")
    lines = two_review_rounds(run, tmp_path / "reviewed.jsonl", per_round=30, old_correction=0.5, new_correction=0.1)
    out = build_report(run, tmp_path / "review.html", annotations=tmp_path / "reviewed.jsonl")
    page = out.read_text(encoding="utf-8")
    data = collect(run, annotations=tmp_path / "reviewed.jsonl")
    first, second = data.review.rounds
    assert (first.model_version, second.model_version) == (OLD_MODEL, "test")
    first_lines = [x for x in lines if x["model_version"] == OLD_MODEL]
    assert first.labels == len(first_lines) and first.corrected == sum(x["label"] != x["model_label"] for x in first_lines)
    assert "Review rounds: corrections per model version" in page and OLD_MODEL in page
    assert f"{first.rate.value:.1%}" in page and f"[{first.rate.low:.1%}, {first.rate.high:.1%}]" in page
    assert "Annotators against each other" in page and "second@example.com" in page
    with (tmp_path / "review_files" / "corrections-by-model-version.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model_version"] for r in rows] == [OLD_MODEL, "test"]
    assert float(rows[0]["correction_rate"]) == pytest.approx(first.rate.value, abs=1e-4)
    assert float(rows[1]["change_low"]) == pytest.approx(second.change.low, abs=1e-4)
    assert rows[1]["resamples"] == "2000" and rows[1]["seed"] == "17"
    with (tmp_path / "review_files" / "annotator-disagreements.csv").open(encoding="utf-8") as handle:
        disagreements = list(csv.DictReader(handle))
    assert {r["id"] for r in disagreements} == {d.id for d in data.review.annotators.disagreements}
