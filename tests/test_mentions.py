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
