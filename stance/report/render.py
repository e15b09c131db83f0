"""The report page: `ReportData` -> one HTML document, rendered with Jinja2 from the templates in
stance/report/templates/ (page.html, its sections under sections/, shared macros, report.css).

Autoescape is on: every value a template prints with `{{ }}` is escaped, quotes included, so a
paragraph, title or source holding `<script>` shows as text; page.html also sets a
Content-Security-Policy that forbids scripts and any fetch but inline `data:` images. This module
draws the plots (stance.report.plots) and prepares the few values a template should not compute;
the markup and every sentence of the page are in the templates.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.ext import Extension
from markupsafe import Markup

from stance.records import Prediction
from stance.report.aggregate import Example, date_span, model_version, shares
from stance.report.collect import ReportData
from stance.report.plots import (
    FEW,
    Image,
    confusion_matrices,
    frame_bars,
    frame_heatmaps,
    over_time,
    shares_by_group,
    stacked_shares,
    text_colour,
)
from stance.report.timeline import bin_label

MAX_GROUPS = 30  # more documents or sources than this: the largest ones are plotted, the table lists all
MAX_TEXT_CHARS = 1200
MAX_TABLE_ROWS = 300  # per-document tables of a large corpus would make the page huge
UNKNOWN_COLOUR = "#666666"  # a score for a label the report has no colour for
# A line break (and the indentation around it) next to a tag or a Jinja delimiter in an .html
# template is layout for the reader of the template, not part of the page.
_LAYOUT_BREAK = re.compile(r"(?<=[>}])[ \t]*\n\s*|[ \t]*\n\s*(?=[<{])")


class LayoutWhitespace(Extension):
    """Drops layout line breaks from .html templates before Jinja2 compiles them.

    Jinja2's trim_blocks/lstrip_blocks only remove the lines of block tags; the page has always
    been written without whitespace between its elements (inside the cards' pre-wrap quotes, any
    would show), and this keeps it so while the templates stay indented. Text that needs a space
    keeps it on its line. Only template source is touched, never a value printed into it.
    """

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return _LAYOUT_BREAK.sub("", source) if (name or "").endswith(".html") else source


def _escape(value: Any) -> Any:
    """Every printed value through html.escape (quote=True) before autoescape sees it: the page's
    entity spelling (&#x27;, &quot;) stays what it has always been; None prints as nothing."""
    if isinstance(value, Markup):
        return value  # a macro's output, already escaped
    return Markup(html.escape("" if value is None else str(value), quote=True))


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def label_text(label: str) -> str:
    return label.replace("_", " ")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stance.report", "templates"),
        autoescape=True,
        finalize=_escape,
        keep_trailing_newline=True,  # report.css ends with a newline inside <style>, as it always has
        undefined=jinja2.StrictUndefined,
        extensions=[LayoutWhitespace],
    )
    env.filters.update(pct=pct, num=num, label_text=label_text, shares=shares)
    return env


@dataclass(frozen=True)
class Section:
    id: str
    title: str

    @property
    def template(self) -> str:
        return f"sections/{self.id}.html"


@dataclass(frozen=True)
class Bar:
    label: str
    width: float  # percent of the bar, 0 to 100
    score: float
    colour: str


@dataclass(frozen=True)
class Card:
    """A paragraph for one target, as a card shows it."""

    record: Prediction
    label: str
    margin: float
    text: str  # shortened to MAX_TEXT_CHARS
    frames: str
    colour: str
    text_colour: str
    bars: list[Bar]


def card(example: Example, not_mentioned: str, colours: dict[str, str]) -> Card:
    record = example.record
    text = record.text
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS].rstrip() + " …"
    result = record.stance[example.target]
    bars = [
        Bar(label, max(0.0, min(1.0, score)) * 100, score, colours.get(label, UNKNOWN_COLOUR))
        for label, score in sorted(result.scores.items(), key=lambda kv: -kv[1])
        if not (label == not_mentioned and not score)
    ]
    colour = colours.get(example.label, UNKNOWN_COLOUR)
    return Card(record, example.label, example.margin, text, ", ".join(record.frame_labels) or "none", colour, text_colour(colour), bars)


def sections(data: ReportData) -> list[Section]:
    return [
        Section("stance", "Stance per target"),
        Section("by-group", "By source" if data.group.by == "source" else "By document"),
        Section("over-time", "Stance over time"),
        Section("frames", "Frames"),
        Section("confident", "Most confident paragraphs"),
        Section("uncertain", "Least certain paragraphs"),
        Section("agreement", "Model vs people"),
        Section("run", "Run, model and config"),
    ]


