"""The values the templates print that a template should not compute: the sections and their
order, the example cards (with their mention segments), the bars of the bar tables, the tint of a
tone, the plots, and the run table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stance.records import Prediction
from stance.report.aggregate import Example, model_version
from stance.report.collect import ReportData
from stance.report.highlight import Segment, split
from stance.report.plots import Image, confusion_matrices, frame_heatmaps, text_colour, tone_over_time

MAX_TEXT_CHARS = 1200
UNKNOWN_COLOUR = "#666666"  # a score for a label the report has no colour for
MAX_TINT = 0.42  # the strongest background a tone gives a table cell (the text stays black on it)


@dataclass(frozen=True)
class Section:
    id: str
    title: str

    @property
    def template(self) -> str:
        return f"sections/{self.id}.html"


def sections(data: ReportData) -> list[Section]:
    return [
        Section("articles", "Articles: stance per target"),
        Section("outlets", "Outlet comparison"),
        Section("over-time", "Stance over time"),
        Section("paragraphs", "Paragraphs: stance per target"),
        Section("frames", "Frames"),
        Section("confident", "Most confident paragraphs"),
        Section("uncertain", "Least certain paragraphs"),
        Section("review", "Model vs people"),
        Section("run", "Run, model and config"),
    ]


@dataclass(frozen=True)
class Bar:
    label: str
    width: float  # percent of the bar, 0 to 100
    score: float
    colour: str


def bars(counts: dict[str, int], labels: Sequence[str], colours: dict[str, str]) -> list[Bar]:
    """The segments of one stacked bar of a bar table (count -> share of the row's total)."""
    total = sum(counts.get(label, 0) for label in labels)
    return [Bar(label, 100 * counts.get(label, 0) / total, counts.get(label, 0), colours.get(label, UNKNOWN_COLOUR))
            for label in labels if total and counts.get(label, 0)]


@dataclass(frozen=True)
class Card:
    """A paragraph for one target, as a card shows it."""

    record: Prediction
    label: str
    margin: float
    segments: list[Segment]  # the text (shortened to MAX_TEXT_CHARS), mentions of the target marked
    frames: str
    colour: str
    text_colour: str
    bars: list[Bar]


def card(example: Example, data: ReportData) -> Card:
    record = example.record
    result = record.stance[example.target]
    scores = [
        Bar(label, max(0.0, min(1.0, score)) * 100, score, data.colours.get(label, UNKNOWN_COLOUR))
        for label, score in sorted(result.scores.items(), key=lambda kv: -kv[1])
        if not (label == data.not_mentioned and not score)
    ]
    colour = data.colours.get(example.label, UNKNOWN_COLOUR)
    return Card(record, example.label, example.margin, data.highlighter.segments(record, example.target, MAX_TEXT_CHARS),
                ", ".join(record.frame_labels) or "none", colour, text_colour(colour), scores)


def mention_segments(data: ReportData, paragraph_id: str, target: str, text: str) -> list[Segment]:
    """A reviewed paragraph's text with the target's mentions marked (plain when the run lacks the paragraph)."""
    record = next((r for r in data.records if r.id == paragraph_id), None)
    if record is None:
        return split(text, [], MAX_TEXT_CHARS)
    return data.highlighter.segments(record, target, MAX_TEXT_CHARS)


def tint(value: float | None, positive: str, negative: str, small: bool = False) -> str:
    """A cell background for a tone from -1 to 1: the negative label's colour below 0, the positive's
    above, stronger further out; half as strong for a cell resting on few articles."""
    if value is None or value == 0:
        return "transparent"
    colour = positive if value > 0 else negative
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{min(1.0, abs(value)) * MAX_TINT * (0.5 if small else 1.0):.2f})"


def tone_colours(data: ReportData) -> tuple[str, str]:
    """(colour of positive tone, colour of negative tone): the first label of each polarity."""
    positive = next((label for label in data.stance_labels if label in data.polarity.positive), None)
    negative = next((label for label in data.stance_labels if label in data.polarity.negative), None)
    return data.colours.get(positive or "", "#0072B2"), data.colours.get(negative or "", "#D55E00")


def carried_frames(frames: Sequence[str], totals: dict[str, int]) -> list[str]:
    """The frames some article carries, most frequent first."""
    return sorted((f for f in frames if totals.get(f)), key=lambda f: -totals[f])


def frame_order(data: ReportData) -> list[str]:
    """The frames in the frame table's order: most articles first, then most paragraphs, then config order."""
    return sorted(data.frames, key=lambda f: (-data.articles.frame_articles.get(f, 0), -data.frame_totals.get(f, 0), data.frames.index(f)))


def images(data: ReportData) -> dict[str, Image | None]:
    """Every plot of the page (None where its section shows a note instead)."""
    out: dict[str, Image | None] = dict.fromkeys(("over_time", "article_frames", "confusion"))
    if data.trends:
        out["over_time"] = tone_over_time(
            [data.trends[t] for t in data.targets], data.stance_labels, data.colours,
            alt=f"Tone per {data.time_unit} with 95% intervals and articles per {data.time_unit}, for each target",
        )
    if data.frames and data.targets:
        carried = carried_frames(data.frames, data.articles.frame_articles)
        if carried:  # per paragraph label: frames-by-paragraph-stance.csv (a second heat map would double the page's weight)
            out["article_frames"] = frame_heatmaps(data.targets, carried, data.articles.frames_by_stance, data.stance_labels,
                                                   unit="article", alt="Frame share per target and article stance")
    agreement = data.agreement
    if agreement is not None and agreement.targets:
        compared = {t.target: t.compared() for t in agreement.targets}
        out["confusion"] = confusion_matrices(
            list(compared), {t: m for t, (_, m) in compared.items()}, {t: labels for t, (labels, _) in compared.items()},
            alt="Confusion matrices of people against the model per target",
        )
    return out


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
        ("documents", counts.get("documents", len(data.article_rows))),
        ("article summaries", data.documents_source),
        ("input files", len(info.inputs) if info is not None and info.inputs else None),
        ("scoring rate", f"{timings['paragraphs_per_second']} paragraphs/s" if timings.get("paragraphs_per_second") else None),
        ("model load", f"{timings['model_load_seconds']} s" if timings.get("model_load_seconds") is not None else None),
        ("targets", ", ".join(data.targets)),
        ("labels", ", ".join(data.labels)),
        ("alias gate", "on" if cfg.gate.enabled else "off"),
        ("frames", f"{len(data.frames)} (threshold {cfg.frames.threshold:g})" if data.frames else "not scored"),
        ("bootstrap", f"{data.resamples} resamples of the articles, seed {data.seed}"),
        ("config used for the report", data.config_source),
        ("config fingerprint", cfg.fingerprint()),
        ("python / torch / transformers", " / ".join(str(environment.get(k) or "?") for k in ("python", "torch", "transformers"))
         if environment else None),
    ]
    return [(name, value) for name, value in rows if value not in (None, "")]
