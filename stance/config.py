"""The one validated definition of targets, labels, frames, prompts, model and Label Studio settings.

Everything else (hypotheses, Label Studio XML, id2label maps, CSV columns) is generated from a
`StanceConfig`. Unknown keys are errors, and every error names the file, line and field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from stance.config_parts import (
    DEFAULT_DATELINE,
    NOT_MENTIONED_COLOUR,
    POLARITY_COLOURS,
    SPARE_COLOURS,
    Documents,
    Frame,
    Frames,
    Gate,
    Ingest,
    LabelStudioSettings,
    ModelSettings,
    NotMentioned,
    Polarity,
    StanceLabel,
    Target,
    _require_unique,
    _Strict,
)
from stance.errors import ConfigError
from stance.fileio import read_utf8

__all__ = [
    "DEFAULT_DATELINE", "Documents", "Frame", "Frames", "Gate", "Ingest", "LabelStudioSettings", "ModelSettings", "NotMentioned",
    "Polarity", "StanceConfig", "StanceLabel", "Target", "default_config_path", "load_config",
]

DEFAULT_CONFIG_NAME = "default.yaml"


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
        raise ConfigError(f"config file {path} {'is a folder' if path.is_dir() else 'does not exist'}; expected a YAML file such as configs/default.yaml")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle ({' -> '.join(str(p) for p in seen)})")
    text = read_utf8(path, "a YAML config", ConfigError)
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
