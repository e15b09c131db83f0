"""The one validated definition of targets, labels, frames, prompts, model and Label Studio settings.

Everything else (hypotheses, Label Studio XML, id2label maps, CSV columns) is generated from a
`StanceConfig`. Unknown keys are errors, and every error names the file, line and field.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stance.errors import ConfigError

DEFAULT_CONFIG_NAME = "default.yaml"
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

    neutral_weight: float = Field(default=1.0, gt=0.0, le=1.0)
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


class StanceConfig(_Strict):
    """The whole configuration of a run."""

    targets: tuple[Target, ...]
    labels: tuple[StanceLabel, ...]
    not_mentioned: NotMentioned = Field(default_factory=NotMentioned)
    gate: Gate = Field(default_factory=Gate)
    frames: Frames = Field(default_factory=Frames)
    model: ModelSettings = Field(default_factory=ModelSettings)
    ingest: Ingest = Field(default_factory=Ingest)
    documents: Documents = Field(default_factory=Documents)
    labelstudio: LabelStudioSettings = Field(default_factory=LabelStudioSettings)

    @model_validator(mode="after")
    def _consistent(self) -> StanceConfig:
        if not self.targets:
            raise ValueError("targets is empty; expected at least one target with a name")
        if len(self.labels) < 2:
            raise ValueError("labels needs at least two stance labels (e.g. favorable, neutral, unfavorable)")
        _require_unique([t.name for t in self.targets], "target")
        _require_unique([label.name for label in self.labels], "label")
        if self.not_mentioned.name in {label.name for label in self.labels}:
            raise ValueError(
                f"label {self.not_mentioned.name!r} is both a stance label and the not_mentioned label;"
                " expected different names"
            )
        return self

    @property
    def stance_label_names(self) -> tuple[str, ...]:
        """The stance labels the model chooses between (without `not_mentioned`)."""
        return tuple(label.name for label in self.labels)

    @property
    def all_label_names(self) -> tuple[str, ...]:
        """Every label an output can carry: the stance labels, then `not_mentioned`."""
        return (*self.stance_label_names, self.not_mentioned.name)

    @property
    def frame_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.frames.items) if self.frames.enabled else ()

    def labels_with(self, polarity: str) -> tuple[str, ...]:
        """The stance labels of one polarity (positive, neutral or negative), in config order."""
        return tuple(label.name for label in self.labels if label.polarity == polarity)

    @property
    def polar_label_names(self) -> tuple[str, ...]:
        """The positive and negative stance labels (what F_avg averages)."""
        return tuple(label.name for label in self.labels if label.polarity != "neutral")

    def label_colours(self) -> dict[str, str]:
        """A colour per label: a label's own `colour`, else its polarity's Okabe-Ito colour while no
        other label has taken it, else the next spare Okabe-Ito colour; not_mentioned light grey."""
        colours: dict[str, str] = {}
        spare = iter(SPARE_COLOURS)
        for label in self.labels:
            colour = label.colour or POLARITY_COLOURS[label.polarity]
            if label.colour is None and colour in colours.values():
                colour = next(spare, "#000000")
            colours[label.name] = colour
        colours[self.not_mentioned.name] = NOT_MENTIONED_COLOUR
        return colours

    def target(self, name: str) -> Target:
        """The configured target called `name`, or an ad-hoc one whose only alias is its name."""
        for target in self.targets:
            if target.name == name:
                return target
        return Target(name=name)

    def fingerprint(self) -> str:
        """A short hash of the whole config except the Label Studio settings: a run's identity (a
        resumed run must use the same config, inputs are split by `ingest`)."""
        relevant = self.model_dump(mode="json", exclude={"labelstudio"})
        blob = json.dumps(relevant, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def label_fingerprint(self) -> str:
        """A short hash of the config parts that can change a label or a score for a given text:
        targets and aliases, labels, the gate, frames and the model's prompts and scoring settings.
        Not batching, device, ingest or Label Studio settings, and not `model.name` (the model
        version hashes the weights themselves)."""
        relevant = self.model_dump(
            mode="json",
            exclude={"labelstudio": True, "ingest": True, "documents": True, "model": {"name", "batch_size", "max_tokens_per_batch", "device"}},
        )
        for label in relevant["labels"]:
            label.pop("colour", None)
        blob = json.dumps(relevant, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


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


def default_config_path() -> Path:
    """`configs/default.yaml` of a source checkout, else the copy the wheel ships in `stance/configs/`."""
    checkout = Path(__file__).resolve().parent.parent / "configs" / DEFAULT_CONFIG_NAME
    if checkout.is_file():
        return checkout
    return Path(__file__).resolve().parent / "configs" / DEFAULT_CONFIG_NAME


def load_config(path: str | Path | None = None) -> StanceConfig:
    """Read and validate a YAML config; `None` loads the offline default.

    A config may start with `extends: other.yaml` (relative to itself): the other file is read
    first and this one's keys override it (mappings merge key by key, lists are replaced).
    """
    path = Path(path) if path is not None else default_config_path()
    data, trees = _read_with_extends(path, seen=())
    try:
        return StanceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, trees)) from None


def _read_with_extends(path: Path, seen: tuple[Path, ...]) -> tuple[dict[str, Any], list[tuple[Path, Any]]]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; expected a YAML file such as configs/default.yaml")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle ({' -> '.join(str(p) for p in seen)})")
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys such as targets, labels, frames, model")
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data, [(path, tree)]
    if not isinstance(parent_name, str):
        raise ConfigError(f"{path}: extends must be a file name such as default.yaml, not {parent_name!r}")
    parent, parent_trees = _read_with_extends(path.parent / parent_name, (*seen, path.resolve()))
    return _merge(parent, data), [(path, tree), *parent_trees]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe_validation_error(exc: ValidationError, trees: list[tuple[Path, Any]]) -> str:
    lines = [f"{trees[0][0]}: {exc.error_count()} problem(s) in the config:"]
    for error in exc.errors():
        loc = error["loc"]
        field = _format_loc(loc) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; check its spelling against configs/default.yaml"
        elif error["type"] == "missing":
            message = "required key is missing"
        where = ""
        for file, tree in trees:
            line = _line_of(tree, loc)
            if line is not None:
                where = f"{file}:{line}: " if file != trees[0][0] else f"line {line}: "
                break
        lines.append(f"  {where}{field}: {message}")
    return "\n".join(lines)


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line in the YAML file of the node at `loc`, as deep as it can be followed."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                # a missing key: point at the mapping that lacks it (None at the top: look elsewhere)
                return line if part is not loc[0] else None
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
