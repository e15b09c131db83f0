"""The Label Studio labeling config, generated from the one definition of targets, labels and frames.

The screen (compact: all targets and the frames fit a 1280x720 browser window beside Label
Studio's panels): the article's title (a link), source and date; the end of the previous
paragraph; the paragraph with each target's mentions marked (regions of a `mentions` label group,
one colour per target, sent with the prediction; the group's buttons are the legend, and mark a
mention the name list missed); the start of the next paragraph. Then one row per target: its
name and the model's view (its probabilities, or "no alias found by the gate") beside a required
single-choice group (stance labels plus `not_mentioned`, descriptions as hints), required: a target
left blank (or a choice clicked away) stops the submit with a message naming the target. Checkboxes,
not radio buttons: Label Studio names its radio inputs by value, so radios of different targets would
form one browser group (arrow keys would jump across targets). The frames the model pre-ticked with their scores above a
multi-choice group of frames; an "unsure" flag and a comment box.

Only the paragraph (`$text`) is required task data: the other pieces are shown by tags without a
name (`Markdown` for the HTML that `stance.labelstudio.screen` escapes and builds, `Header` for
plain text), which Label Studio does not ask an imported task for, so a task imported by hand or
from cloud storage (just a `text`) is valid and gets its labels and mention marks from the ML
backend.

Every name and value goes through XML escaping, so a target called `AT&T <Inc>` works. Control
names are derived from the target names (`stance_` + a slug), so they are stable from one push
to the next; targets whose slugs would collide get a short hash of their name appended.

The XML is written here from a short template rather than with the SDK's `LabelInterface.create`,
which lays tags out its own way. It is read back with the SDK's `LabelInterface`, Label Studio's
own parser and validator: it checks the generated config (`checked_labeling_config`) and reads a
project's config when push compares its labels with ours (`config_differences`). Projects made by
earlier versions (plain-text layout, `choice="single"`, no unsure flag, no mention marks) still
match: only what decides which labels are valid is compared.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from stance.config import StanceConfig
from stance.errors import LabelStudioError
from stance.labelstudio.screen import target_colour

TEXT_NAME = "text"  # the object every control labels; data key of the paragraph text (the only required one)
HEAD_NAME = "head"  # data key of the title · source · date line (HTML)
CONTEXT_NAME = "context"  # data key of the "title · date · source" line of earlier layouts
BEFORE_NAME = "before"  # data key of the end of the previous paragraph of the same document
AFTER_NAME = "after"  # data key of the start of the next paragraph
FRAMES_VIEW_NAME = "frames_view"  # data key of the frames the model pre-ticked, with scores (HTML)
FRAMES_NAME = "frames"
MENTIONS_NAME = "mentions"  # the label group whose regions mark each target's mentions
UNSURE_NAME = "unsure"  # a one-choice group: the annotator flags the task for adjudication
UNSURE_VALUE = "unsure"
COMMENT_NAME = "comment"  # a text area: the annotator's comment
STANCE_PREFIX = "stance_"
VIEW_PREFIX = "view_"  # + control name: data key of the model's view of a target (HTML)
OPTIONAL_GROUPS = (UNSURE_NAME,)  # a project without them (an earlier layout) still takes our predictions
# what every task carries besides the screen's pieces: a project may show any of them
TASK_FIELDS = (TEXT_NAME, CONTEXT_NAME, BEFORE_NAME, AFTER_NAME, "para_id", "doc_id", "index", "date", "title", "source", "url")
_SINGLE_MODES = ("single", "single-radio")  # the same rule (one label), drawn as checkboxes or radios (a project may use either)
_SMALL_GREY = "font-size: 12px; font-weight: normal; line-height: 1.3; color: #777; margin: 2px 0"
SCREEN_CLASS = "stance-screen"
# Label Studio draws each choice 40 px high with 14 px margins; this fits a 1280x720 window (class names of LS 1.23;
# should they change, the screen is only taller)
_COMPACT_CSS = (f".{SCREEN_CLASS} .lsf-choices {{ margin: 2px 0; }} .{SCREEN_CLASS} .lsf-choice {{ line-height: 26px; }}"
                f" .{SCREEN_CLASS} .lsf-labels {{ margin: 0; }}")


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


def view_names(config: StanceConfig) -> dict[str, str]:
    """Target name -> the data key of the model's view of it ("view_stance_china")."""
    return {target: VIEW_PREFIX + control for target, control in control_names(config).items()}


