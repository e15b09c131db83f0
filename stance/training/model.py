"""The model directory: what `stance train` writes and every trained scorer reads.

A model directory holds a stance classifier, a frame head, or both, and describes itself:

    stance_model.json         labels, input format, what it started from, training data and metrics
    model.safetensors, config.json, tokenizer files      a fully fine-tuned classifier ("full"), or
    adapter_config.json, adapter_model.safetensors       a LoRA adapter over a named base ("lora", peft)
    frame_head.safetensors, frame_head.json              the frame head (optional)
    stance_config.yaml        the config it was trained with
    README.md                 the model card
    eval/                     dev reports

`StanceModel.from_pretrained(dir)` loads it (an adapter is merged into its base, so inference
costs what the plain encoder costs); `save_pretrained` writes it, the card included, as SetFit
does. Directories written before this format (`"format": "stance-finetuned"`) still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.errors import ModelError
from stance.fileio import atomic_write_json, atomic_writer, file_sha256
from stance.scoring.targeted import INPUT_FORMAT, ONE_PASS_FORMAT

MODEL_JSON = "stance_model.json"
FORMAT = "stance-model"
FORMAT_VERSION = 2
LEGACY_FORMAT = "stance-finetuned"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
FRAME_HEAD_JSON = "frame_head.json"
FRAME_HEAD_WEIGHTS = "frame_head.safetensors"
SHIPPED_PREFIX = "shipped:"
ONE_PASS_HEADS = "one_pass_heads.safetensors"  # a one-pass directory's heads (stance.training.onepass_model)
ONE_PASS_ENCODER_DIR = "encoder"  # a one-pass directory's whole encoder, when not an adapter
CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md.j2"


def shipped_models_dir() -> Path:
    """Where the models shipped inside the package live."""
    return Path(__file__).resolve().parent.parent / "resources" / "models"


def resolve_model_dir(name: str | Path) -> Path | None:
    """The model directory `name` names (`shipped:NAME` or a path), or None when it is none."""
    text = str(name)
    if text.startswith(SHIPPED_PREFIX):
        path = shipped_models_dir() / text.removeprefix(SHIPPED_PREFIX)
        if not (path / MODEL_JSON).is_file():
            known = sorted(p.name for p in shipped_models_dir().iterdir() if (p / MODEL_JSON).is_file()) if shipped_models_dir().is_dir() else []
            raise ModelError(f"no shipped model {text!r}; expected one of: {', '.join(SHIPPED_PREFIX + k for k in known) or '(none)'}")
        return path
    path = Path(text).expanduser()
    return path if (path / MODEL_JSON).is_file() else None


def model_kind(name: str | Path) -> str | None:
    """The stance part's kind of the model directory `name` names ("full", "lora", "one-pass"), None otherwise."""
    try:
        directory = resolve_model_dir(name)
    except ModelError:
        return None
    if directory is None:
        return None
    stance = _read_json(directory / MODEL_JSON).get("stance")
    return stance.get("kind") if isinstance(stance, dict) else None


def is_model_dir(name: str | Path) -> bool:
    try:
        return resolve_model_dir(name) is not None
    except ModelError:
        return False


@dataclass
class FrameHead:
    """A multi-label frame classifier over sentence embeddings: one logistic unit per frame.

    The input is a paragraph's mean-pooled unit embedding from `encoder`, or, for a whole
    document, the plain mean of its paragraphs' embeddings; the logit is linear in the input, so
    a document's logit is the mean of its paragraphs' logits. Thresholds are per frame, one set
    for paragraphs and one for documents, calibrated on held-out predictions.
    """

    frames: list[str]
    weight: Any  # numpy (frames, dim)
    bias: Any  # numpy (frames,)
    paragraph_thresholds: list[float]
    document_thresholds: list[float]
    encoder: str
    info: dict[str, Any] = field(default_factory=dict)

    def logits(self, vectors: Any) -> Any:
        import numpy as np

        return np.asarray(vectors, dtype=np.float32) @ self.weight.T + self.bias

    def probabilities(self, vectors: Any) -> Any:
        import numpy as np

        return 1.0 / (1.0 + np.exp(-self.logits(vectors)))

    def save(self, directory: Path) -> None:
        import numpy as np
        from safetensors.numpy import save_file

        save_file({"weight": np.ascontiguousarray(self.weight, dtype=np.float32), "bias": np.ascontiguousarray(self.bias, dtype=np.float32)},
                  str(directory / FRAME_HEAD_WEIGHTS))
        atomic_write_json(directory / FRAME_HEAD_JSON, {
            "frames": self.frames, "encoder": self.encoder, "paragraph_thresholds": self.paragraph_thresholds,
            "document_thresholds": self.document_thresholds, **self.info,
        })

    @classmethod
    def load(cls, directory: Path) -> FrameHead | None:
        if not (directory / FRAME_HEAD_JSON).is_file():
            return None
        from safetensors.numpy import load_file

        meta = _read_json(directory / FRAME_HEAD_JSON)
        tensors = load_file(str(directory / FRAME_HEAD_WEIGHTS))
        extra = {k: v for k, v in meta.items() if k not in ("frames", "encoder", "paragraph_thresholds", "document_thresholds")}
        head = cls(list(meta["frames"]), tensors["weight"], tensors["bias"], list(meta["paragraph_thresholds"]),
                   list(meta["document_thresholds"]), str(meta["encoder"]), extra)
        if head.weight.shape[0] != len(head.frames) or len(head.paragraph_thresholds) != len(head.frames):
            raise ModelError(f"{directory / FRAME_HEAD_JSON}: {len(head.frames)} frames but weights for {head.weight.shape[0]}")
        return head

    def digest(self, directory: Path) -> str:
        return file_sha256(directory / FRAME_HEAD_WEIGHTS)[:16] + ":" + file_sha256(directory / FRAME_HEAD_JSON)[:8]


