"""The compact offline default: a target-conditioned LoRA adapter over the frozen bundled MiniLM.

The adapter (`stance/resources/adapter/`: `adapter.safetensors` + `adapter.json`, about 2 MB) was
trained on NewsMTSC train by `stance train --adapter`. Loading merges it into the bundled
encoder, so the scorer runs as fast as the plain encoder. The input is the same as for the
fine-tuned scorer: (target name, text with the target's mentions marked). Frames come from a
separate frame scorer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import ModelError
from stance.fileio import file_sha256
from stance.scoring.loading import load_pretrained, pick_device, resolve_model_source
from stance.scoring.lora import apply_adapter
from stance.scoring.targeted import INPUT_FORMAT, TargetedScorer, check_labels

ADAPTER_FORMAT = "stance-lora-adapter"
ADAPTER_JSON = "adapter.json"
ADAPTER_WEIGHTS = "adapter.safetensors"


def shipped_adapter_dir() -> Path:
    """The adapter inside the installed package."""
    return Path(__file__).resolve().parent.parent / "resources" / "adapter"


def is_adapter_dir(name: str | Path) -> bool:
    return (Path(name) / ADAPTER_JSON).is_file()


def read_adapter_info(adapter_dir: str | Path) -> dict[str, Any]:
    """The parsed `adapter.json`, checked for the keys the scorer needs."""
    path = Path(adapter_dir) / ADAPTER_JSON
    if not path.is_file():
        raise ModelError(f"{adapter_dir} has no {ADAPTER_JSON}; expected an adapter written by scripts/train_adapter.py")
    info = json.loads(path.read_text(encoding="utf-8"))
    if info.get("format") != ADAPTER_FORMAT:
        raise ModelError(f"{path}: format {info.get('format')!r} is not {ADAPTER_FORMAT!r}")
    if info.get("input_format", {}).get("version") != INPUT_FORMAT["version"]:
        raise ModelError(f"{path}: input format {info.get('input_format')} is not the one this stance reads ({INPUT_FORMAT})")
    return info


def adapter_name(info: dict[str, Any]) -> str:
    """The adapter's name: `name` in adapter.json, else the middle of its `adapter:<name>:<hash>` version."""
    if info.get("name"):
        return str(info["name"])
    parts = str(info.get("model_version", "adapter")).split(":")
    return parts[1] if len(parts) >= 3 else parts[0]


def load_adapted_model(adapter_dir: str | Path, base: str | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """(model with the adapter merged, tokenizer, adapter info), on the CPU, in eval mode."""
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    adapter_dir = Path(adapter_dir)
    info = read_adapter_info(adapter_dir)
    base = base or info["base"]
    source = resolve_model_source(base)
    expected = info.get("base_sha256")
    weights = Path(source) / "model.safetensors"
    if expected and weights.is_file() and file_sha256(weights) != expected:
        raise ModelError(
            f"the adapter in {adapter_dir} was trained on a base whose weights differ from {base} ({weights});"
            " expected the exact base it names, " + info["base"]
        )
    labels = list(info["labels"])

    class _Classifier:
        @staticmethod
        def from_pretrained(src: str) -> Any:
            return AutoModelForSequenceClassification.from_pretrained(
                src, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)}
            )

    model = load_pretrained(_Classifier, base, "adapter's base encoder")
    tokenizer = load_pretrained(AutoTokenizer, base, "tokenizer")
    try:
        apply_adapter(model, load_file(str(adapter_dir / ADAPTER_WEIGHTS)), float(info["lora"]["scale"]))
    except (KeyError, OSError) as exc:
        raise ModelError(f"cannot apply the adapter in {adapter_dir} to {base}: {exc}") from None
    model.eval()
    return model, tokenizer, info


class AdapterScorer(TargetedScorer):
    """Stance from the LoRA adapter merged into the bundled encoder.

    `model_name` is an adapter directory, or the base encoder the shipped adapter was trained on
    (the default config's `bundled:all-MiniLM-L6-v2`), which selects the shipped adapter.
    """

    def __init__(self, config: StanceConfig, model_name: str | None = None) -> None:
        name = model_name or config.model.name
        if is_adapter_dir(name):
            adapter_dir, base = Path(name), None
        else:
            adapter_dir, base = shipped_adapter_dir(), name
            shipped_base = read_adapter_info(adapter_dir)["base"]
            if name.startswith("bundled:") and name != shipped_base:
                raise ModelError(
                    f"the shipped adapter was trained on {shipped_base}, not {name}; set model.name to {shipped_base}"
                    " or to an adapter directory"
                )
        self.config = config
        self.model, self.tokenizer, self.info = load_adapted_model(adapter_dir, base)
        self.labels = list(self.info["labels"])
        check_labels(config, self.labels, f"the adapter in {adapter_dir}")
        self.device = pick_device(config.model.device)
        self.model.to(self.device)
        self.max_length = min(config.model.max_length, int(getattr(self.model.config, "max_position_embeddings", 512)))
        self.backend = "adapter"
        self.name = adapter_name(self.info)
        self.weights = (file_sha256(adapter_dir / ADAPTER_WEIGHTS)[:16], str(self.info.get("base_sha256") or base or self.info["base"]))
        self._set_version()