def labeling_config(config: StanceConfig) -> str:
    """The labeling config XML for `config` (deterministic: the same config gives the same bytes)."""
    names = control_names(config)
    views = view_names(config)
    label_hints = {label.name: label.description for label in config.labels}
    label_hints[config.not_mentioned.name] = config.not_mentioned.description
    lines = [
        f'<View className="{SCREEN_CLASS}">',
        f"  <Style>{_COMPACT_CSS}</Style>",
        '  <View style="display: flex; align-items: center; justify-content: space-between; gap: 1em">',
        f'    <Markdown value="${HEAD_NAME}"/>',
        f'    <Labels name="{MENTIONS_NAME}" toName="{TEXT_NAME}" showInline="true">',
    ]
    for i, target in enumerate(config.targets):
        lines.append(f"      <Label value={quoteattr(target.name)} background=\"{target_colour(i)}\" hint=\"mentions of this target\"/>")
    lines += [
        "    </Labels>",
        "  </View>",
        f'  <Header value="${BEFORE_NAME}" size="5" style="{_SMALL_GREY}; border-left: 3px solid #ddd; padding-left: 0.5em"/>',
        '  <View style="border-left: 3px solid #1f77b4; padding: 0 0.6em; margin: 2px 0">',
        f'    <Text name="{TEXT_NAME}" value="${TEXT_NAME}" showLabels="false"/>',
        "  </View>",
        f'  <Header value="${AFTER_NAME}" size="5" style="{_SMALL_GREY}; border-left: 3px solid #ddd; padding-left: 0.5em"/>',
    ]
    for target in config.targets:
        message = f"Choose a stance toward {target.name} ({config.not_mentioned.name} when the paragraph does not refer to it)"
        lines += [
            '  <View style="display: flex; align-items: center; border-top: 1px solid #eee">',
            '    <View style="flex: 0 0 45%; padding-right: 0.5em">',
            f'      <Header value={quoteattr(target.name)} size="5" style="margin: 0; font-size: 14px"/>',
            f'      <Markdown value="${views[target.name]}"/>',
            "    </View>",
            f'    <Choices name="{names[target.name]}" toName="{TEXT_NAME}" choice="single" showInline="true"'
            f' required="true" requiredMessage={quoteattr(message)}>',
        ]
        lines += [f"      <Choice value={quoteattr(label)} hint={quoteattr(label_hints[label])}/>" for label in config.all_label_names]
        lines += ["    </Choices>", "  </View>"]
    if config.frame_names:
        lines += [
            '  <View style="border-top: 1px solid #eee">',
            f'    <Markdown value="${FRAMES_VIEW_NAME}"/>',
            f'    <Choices name="{FRAMES_NAME}" toName="{TEXT_NAME}" choice="multiple" showInline="true">',
        ]
        lines += [f"      <Choice value={quoteattr(f.name)} hint={quoteattr(f.description)}/>" for f in config.frames.items]
        lines += ["    </Choices>", "  </View>"]
    lines += [
        '  <View style="display: flex; align-items: center; gap: 1em; border-top: 1px solid #eee">',
        f'    <Choices name="{UNSURE_NAME}" toName="{TEXT_NAME}" choice="multiple" showInline="true">',
        f'      <Choice value="{UNSURE_VALUE}" hint="Not sure about this paragraph: it goes to adjudication (say why in the comment)"/>',
        "    </Choices>",
        '    <View style="flex: 1 1 auto">',
        f'      <TextArea name="{COMMENT_NAME}" toName="{TEXT_NAME}" rows="1" maxSubmissions="1" editable="true"'
        ' placeholder="Comment (optional): why unsure, what the model missed"/>',
        "    </View>",
        "  </View>",
        "</View>",
    ]
    return "\n".join(lines) + "\n"


def has_control(xml: str, name: str) -> bool:
    """Whether a labeling config has a control tag called `name` (an earlier layout lacks `mentions`)."""
    try:
        return any(control.name == name for control in _interface(xml).controls)
    except ValueError:
        return False


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
    """The choice groups of a labeling config and the data keys its object tags (`<Text>`, `<HyperText>`) read."""
    interface = _interface(xml)
    groups = {
        control.name: ChoiceGroup(
            control.name, ",".join(control.to_name), _mode(control.attr.get("choice", "single")), tuple(control.labels)
        )
        for control in interface.controls
        if control.tag.lower() == "choices"
    }
    data_keys = tuple((o.value or "").removeprefix("$") for o in interface.objects if (o.value or "").startswith("$"))
    return groups, data_keys


def _mode(choice: str) -> str:
    return "single" if choice in _SINGLE_MODES else choice


def config_differences(expected_xml: str, actual_xml: str) -> list[str]:
    """What differs between two labeling configs in ways that change which labels are valid.

    Hints, headers, styles and the layout are ignored (they only change what annotators read), and
    so are the review-only groups (`unsure`) a project of an earlier layout lacks; an empty list
    means the project can take this config's predictions and give back its labels. A project that
    shows task data our tasks do not carry is a difference.
    """
    expected, expected_keys = parse_choice_groups(expected_xml)
    try:
        actual, actual_keys = parse_choice_groups(actual_xml)
    except ValueError as exc:
        return [f"the project's labeling config is {exc}"]
    differences = []
    for name in expected:
        if name not in actual and name not in OPTIONAL_GROUPS:
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
    unknown = sorted(set(actual_keys) - set(expected_keys) - set(TASK_FIELDS))
    if unknown:
        differences.append(f"the project shows task data {unknown} that stance's tasks do not carry")
    return sorted(differences)
