"""The Label Studio labeling config, generated from the one definition of targets, labels and frames.

Layout: the document's title, date and source as a header line, the previous paragraph, the
paragraph itself, the next paragraph; then one single-choice group per target (stance labels
plus `not_mentioned`, descriptions as hints) and one multi-choice group for frames.

Every name and value goes through XML escaping, so a target called `AT&T <Inc>` works. Control
names are derived from the target names (`stance_` + a slug), so they are stable from one push
to the next; targets whose slugs would collide get a short hash of their name appended.

The XML is written here from a short template rather than with the SDK's `LabelInterface.create`,
which lays tags out its own way: the bytes must stay what earlier pushes gave their projects (push
compares them). It is read back with the SDK's `LabelInterface`, Label Studio's own parser and
validator: it checks the generated config (`checked_labeling_config`) and reads a project's config
when push compares its labels with ours (`config_differences`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from stance.config import StanceConfig
from stance.errors import LabelStudioError

TEXT_NAME = "text"  # the object tag every choice group labels; data key of the paragraph text
CONTEXT_NAME = "context"  # data key of the "title · date · source" line
BEFORE_NAME = "before"  # data key of the previous paragraph of the same document
AFTER_NAME = "after"  # data key of the next paragraph
FRAMES_NAME = "frames"
STANCE_PREFIX = "stance_"
DATA_KEYS = (TEXT_NAME, CONTEXT_NAME, BEFORE_NAME, AFTER_NAME)


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug or "target"


def control_names(config: StanceConfig) -> dict[str, str]:
    """Target name -> the `from_name` of its choice group, e.g. "United States" -> "stance_united_states"."""
    slugs = {t.name: _slug(t.name) for t in config.targets}
    counts: dict[str, int] = {}
    for slug in slugs.values():
        counts[slug] = counts.get(slug, 0) + 1
    names = {}
    for target, slug in slugs.items():
        if counts[slug] > 1:
            slug = f"{slug}_{hashlib.sha1(target.encode('utf-8')).hexdigest()[:6]}"
        names[target] = STANCE_PREFIX + slug
    return names


def labeling_config(config: StanceConfig) -> str:
    """The labeling config XML for `config` (deterministic: the same config gives the same bytes)."""
    names = control_names(config)
    label_hints = {label.name: label.description for label in config.labels}
    label_hints[config.not_mentioned.name] = config.not_mentioned.description
    lines = [
        "<View>",
        '  <View style="color: #555; font-size: 0.9em; margin-bottom: 0.5em">',
        f'    <Text name="{CONTEXT_NAME}" value="${CONTEXT_NAME}"/>',
        "  </View>",
        '  <View style="color: #888; font-size: 0.9em; border-left: 3px solid #ddd; padding-left: 0.6em">',
        f'    <Text name="{BEFORE_NAME}" value="${BEFORE_NAME}"/>',
        "  </View>",
        '  <View style="font-size: 1.1em; border-left: 3px solid #1f77b4; padding: 0.4em 0.6em; margin: 0.4em 0">',
        f'    <Text name="{TEXT_NAME}" value="${TEXT_NAME}"/>',
        "  </View>",
        '  <View style="color: #888; font-size: 0.9em; border-left: 3px solid #ddd; padding-left: 0.6em; margin-bottom: 1em">',
        f'    <Text name="{AFTER_NAME}" value="${AFTER_NAME}"/>',
        "  </View>",
    ]
    for target in config.targets:
        lines.append(f"  <Header value={quoteattr('Stance toward ' + target.name)} size=\"5\"/>")
        lines.append(f'  <Choices name="{names[target.name]}" toName="{TEXT_NAME}" choice="single" showInline="true">')
        for label in config.all_label_names:
            lines.append(f"    <Choice value={quoteattr(label)} hint={quoteattr(label_hints[label])}/>")
        lines.append("  </Choices>")
    if config.frame_names:
        lines.append('  <Header value="Frames" size="5"/>')
        lines.append(f'  <Choices name="{FRAMES_NAME}" toName="{TEXT_NAME}" choice="multiple" showInline="true">')
        for frame in config.frames.items:
            lines.append(f"    <Choice value={quoteattr(frame.name)} hint={quoteattr(frame.description)}/>")
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ChoiceGroup:
    """The part of a `<Choices>` tag that decides which results are valid."""

    name: str
    to_name: str
    mode: str
    values: tuple[str, ...]


def checked_labeling_config(config: StanceConfig) -> str:
    """`labeling_config(config)`, checked by Label Studio's own rules (the SDK's LabelInterface:
    its schema, unique names, every toName naming a tag), so a config the server would refuse is
    reported before anything is sent."""
    from label_studio_sdk._legacy.exceptions import LabelStudioValidationErrorSentryIgnored  # what validate() raises

    xml = labeling_config(config)
    try:
        _interface(xml).validate()
    except (ValueError, LabelStudioValidationErrorSentryIgnored) as exc:
        raise LabelStudioError(
            f"the labeling config generated from the config's targets, labels and frames is not valid for Label Studio: {exc};"
            " expected names that Label Studio accepts (see `stance labelstudio config`)"
        ) from None
    return xml


def _interface(xml: str) -> Any:
    """The SDK's LabelInterface of a labeling config; ValueError when it is not XML."""
    from label_studio_sdk._legacy.exceptions import LabelStudioXMLSyntaxErrorSentryIgnored  # what LabelInterface raises
    from label_studio_sdk.label_interface import LabelInterface

    try:
        return LabelInterface(xml)
    except LabelStudioXMLSyntaxErrorSentryIgnored as exc:
        raise ValueError(f"not valid XML: {exc}") from None


