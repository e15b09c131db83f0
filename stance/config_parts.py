"""The parts of the config: targets, labels, gate, frames, model, ingest, documents and Label Studio settings.

Each is a strict pydantic model (unknown keys are errors); `stance.config.StanceConfig` puts them
together and `stance.config.load_config` reads them from YAML.
"""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NOT_MENTIONED_COLOUR = "#DDDDDD"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """Something a paragraph can take a stance toward, and the words that name it."""

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    short_forms: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _no_empty_alias(cls, aliases: tuple[str, ...]) -> tuple[str, ...]:
        for alias in aliases:
            if not alias.strip():
                raise ValueError("an alias is empty; expected a word or phrase that names the target")
        return aliases

    @field_validator("short_forms")
    @classmethod
    def _short_forms(cls, forms: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for form, fulls in forms.items():
            if not form.strip() or not fulls or not all(f.strip() for f in fulls):
                raise ValueError(f"short form {form!r} needs the full names it stands for, e.g. Wang: [Wang Yi]")
        return forms

    @property
    def all_names(self) -> tuple[str, ...]:
        """The name itself plus its aliases, without repeats."""
        return tuple(dict.fromkeys((self.name, *self.aliases)))


Polarity = Literal["positive", "neutral", "negative"]
# Okabe-Ito colours (safe for colour-blind readers) for a label that sets no colour of its own
POLARITY_COLOURS = {"positive": "#0072B2", "neutral": "#999999", "negative": "#D55E00"}
SPARE_COLOURS = ("#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


class StanceLabel(_Strict):
    """A stance label; `verb` fills `{verb}` in the hypothesis template; `polarity` says what the
    label means (F_avg averages the positive and negative labels, the report colours by it)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = Field(min_length=1)
    verb: str = Field(min_length=1)
    polarity: Polarity
    colour: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")

    @property
    def display_colour(self) -> str:
        """`colour`, else the Okabe-Ito colour of the label's polarity."""
        return self.colour or POLARITY_COLOURS[self.polarity]


class NotMentioned(_Strict):
    """The label for a paragraph that does not mention a target."""

    name: str = Field(default="not_mentioned", min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = "The text does not mention or refer to the target."
    hypothesis: str = "This text does not mention {target}."

    @field_validator("hypothesis")
    @classmethod
    def _has_target(cls, value: str) -> str:
        _require_placeholders(value, ("target",))
        return value


DEFAULT_DATELINE = (
    r"^\s*(?:[A-Z][A-Z.'’-]+(?:\s+[A-Z][A-Z.'’-]+)*(?:,\s*[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*)?"
    r"(?:,?\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(?:,?\s+\d{4})?)?(?:\s*\([^()]{1,40}\))?"
    r"|[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*(?:,\s*[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*)?"
    r"(?:,?\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(?:,?\s+\d{4})?(?:\s*\([^()]{1,40}\))?"
    r"|\s*\([^()]{1,40}\)))\s*[-–—]+\s*"
)


class Gate(_Strict):
    """The alias gate: a target not named in a paragraph is `not_mentioned` without asking the model.

    `dateline`: a paragraph's leading dateline ("WASHINGTON, Nov 3 (Reuters) -") matching this
    regex is not a mention ("" turns it off); `demonyms`: the demonyms of target names count
    ("North Korean" for North Korea)."""

    enabled: bool = True
    dateline: str = DEFAULT_DATELINE
    demonyms: bool = True

    @field_validator("dateline")
    @classmethod
    def _dateline(cls, value: str) -> str:
        if value:
            _compile(value)
        return value


class Frame(_Strict):
    """One media frame; `phrase` fills `{frame}` in the frame template."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    phrase: str = Field(min_length=1)
    residual: bool = False


class Frames(_Strict):
    """Multi-label frames: each frame gets a score in [0, 1]; those at or above `threshold` (or the
    frame head's calibrated per-frame thresholds) apply, at most `max_labels` of them (the highest
    scores); the residual frame (`Other`) applies when no other frame does.

    `scorer` picks what scores them: `auto` is the stance model itself when it scores frames (the
    NLI and embedding backends), else embedding similarity on `encoder`; `embedding` always the
    latter.
    """

    enabled: bool = True
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    max_labels: int = Field(default=4, ge=1)
    scorer: Literal["auto", "embedding"] = "auto"
    encoder: str = "bundled:all-MiniLM-L6-v2"
    items: tuple[Frame, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Frames:
        _require_unique([f.name for f in self.items], "frame")
        if sum(f.residual for f in self.items) > 1:
            raise ValueError("more than one frame has residual: true; expected at most one")
        return self


class ModelSettings(_Strict):
    """Which scorer runs and how."""

    backend: Literal["embedding", "nli", "finetuned", "adapter"] = "embedding"
    name: str = "bundled:all-MiniLM-L6-v2"
    hypothesis_template: str = "The author of this text {verb} {target}."
    frame_template: str = "This text is about {frame}."
    batch_size: int = Field(default=64, ge=1)
    max_tokens_per_batch: int = Field(default=1024, ge=64)
    max_length: int = Field(default=256, ge=16)
    device: str = "auto"
    temperature: float = Field(default=0.05, gt=0.0)
    frame_center: float = 0.2
    frame_scale: float = Field(default=0.05, gt=0.0)
    runtime: Literal["torch", "onnx"] = "torch"  # trained scorers (adapter, finetuned): stance.scoring.runtime
    quantize: Literal["none", "int8"] = "none"

    @field_validator("hypothesis_template")
    @classmethod
    def _stance_placeholders(cls, value: str) -> str:
        _require_placeholders(value, ("target", "verb"))
        return value

    @field_validator("frame_template")
    @classmethod
    def _frame_placeholders(cls, value: str) -> str:
        _require_placeholders(value, ("frame",))
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", value):
            raise ValueError(f"device {value!r} is not one of auto, cpu, cuda, cuda:N, mps")
        return value


class Ingest(_Strict):
    """How raw articles become paragraphs."""

    split: Literal["auto", "blank_line", "line"] = "auto"
    max_chars: int = Field(default=1000, ge=50)
    date_header: str = r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+"
    drop_lines: tuple[str, ...] = ()
    strip_prefixes: tuple[str, ...] = ()

    @field_validator("date_header")
    @classmethod
    def _date_header(cls, value: str) -> str:
        pattern = _compile(value)
        if pattern.groups < 1:
            raise ValueError("date_header needs one group that captures the YYYY-MM-DD date")
        return value

    @field_validator("drop_lines", "strip_prefixes")
    @classmethod
    def _regexes(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            _compile(value)
        return values


class Documents(_Strict):
    """How a document's labels (documents.jsonl) follow from its paragraphs' labels.

    Stance toward a target: the mean of the stance scores over the paragraphs that mention it, the
    neutral labels' mean multiplied by `neutral_weight`, the highest wins (no paragraph mentions
    it: not_mentioned). A weight below 1 lets an article that is mostly neutral wording around a
    few clearly polar paragraphs count as polar, which is how readers judge an article.
    Frames: with a frame head, the head's document decision (the mean of its paragraphs' logits
    against per-frame document thresholds); else the frames labelled on at least `frame_share` of
    the document's paragraphs.
    """

    neutral_weight: float = Field(default=0.6, gt=0.0, le=1.0)
    frame_share: float = Field(default=0.25, gt=0.0, le=1.0)


class LabelStudioSettings(_Strict):
    """Where the Label Studio server is and how to reach it (the API key is never stored here)."""

    url: str = "http://localhost:8080"
    api_key_env: str = "LABEL_STUDIO_API_KEY"
    api_key_file: str | None = None
    project: str = "stance"
    batch_size: int = Field(default=500, ge=1)
    timeout: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=4, ge=0)


def _require_placeholders(template: str, names: tuple[str, ...]) -> None:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ValueError(f"template {template!r} is not a valid format string: {exc}") from None
    missing = [n for n in names if n not in fields]
    if missing:
        wanted = ", ".join("{" + n + "}" for n in names)
        raise ValueError(f"template {template!r} lacks {', '.join('{' + m + '}' for m in missing)}; expected {wanted}")
    unknown = fields - set(names)
    if unknown:
        raise ValueError(
            f"template {template!r} has unknown placeholder(s) {sorted(unknown)}; expected only "
            + ", ".join("{" + n + "}" for n in names)
        )


def _require_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two {what}s are called {name!r}; expected unique {what} names")
        seen.add(name)


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None


