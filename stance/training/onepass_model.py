"""Loading and saving one-pass model directories (`stance_model.json` `"stance": {"kind": "one-pass"}`).

Beside the files every model directory has (see `stance.training.model`), a one-pass directory holds

    one_pass_heads.safetensors                           the stance head and the frame logit layer
    adapter_config.json, adapter_model.safetensors       a LoRA adapter of the encoder over its base ("encoder": "lora"), or
    encoder/                                             the whole fine-tuned encoder ("encoder": "full")
    frame_head.safetensors, frame_head.json              the calibrated frame head on the model's own paragraph vectors

The base (`"base"`) is an encoder (a cold start), another one-pass directory (a warm start: its
encoder and heads), or a target-conditioned model directory (its encoder, merged; new heads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stance.errors import ModelError
from stance.training.model import ONE_PASS_ENCODER_DIR as ENCODER_DIR
from stance.training.model import ONE_PASS_HEADS as HEADS
from stance.training.model import StanceModel, resolve_model_dir

KIND = "one-pass"


def base_digests(spec: str) -> list[str]:
    """What identifies a base's weights: a model directory's digests, or an encoder's."""
    directory = resolve_model_dir(spec)
    if directory is not None:
        return StanceModel.from_pretrained(directory).weights_digests()
    from stance.scoring.loading import resolve_model_source
    from stance.scoring.versions import weights_digest

    return [weights_digest(resolve_model_source(spec))]


def load_base(spec: str, labels: list[str], n_frames: int) -> tuple[Any, Any]:
    """(OnePassNet, tokenizer) to train from `spec` (see the module docstring)."""
    from transformers import AutoModel, AutoTokenizer

    from stance.scoring.loading import load_pretrained
    from stance.training.onepass_net import OnePassNet

    directory = resolve_model_dir(spec)
    if directory is not None:
        model = StanceModel.from_pretrained(directory)
        if model.kind == KIND:
            if sorted(model.labels) != sorted(labels):
                raise ModelError(f"{spec} predicts {model.labels}; expected the config's stance labels {labels}")
            net, tokenizer = load_one_pass(model)
            if net.frame_logits.out_features != max(1, n_frames):
                net.frame_logits = type(net.frame_logits)(net.frame_logits.in_features, max(1, n_frames))
            return net, tokenizer
        classifier, tokenizer = model.load_classifier()
        return OnePassNet(classifier.base_model, len(labels), n_frames), tokenizer
    encoder = load_pretrained(AutoModel, spec, "encoder")
    tokenizer = load_pretrained(AutoTokenizer, spec, "tokenizer")
    return OnePassNet(encoder, len(labels), n_frames), tokenizer


def load_one_pass(model: StanceModel) -> tuple[Any, Any]:
    """(OnePassNet in eval mode on the CPU, tokenizer) of a one-pass directory; an adapter is merged into its base."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    from stance.scoring.loading import load_pretrained

    stance = model.info["stance"]
    base = str(stance["base"])
    expected = stance.get("base_weights")
    if stance.get("encoder") == "lora" and expected and base_digests(base) != expected:
        raise ModelError(f"the one-pass model in {model.directory} was trained on {base} with other weights than it holds now;"
                         " expected the exact base it names")
    n_frames = int((model.info.get("one_pass") or {}).get("frame_logits", 1))
    net, tokenizer = load_base(base, model.labels, n_frames)
    if stance.get("encoder") == "lora":
        try:
            from peft import PeftModel

            net.encoder = PeftModel.from_pretrained(net.encoder, str(model.directory)).merge_and_unload()
        except (KeyError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot apply the adapter in {model.directory} to {base}: {exc}") from None
    else:
        net.encoder = load_pretrained(AutoModel, str(model.directory / ENCODER_DIR), "one-pass encoder")
    if (model.directory / "tokenizer.json").is_file():
        tokenizer = load_pretrained(AutoTokenizer, str(model.directory), "tokenizer")
    heads = model.directory / HEADS
    if not heads.is_file():
        raise ModelError(f"{heads} is missing; the one-pass model directory is damaged, train it again")
    try:
        net.load_head_state(load_file(str(heads)))
    except RuntimeError as exc:
        raise ModelError(f"{heads}: the heads do not fit the encoder ({str(exc).splitlines()[0]}); train the model again") from None
    return net.eval(), tokenizer


def save_one_pass(directory: Path, net: Any, tokenizer: Any, lora: bool) -> None:
    """The encoder part (a peft adapter, or the whole encoder), the heads and the tokenizer."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    if lora:
        net.encoder.save_pretrained(str(directory))
        (directory / "README.md").unlink(missing_ok=True)  # peft's stub card; ours follows
    else:
        net.encoder.save_pretrained(str(directory / ENCODER_DIR))
    tokenizer.save_pretrained(str(directory))
    save_file({k: v.detach().cpu().contiguous() for k, v in net.head_state().items()}, str(directory / HEADS))