class StanceModel:
    """A model directory, loaded: its description, its stance classifier (if any) and frame head (if any)."""

    def __init__(self, directory: Path, info: dict[str, Any], frame_head: FrameHead | None) -> None:
        self.directory = directory
        self.info = info
        self.frame_head = frame_head

    @classmethod
    def from_pretrained(cls, name: str | Path) -> StanceModel:
        directory = resolve_model_dir(name)
        if directory is None:
            if not Path(name).expanduser().exists():
                raise ModelError(f"model path {name} does not exist; expected a model directory written by `stance train`"
                                 f" or {SHIPPED_PREFIX}NAME (a model shipped in the package)")
            raise ModelError(f"{name} has no {MODEL_JSON}; expected a model directory written by `stance train`")
        info = _read_json(directory / MODEL_JSON)
        if info.get("format") == LEGACY_FORMAT:
            info = {**info, "stance": {"kind": "full", "base": info.get("base")}, "format_version": 1}
        elif info.get("format") != FORMAT:
            raise ModelError(f"{directory / MODEL_JSON}: format {info.get('format')!r} is not {FORMAT!r}; expected a `stance train` directory")
        stance = info.get("stance")
        if stance is not None:
            for key in ("labels", "input_format"):
                if key not in info:
                    raise ModelError(f"{directory / MODEL_JSON}: key {key!r} is missing; expected a file written by `stance train`")
            expected = ONE_PASS_FORMAT if stance.get("kind") == "one-pass" else INPUT_FORMAT
            if info["input_format"].get("version") != expected["version"] or info["input_format"].get("kind", "text-pair") != expected["kind"]:
                raise ModelError(f"{directory / MODEL_JSON}: input format {info['input_format']} is not the one this stance reads ({expected})")
        return cls(directory, info, FrameHead.load(directory))

    @property
    def name(self) -> str:
        return str(self.info.get("name") or self.directory.resolve().name)

    @property
    def kind(self) -> str | None:
        """"full", "lora", "one-pass", or None for a directory that holds only a frame head."""
        stance = self.info.get("stance")
        return stance.get("kind") if isinstance(stance, dict) else None

    @property
    def labels(self) -> list[str]:
        return list(self.info.get("labels") or [])

    def weights_digests(self) -> list[str]:
        """What identifies the stance weights (for model versions): the files' hashes, and the base's for an adapter."""
        from stance.scoring.versions import weights_digest

        if self.kind == "one-pass":
            return self._one_pass_digests()
        if self.kind == "lora":
            stance = self.info["stance"]
            base = stance.get("base_weights") or [str(stance.get("base_sha256") or stance["base"])]
            return [file_sha256(self.directory / ADAPTER_WEIGHTS)[:16], *base]
        return [weights_digest(str(self.directory))]

    def _one_pass_digests(self) -> list[str]:
        """A one-pass directory's weights: its encoder part, its heads, its frame head, its base."""
        stance = self.info["stance"]
        own = self.directory / (ADAPTER_WEIGHTS if stance.get("encoder") == "lora" else f"{ONE_PASS_ENCODER_DIR}/model.safetensors")
        parts = [file_sha256(own)[:16] if own.is_file() else "no-encoder-file", file_sha256(self.directory / ONE_PASS_HEADS)[:16]]
        if self.frame_head is not None:
            parts.append(self.frame_head.digest(self.directory))
        if stance.get("encoder") == "lora":
            parts += list(stance.get("base_weights") or [str(stance.get("base"))])
        return parts

    def load_classifier(self) -> tuple[Any, Any]:
        """(sequence classifier in eval mode on the CPU, tokenizer); an adapter is merged into its base."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from stance.scoring.loading import load_pretrained, resolve_model_source

        if self.kind is None:
            raise ModelError(f"{self.directory} holds no stance classifier (only a frame head)")
        if self.kind == "one-pass":
            raise ModelError(f"{self.directory} is a one-pass model, not a target-conditioned classifier; train from it with"
                             " `stance train --one-pass`, or load it with stance.training.onepass_model.load_one_pass")
        if self.kind == "full":
            return (load_pretrained(AutoModelForSequenceClassification, str(self.directory), "fine-tuned model").eval(),
                    load_pretrained(AutoTokenizer, str(self.directory), "tokenizer"))
        base = str(self.info["stance"]["base"])
        base_dir = resolve_model_dir(base)
        if base_dir is not None:
            # an adapter over another trained model (a warm-started adapter): that model, merged, is the frozen base
            base_model = StanceModel.from_pretrained(base_dir)
            expected_weights = self.info["stance"].get("base_weights")
            if expected_weights and base_model.weights_digests() != expected_weights:
                raise ModelError(f"the adapter in {self.directory} was trained on {base} with other weights than {base_dir} holds now;"
                                 " expected the exact model it names")
            model, tokenizer = base_model.load_classifier()
            return self._apply_adapter(model, base), tokenizer
        expected = self.info["stance"].get("base_sha256")
        weights = Path(resolve_model_source(base)) / "model.safetensors"
        if expected and weights.is_file() and file_sha256(weights) != expected:
            raise ModelError(f"the adapter in {self.directory} was trained on a base whose weights differ from {base} ({weights});"
                             " expected the exact base it names")
        labels = self.labels
        model = load_pretrained(_Classifier(labels), base, "adapter's base encoder")
        tokenizer_source = str(self.directory) if (self.directory / "tokenizer.json").is_file() else base
        return self._apply_adapter(model, base), load_pretrained(AutoTokenizer, tokenizer_source, "tokenizer")

    def _apply_adapter(self, model: Any, base: str) -> Any:
        """`model` with this directory's LoRA adapter merged in, in eval mode."""
        try:
            from peft import PeftModel

            return PeftModel.from_pretrained(model, str(self.directory)).merge_and_unload().eval()
        except (KeyError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot apply the adapter in {self.directory} to {base}: {exc}") from None


class _Classifier:
    """A `from_pretrained` loader of a sequence classifier with the given labels (a fresh head when the base has none)."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels

    def from_pretrained(self, source: str) -> Any:
        from transformers import AutoModelForSequenceClassification

        labels = self.labels
        return AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
            ignore_mismatched_sizes=True,
        )


def classifier_loader(labels: list[str]) -> Any:
    """A loader for `stance.scoring.loading.load_pretrained` that gives a classifier with these labels."""
    return _Classifier(labels)


def save_model_dir(
    directory: Path, info: dict[str, Any], *, classifier: Any = None, tokenizer: Any = None, frame_head: FrameHead | None = None,
    config_yaml: str | None = None,
) -> None:
    """Write a model directory: the classifier (a peft model saves its adapter only, a plain one its
    weights and tokenizer), the frame head, stance_model.json, the config and the model card."""
    directory.mkdir(parents=True, exist_ok=True)
    if classifier is not None:
        classifier.save_pretrained(str(directory))
        if info.get("stance", {}).get("kind") == "full" and tokenizer is not None:
            tokenizer.save_pretrained(str(directory))
        (directory / "README.md").unlink(missing_ok=True)  # peft writes a stub card; ours follows
    if frame_head is not None:
        frame_head.save(directory)
    if config_yaml is not None:
        with atomic_writer(directory / "stance_config.yaml") as handle:
            handle.write(config_yaml)
    write_card(directory, info)


def write_card(directory: Path, info: dict[str, Any]) -> None:
    """stance_model.json and README.md (the model card, from a Jinja2 template through
    huggingface_hub's ModelCard, with its metadata header)."""
    from huggingface_hub import ModelCard, ModelCardData

    atomic_write_json(directory / MODEL_JSON, info)
    stance = info.get("stance") or {}
    data = ModelCardData(
        library_name="transformers" if stance.get("kind") == "full" else "stance",
        pipeline_tag="text-classification",
        base_model=stance.get("base") if stance.get("base") and not str(stance.get("base")).startswith(("bundled:", "shipped:", "/")) else None,
        tags=["stance", "target-dependent-sentiment", "media-frames", "stance-project"],
    )
    card = ModelCard.from_template(data, template_path=str(CARD_TEMPLATE), info=info, name=info.get("name") or directory.name)
    with atomic_writer(directory / "README.md") as handle:
        handle.write(str(card))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc.msg}); the model directory is damaged, train it again") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data
