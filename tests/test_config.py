"""The config: the shipped files validate, extends merges, everything generated comes from one definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from stance.config import load_config
from stance.prompts import frame_hypotheses, stance_hypotheses

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_validates(name):
    """Any config in configs/ (also one a user adds, such as the README's nato.yaml) validates and is usable:
    targets, labels with a polarity each, a positive and a negative label for F_avg."""
    config = load_config(ROOT / "configs" / name)
    assert config.targets and all(t.name for t in config.targets)
    assert config.labels_with("positive") and config.labels_with("negative")


def test_the_readme_nato_example_validates(tmp_path):
    """The README's `configs/nato.yaml` example, written next to the shipped configs."""
    import re
    import shutil

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n# configs/nato.yaml\n(.*?)```", readme, re.S)
    assert example, "the README shows a configs/nato.yaml example"
    shutil.copy(ROOT / "configs" / "default.yaml", tmp_path / "default.yaml")
    (tmp_path / "nato.yaml").write_text(example.group(1), encoding="utf-8")
    config = load_config(tmp_path / "nato.yaml")
    assert [t.name for t in config.targets] == ["NATO", "Ukraine"]


def test_default_config_defines_labels_and_the_15_frames(default_config):
    assert default_config.all_label_names == ("favorable", "neutral", "unfavorable", "not_mentioned")
    assert len(default_config.frame_names) == 15
    assert default_config.frame_names[0] == "Economic" and default_config.frame_names[-1] == "Other"
    assert default_config.model.device == "auto"


def test_extends_overrides_only_what_it_names(tmp_path):
    from conftest import write_config

    config = load_config(write_config(tmp_path / "c.yaml", "targets:\n  - name: NATO\n    aliases: [NATO, North Atlantic Treaty Organization]\nmodel:\n  batch_size: 8\n"))
    assert [t.name for t in config.targets] == ["NATO"]
    assert config.model.batch_size == 8
    assert config.model.name == load_config().model.name  # merged, not replaced
    assert len(config.frame_names) == 15


def test_hypotheses_are_generated_from_labels_and_targets(default_config):
    china = default_config.targets[0]
    assert stance_hypotheses(default_config, china, include_not_mentioned=False) == [
        ("favorable", "The author of this text supports China."),
        ("neutral", "The author of this text is neutral toward China."),
        ("unfavorable", "The author of this text opposes China."),
    ]
    assert stance_hypotheses(default_config, china, include_not_mentioned=True)[-1] == (
        "not_mentioned", "This text does not mention China."
    )
    frames = dict(frame_hypotheses(default_config))
    assert "Other" not in frames  # residual: derived, not asked
    assert frames["Security and defense"] == "This text is about security, war, the military or defense."


def test_fingerprint_changes_with_what_changes_predictions(tmp_path, default_config):
    from conftest import write_config

    same_but_labelstudio = load_config(write_config(tmp_path / "a.yaml", "labelstudio:\n  project: other\n"))
    other_template = load_config(write_config(tmp_path / "b.yaml", "model:\n  hypothesis_template: 'Text {verb} {target}.'\n"))
    assert same_but_labelstudio.fingerprint() == default_config.fingerprint()
    assert other_template.fingerprint() != default_config.fingerprint()


def test_unknown_target_becomes_an_ad_hoc_target(default_config):
    assert default_config.target("China").aliases
    adhoc = default_config.target("Ukraine")
    assert adhoc.name == "Ukraine" and adhoc.all_names == ("Ukraine",)


def test_extends_cycle_is_reported(tmp_path):
    from stance.errors import ConfigError

    (tmp_path / "a.yaml").write_text("extends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")
