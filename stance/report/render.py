"""The report page: `ReportData` -> one HTML document, rendered with Jinja2 from the templates in
stance/report/templates/ (page.html, its sections under sections/, shared macros, report.css).

Autoescape is on: every value a template prints with `{{ }}` is escaped, quotes included, so a
paragraph, title or source holding `<script>` shows as text; page.html also sets a
Content-Security-Policy that forbids scripts and any fetch but inline `data:` images. This module
sets up Jinja2 and the filters; `stance.report.views` prepares the few values a template should
not compute and draws the plots; the markup and every sentence of the page are in the templates.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

import jinja2
from jinja2.ext import Extension
from markupsafe import Markup

from stance.report.aggregate import date_span, model_version, shares
from stance.report.collect import ReportData
from stance.report.outlets import MIN_OUTLET_ARTICLES, SMALL_ARTICLES
from stance.report.plots import text_colour
from stance.report.review import MAX_DISAGREEMENTS
from stance.report.trends import SMALL_BIN_ARTICLES
from stance.report.uncertainty import LEVEL, MIN_ARTICLES
from stance.report.views import (
    UNKNOWN_COLOUR,
    bars,
    card,
    frame_order,
    images,
    mention_segments,
    run_rows,
    sections,
    tint,
    tone_colours,
)

MAX_DOCUMENT_ROWS = 30  # a run without sources lists its documents; the CSV holds all
MAX_REVIEW_OUTLETS = 12  # outlets in the agreement table; the CSV holds all
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


def signed(value: float | None, digits: int = 2) -> str:
    """A tone or a difference: explicit sign, a real minus sign (−0.25, +0.10, 0.00)."""
    if value is None:
        return "n/a"
    text = f"{value:+.{digits}f}"
    return "0." + "0" * digits if float(text) == 0 else text.replace("-", "−")


def interval(estimate: Any, digits: int = 2) -> str:
    """[low, high] of an `Estimate`, or an empty string when it has none."""
    if estimate is None or not estimate.has_interval:
        return ""
    return f"[{signed(estimate.low, digits)}, {signed(estimate.high, digits)}]"


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
    env.filters.update(pct=pct, num=num, signed=signed, interval=interval, label_text=label_text, shares=shares)
    return env


def render_page(data: ReportData, now: dt.datetime | None = None, files: str = "") -> str:
    """The whole HTML document for `data` (`now`: the time the page says it was generated; `files`:
    the folder beside the page that holds its CSV files, as the page links it)."""
    generated = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    stored_version = data.info.model_version if data.info is not None else None
    positive_colour, negative_colour = tone_colours(data)
    template = environment().get_template("page.html")
    return template.render(
        data=data,
        title=f"Stance report: {data.run_dir.name or data.run_dir}",
        generated=generated,
        sections=sections(data),
        images=images(data),
        date_span=date_span(data.records),
        model_version=model_version(data.records, stored_version),
        files=files,
        csv=lambda name: f"{files}/{name}.csv",
        bars_of=lambda counts, labels: bars(counts, labels, data.colours),
        card_of=lambda example: card(example, data),
        chip_text=lambda label: text_colour(data.colours.get(label, UNKNOWN_COLOUR)),
        mention_segments=lambda pid, target, text: mention_segments(data, pid, target, text),
        frame_order=frame_order(data),
        max_disagreements=MAX_DISAGREEMENTS,
        max_review_outlets=MAX_REVIEW_OUTLETS,
        tint_of=lambda value, small=False: tint(value, positive_colour, negative_colour, small),
        max_document_rows=MAX_DOCUMENT_ROWS,
        min_outlet_articles=MIN_OUTLET_ARTICLES,
        small_articles=SMALL_ARTICLES,
        small_bin_articles=SMALL_BIN_ARTICLES,
        min_interval_articles=MIN_ARTICLES,
        level=LEVEL,
        run_rows=run_rows(data),
        full_config=json.dumps(data.config.model_dump(mode="json", exclude={"labelstudio"}), indent=2, ensure_ascii=False),
    )