def images(data: ReportData) -> dict[str, Image | None]:
    """Every plot of the page (None where its section shows a note instead)."""
    out: dict[str, Image | None] = dict.fromkeys(("stance", "by_group", "over_time", "frame_bars", "frame_heatmaps", "confusion"))
    if data.targets and data.records:
        out["stance"] = stacked_shares(
            data.targets, [data.overall[t] for t in data.targets], data.labels, data.colours,
            alt="Share of paragraphs per stance label for each target",
        )
    if data.by_group and data.targets:
        out["by_group"] = shares_by_group(
            list(data.by_group)[:MAX_GROUPS], data.targets, data.by_group, data.labels, data.colours, group_names=data.group.labels,
            alt=f"Share of paragraphs per label for each {data.group.by} and target",
        )
    if data.targets and data.over_time and data.undated < len(data.records):
        names = [bin_label(b, data.time_unit) for b in next(iter(data.over_time.values())).bins]
        out["over_time"] = over_time(
            data.targets, data.over_time, data.stance_labels, data.colours, bin_names=names, alt=f"Stance per {data.time_unit} for each target",
        )
    if data.frames:
        out["frame_bars"] = frame_bars(data.frames, data.frame_totals, len(data.records), alt="Paragraphs per frame")
        carried = carried_frames(data)
        if data.targets and carried:
            out["frame_heatmaps"] = frame_heatmaps(
                data.targets, carried, data.frames_by_target, data.stance_labels, alt="Frame share per target and stance label",
            )
    if data.agreement is not None and data.agreement.targets:
        compared = {t.target: t.compared() for t in data.agreement.targets}
        out["confusion"] = confusion_matrices(
            list(compared), {t: m for t, (_, m) in compared.items()}, {t: labels for t, (labels, _) in compared.items()},
            alt="Confusion matrices of people against the model per target",
        )
    return out


def carried_frames(data: ReportData) -> list[str]:
    """The frames some paragraph carries, most frequent first."""
    return sorted((f for f in data.frames if data.frame_totals.get(f)), key=lambda f: -data.frame_totals[f])


def run_rows(data: ReportData) -> list[tuple[str, Any]]:
    """The run table: what run.json says about the run, model and environment, and the config used."""
    info = data.info
    model = info.model if info is not None else {}
    counts = info.counts if info is not None else {}
    timings = info.timings if info is not None else {}
    environment = info.environment if info is not None else {}
    cfg = data.config
    rows = [
        ("model backend", model.get("backend")),
        ("model name", model.get("name")),
        ("model version", model_version(data.records, model.get("version"))),
        ("engine", info.engine if info is not None else None),
        ("status", info.status if info is not None else None),
        ("paragraphs", counts.get("paragraphs", len(data.records))),
        ("documents", counts.get("documents", data.documents)),
        ("input files", len(info.inputs) if info is not None and info.inputs else None),
        ("scoring rate", f"{timings['paragraphs_per_second']} paragraphs/s" if timings.get("paragraphs_per_second") else None),
        ("model load", f"{timings['model_load_seconds']} s" if timings.get("model_load_seconds") is not None else None),
        ("targets", ", ".join(data.targets)),
        ("labels", ", ".join(data.labels)),
        ("alias gate", "on" if cfg.gate.enabled else "off"),
        ("frames", f"{len(data.frames)} (threshold {cfg.frames.threshold:g})" if data.frames else "not scored"),
        ("config used for the report", data.config_source),
        ("config fingerprint", cfg.fingerprint()),
        ("python / torch / transformers", " / ".join(str(environment.get(k) or "?") for k in ("python", "torch", "transformers"))
         if environment else None),
    ]
    return [(name, value) for name, value in rows if value not in (None, "")]


def render_page(data: ReportData, now: dt.datetime | None = None) -> str:
    """The whole HTML document for `data` (`now`: the time the page says it was generated)."""
    generated = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    stored_version = data.info.model_version if data.info is not None else None

    def group_rows(target: str, keys: Sequence[str]) -> list[tuple[str, dict[str, int]]]:
        return [(data.group.labels.get(k, k), data.by_group[k][target]) for k in keys]

    template = environment().get_template("page.html")
    return template.render(
        data=data,
        title=f"Stance report: {data.run_dir.name or data.run_dir}",
        generated=generated,
        sections=sections(data),
        images=images(data),
        date_span=date_span(data.records),
        model_version=model_version(data.records, stored_version),
        overall_rows=[(t, data.overall[t]) for t in data.targets],
        group_rows=group_rows,
        max_groups=MAX_GROUPS,
        max_table_rows=MAX_TABLE_ROWS,
        few=FEW,
        uncarried_frames=[f for f in data.frames if not data.frame_totals.get(f)],
        card_of=lambda example: card(example, data.not_mentioned, data.colours),
        run_rows=run_rows(data),
        full_config=json.dumps(data.config.model_dump(mode="json", exclude={"labelstudio"}), indent=2, ensure_ascii=False),
    )
