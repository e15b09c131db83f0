"""The alias gate: whole words, capitals-only aliases exact, plurals, and sentence selection."""

from __future__ import annotations

import pytest

from stance.config import Target
from stance.mentions import MentionGate


@pytest.fixture(scope="module")
def gate(default_config):
    return MentionGate(default_config.targets)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S.-led order is fraying.", ["United States"]),
        ("Let us talk about it.", []),
        ("Americans and Russians disagree.", ["Russia", "United States"]),
        ("Sino-US ties worsened.", ["China", "United States"]),
        ("The Kremlin denied it.", ["Russia"]),
        ("A trumpet played in Moscow.", ["Russia"]),
        ("Beijing’s envoy met Lavrov.", ["China", "Russia"]),
        ("The Chinese Foreign Ministry.", ["China"]),
        ("He played a USB drive.", []),
        ("Shanghai stocks rose.", []),
    ],
)
def test_mentions(gate, text, expected):
    assert [t.name for t in gate.mentioned(text)] == expected


def test_new_target_from_yaml_needs_no_code():
    gate = MentionGate([Target(name="NATO", aliases=("NATO", "North Atlantic Treaty Organization", "Atlantic alliance"))])
    assert gate.mentioned("The Atlantic  alliance met.")[0].name == "NATO"
    assert not gate.mentioned("Nato-style cuts")  # capitals-only alias matches exactly


def test_sentences_mentioning(gate, default_config):
    text = "Moscow hosted the talks. The weather was fine. Putin spoke last."
    russia = default_config.target("Russia")
    assert gate.sentences_mentioning(text, russia) == ["Moscow hosted the talks.", "Putin spoke last."]
    assert gate.sentences_mentioning("Nothing here.", russia) == ["Nothing here."]


def test_markup_in_aliases_is_literal():
    gate = MentionGate([Target(name="AT&T <Inc>", aliases=("AT&T", "A.T. (Inc)"))])
    assert gate.mentioned("Shares of AT&T fell.") and gate.mentioned("Shares of A.T. (Inc) fell.")
    assert not gate.mentioned("ATxT")


def test_a_dateline_is_not_a_mention(default_config):
    from stance.scoring.targeted import gate_for

    gate = gate_for(default_config, default_config.targets)
    assert [t.name for t in gate.mentioned("WASHINGTON, Nov 3 (Reuters) - Gulf officials met on Tuesday.")] == []
    assert [t.name for t in gate.mentioned("MOSCOW (Eastern Wire) — The talks resumed.")] == []
    assert [t.name for t in gate.mentioned("BEIJING, March 5 - Russian envoys arrived.")] == ["Russia"]
    assert [t.name for t in gate.mentioned("Washington said the talks would resume.")] == ["United States"]
    assert [t.name for t in gate.mentioned("Washington - the capital - was quiet.")] == ["United States"]  # no date or agency: not a dateline


def test_demonyms_of_target_names_count():
    from stance.mentions import MentionGate

    gate = MentionGate([Target(name="North Korea"), Target(name="Iran"), Target(name="Taiwan"), Target(name="Ukraine")], demonyms=True)
    assert [t.name for t in gate.mentioned("North Korean troops and Iranian drones")] == ["North Korea", "Iran"]
    assert [t.name for t in gate.mentioned("Taiwanese and Ukrainian officials")] == ["Taiwan", "Ukraine"]
    assert not MentionGate([Target(name="North Korea")]).mentioned("North Korean troops")  # off by default in the class


def test_a_surname_counts_after_the_full_name_in_the_same_document(default_config):
    from stance.annotator import Annotator, with_document_context
    from stance.records import Paragraph

    texts = ["Foreign Minister Wang Yi arrived in Moscow.", "Wang said the talks were useful.", "Later, Wang left for Minsk."]
    paragraphs = [Paragraph(id=f"d:{i}:0000000{i}", doc_id="d", index=i, text=t, start=0, end=len(t)) for i, t in enumerate(texts)]
    other = Paragraph(id="e:0:00000000", doc_id="e", index=0, text="Wang said the talks were useful.", start=0, end=32)

    class Constant:  # a scorer that only records what it was asked
        model_version, scores_frames, asked = "const", False, []

        def score(self, texts, targets, *, frames=True):
            from stance.scoring.base import ParagraphScores

            self.asked.append([[t.name for t in ts] for ts in targets])
            return [ParagraphScores({t.name: {"favorable": 0.2, "neutral": 0.6, "unfavorable": 0.2} for t in ts}, {}) for ts in targets]

    annotator = Annotator(default_config.model_copy(update={"frames": default_config.frames.model_copy(update={"enabled": False})}), Constant())
    predictions = annotator.predict(list(with_document_context([*paragraphs, other], annotator.gate)))
    china = [p.stance["China"] for p in predictions]
    assert [c.mentioned for c in china] == [True, True, True, False]  # in document e, "Wang" alone is no one
    assert china[3].label == "not_mentioned" and china[3].why == "no alias found"
    assert china[1].label == "neutral" and china[1].why is None