def parse_choice_groups(xml: str) -> tuple[dict[str, ChoiceGroup], tuple[str, ...]]:
    """The choice groups of a labeling config and the data keys its `<Text>` tags read."""
    interface = _interface(xml)
    groups = {
        control.name: ChoiceGroup(
            control.name, ",".join(control.to_name), control.attr.get("choice", "single"), tuple(control.labels)
        )
        for control in interface.controls
        if control.tag.lower() == "choices"
    }
    data_keys = tuple((o.value or "").removeprefix("$") for o in interface.objects if o.tag.lower() == "text")
    return groups, data_keys


def config_differences(expected_xml: str, actual_xml: str) -> list[str]:
    """What differs between two labeling configs in ways that change which labels are valid.

    Hints, headers and styles are ignored (they only change what annotators read); an empty
    list means the project can take this config's predictions and give back its labels.
    """
    expected, expected_keys = parse_choice_groups(expected_xml)
    try:
        actual, actual_keys = parse_choice_groups(actual_xml)
    except ValueError as exc:
        return [f"the project's labeling config is {exc}"]
    differences = []
    for name in expected:
        if name not in actual:
            differences.append(f"choice group {name!r} is missing from the project")
    for name in actual:
        if name not in expected:
            differences.append(f"the project has a choice group {name!r} that the config does not define")
    for name in expected.keys() & actual.keys():
        want, have = expected[name], actual[name]
        if want.mode != have.mode:
            differences.append(f"choice group {name!r}: choice={have.mode!r} in the project, {want.mode!r} in the config")
        if want.to_name != have.to_name:
            differences.append(f"choice group {name!r}: toName={have.to_name!r} in the project, {want.to_name!r} in the config")
        missing = [v for v in want.values if v not in have.values]
        extra = [v for v in have.values if v not in want.values]
        if missing:
            differences.append(f"choice group {name!r}: the project lacks {', '.join(map(repr, missing))}")
        if extra:
            differences.append(f"choice group {name!r}: the project has {', '.join(map(repr, extra))}, which the config does not")
    if sorted(expected_keys) != sorted(actual_keys):
        differences.append(f"the project shows data {sorted(actual_keys)}, the config {sorted(expected_keys)}")
    return sorted(differences)
