"""What a reviewer sees besides the choices: the HTML pieces of a task and the project's instructions.

- `head_html`: the article's title (a link to its URL), source and date, and where the paragraph sits.
- `target_view_html`: per target the model's probabilities (the predicted label first, in bold),
  or for `not_mentioned` why: the gate found no alias (the model was not asked) or the model chose it.
- `frames_view_html`: the frames pre-ticked with their scores, and the next highest ones.
- `instructions_html`: the project's instructions (Label Studio's `expert_instruction`, shown before
  labelling), from the config's label and frame descriptions.

Label Studio shows these through its `Markdown` tag, which lets raw HTML through. So every piece
of text from the data or the config is escaped here (`html.escape`, quotes included), the only
markup is ours, and each piece is one line inside one `<div>`: Markdown does not parse inside an
HTML block until a blank line, so `*`, `#` or `[x](y)` in a title stay text. A URL becomes a
link only when it is http(s). The paragraph itself is shown by Label Studio's `Text` tag, which
escapes it; its mentions are regions of the prediction (`stance.labelstudio.tasks`). Target
colours are Okabe-Ito hues (colour-blind safe); they mark targets, not labels (label colours
belong to the config).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import urlsplit

from stance.config import StanceConfig
from stance.records import MODEL_SAID, NO_ALIAS, Prediction, TargetStance

TARGET_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442")
NEXT_FRAMES = 3  # frames below the pre-ticked ones shown with their scores


def target_colour(position: int) -> str:
    """The marking colour of the target at `position` in the config."""
    return TARGET_COLOURS[position % len(TARGET_COLOURS)]


def one_line(text: str) -> str:
    """Escaped text on one line (a line break in a title would end Markdown's HTML block)."""
    return escape(" ".join(text.split()))


def _percent(score: float) -> str:
    return f"{100 * score:.0f}%"


def safe_url(url: str | None) -> str | None:
    """`url` when it is an http(s) URL with a host, else None (no javascript: or data: links)."""
    if not url or any(c.isspace() for c in url.strip()):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def head_html(prediction: Prediction, paragraphs_in_document: int | None = None) -> str:
    """`Title` (linked to the URL) · source · date · paragraph i of n: only what the data has."""
    url = safe_url(prediction.url)
    title = prediction.title or (urlsplit(url).netloc if url else None)
    parts = []
    if title:
        text = f"<b>{one_line(title)}</b>"
        parts.append(f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{text}</a>' if url else text)
    if prediction.source:
        parts.append(one_line(prediction.source))
    if prediction.date:
        parts.append(one_line(prediction.date))
    where = f"paragraph {prediction.index + 1}" if prediction.index is not None else "paragraph"
    if paragraphs_in_document:
        where += f" of {paragraphs_in_document}"
    if prediction.doc_id and not title:
        where += f" of document {one_line(prediction.doc_id)}"
    parts.append(f'<span style="color:#777">{where}</span>')
    return '<div style="font-size:13px;color:#333">' + " · ".join(parts) + "</div>"


def target_view_html(stance: TargetStance, config: StanceConfig, colour: str, mentions: int) -> str:
    """The model's view of one target (shown under its name): its probabilities, or why it is not mentioned."""
    swatch = f'<span style="display:inline-block;width:10px;height:10px;background:{colour};margin-right:4px"></span>'
    not_mentioned = config.not_mentioned.name
    if stance.label == not_mentioned and stance.why == NO_ALIAS:
        detail = "not mentioned: no alias found by the gate (the model was not asked)"
    else:
        ranked = sorted(config.stance_label_names, key=lambda label: -stance.scores.get(label, 0.0))
        if stance.label == not_mentioned:
            ranked = [not_mentioned, *ranked]
        scores = [
            (f"<b>{one_line(label)} {_percent(stance.scores.get(label, 0.0))}</b>" if label == stance.label
             else f"{one_line(label)} {_percent(stance.scores.get(label, 0.0))}")
            for label in ranked
        ]
        detail = "model: " + " · ".join(scores)
        if stance.label == not_mentioned and stance.why == MODEL_SAID:
            detail += " (the model chose not_mentioned)"
        if mentions:
            detail += f" · {mentions} mention{'s' if mentions != 1 else ''}"
    return f'<div style="font-size:12px;line-height:1.3;color:#555">{swatch}{detail}</div>'


def frames_view_html(prediction: Prediction, config: StanceConfig) -> str:
    """"Pre-ticked: A 74% · B 52%; next: C 31% ..." (scores as the model gave them)."""
    ticked = [f for f in config.frame_names if f in set(prediction.frame_labels)]
    residual = {f.name for f in config.frames.items if f.residual}  # applies only when nothing else does: not a runner-up
    others = sorted((f for f in config.frame_names if f not in ticked and f not in residual and f in prediction.frames),
                    key=lambda f: -prediction.frames[f])

    def listed(frames: Sequence[str]) -> str:
        return " · ".join(f"{one_line(f)} {_percent(prediction.frames[f])}" if f in prediction.frames else one_line(f) for f in frames)
    text = f"<b>frames pre-ticked:</b> {listed(ticked) or 'none'}"
    if others[:NEXT_FRAMES]:
        text += f"; <span style='color:#777'>next: {listed(others[:NEXT_FRAMES])}</span>"
    return f'<div style="font-size:12px;color:#333">{text}</div>'


def instructions_html(config: StanceConfig) -> str:
    """The project's instructions: what to do, what the labels and frames mean, what the screen shows."""
    labels = "".join(f"<li><b>{escape(label.name)}</b>: {escape(label.description)}</li>" for label in config.labels)
    labels += f"<li><b>{escape(config.not_mentioned.name)}</b>: {escape(config.not_mentioned.description)}</li>"
    frames = "".join(f"<li><b>{escape(f.name)}</b>: {escape(f.description)}</li>" for f in config.frames.items)
    targets = ", ".join(escape(t.name) for t in config.targets)
    parts = [
        "<h3>Stance and framing review</h3>",
        f"<p>For each paragraph, choose the stance the text takes toward each target ({targets}) and tick every frame it uses."
        " The model's labels are pre-selected: correct what is wrong, then submit. Every target needs a choice.</p>",
        f"<h4>Stance labels</h4><ul>{labels}</ul>",
    ]
    if frames:
        parts.append(f"<h4>Frames (tick all that apply; at most {config.frames.max_labels} are pre-ticked)</h4><ul>{frames}</ul>")
    parts.append(
        "<h4>What the screen shows</h4><ul>"
        "<li>The article's title (a link to it), source and date, the end of the previous and the start of the next paragraph.</li>"
        "<li>Each target's mentions are marked in its colour. Next to each target: the model's probability of every label,"
        " or <i>no alias found by the gate</i> when none of the target's names occurs (the model was not asked: check for"
        " mentions the name list misses).</li>"
        "<li>The frames the model pre-ticked, with their scores.</li>"
        "<li>Tick <b>unsure</b> (and say why in the comment) when you cannot decide: the paragraph goes to adjudication.</li></ul>"
    )
    return "".join(parts)
