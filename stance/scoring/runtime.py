"""How a classifier's forward pass runs: PyTorch (fp32, or dynamic int8) or ONNX Runtime.

`model.runtime: onnx` exports the (merged) classifier once to ONNX, with dynamic batch and
sequence axes, into a cache keyed by its weights (`$STANCE_CACHE`, default
`~/.cache/stance/onnx/`), and runs it with ONNX Runtime; `model.quantize: int8` quantises the
linear layers' weights to int8 (PyTorch's `quantize_dynamic` for the torch runtime, ONNX
Runtime's `quantize_dynamic` for onnx). Both change the arithmetic, so both enter the model
version (they are label settings); the README gives their measured label agreement with fp32.
On CUDA, the torch runtime runs under fp16 autocast.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stance.errors import ModelError

Forward = Callable[[dict[str, Any]], Any]
# measured on the shipped default (README, Speed): int8 does not keep the labels, so it is not offered as a speed-up
INT8_WARNING = ("model.quantize: int8 changed 3.5% of the shipped default's labels and cost 0.03 NewsMTSC dev_rw macro-F1 for"
                " 1.2x the speed on a 2-core CPU; check your model with `stance evaluate` before relying on it")


def cache_dir() -> Path:
    return Path(os.environ.get("STANCE_CACHE") or Path.home() / ".cache" / "stance") / "onnx"


def forward_for(model: Any, runtime: str, quantize: str, key: str, device: Any, *, vectors: Sequence[int] | None = None) -> Forward:
    """A function from a padded batch (tensors on `device`) to logits, for the chosen runtime.

    With `vectors` (hidden-state indices), each row is the logits followed by the text segment's
    vector (`segment_vectors`) from the same pass; under ONNX Runtime (which returns logits only)
    the vectors come from a torch pass of the same model.
    """
    import torch

    if quantize == "int8":
        warnings.warn(INT8_WARNING, stacklevel=2)
    if runtime == "onnx":
        logits = _onnx_forward(model, quantize, key)
        if not vectors:
            return logits
        torch_pass = _with_vectors(model, vectors)
        return lambda batch: torch.cat([logits(batch), torch_pass(batch)[:, int(model.config.num_labels):]], dim=-1)
    if quantize == "int8":
        if device.type != "cpu":
            raise ModelError("model.quantize: int8 runs on the CPU only; use model.device: cpu, or no quantize")
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    inner = _with_vectors(model, vectors) if vectors else (lambda batch: model(**batch).logits)
    if device.type == "cuda":
        def forward_cuda(batch: dict[str, Any]) -> Any:
            with torch.autocast("cuda", dtype=torch.float16):
                return inner(batch).float()

        return forward_cuda
    return inner


def stance_pass_layers(num_layers: int) -> tuple[int, ...]:
    """The hidden states a frame head on the stance pass reads: a third, two thirds and all of the way up
    (2, 4, 6 for MiniLM-L6). Measured on the team corpus (grouped out-of-fold frame micro-F1, paragraphs):
    the last layer alone 0.652, layer 3 alone 0.667, layers 2 + 4 + 6 0.684 (the sentence encoder: 0.687)."""
    return tuple(sorted({max(1, num_layers // 3), max(1, 2 * num_layers // 3), num_layers}))


def segment_vectors(hidden_states: Sequence[Any], batch: dict[str, Any], layers: Sequence[int]) -> Any:
    """Per row, the second segment's (the text's; the whole input for a model without token types)
    mean-pooled unit vector of each of `layers`, concatenated and normalised: what a frame head on
    the stance pass reads."""
    import torch

    mask = batch["attention_mask"]
    if "token_type_ids" in batch:
        mask = mask * (batch["token_type_ids"] == 1)
    weights = mask.unsqueeze(-1).to(hidden_states[0].dtype)
    parts = []
    for layer in layers:
        mean = (hidden_states[layer] * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        parts.append(torch.nn.functional.normalize(mean.float(), dim=-1))
    return torch.nn.functional.normalize(torch.cat(parts, dim=-1), dim=-1)


def _with_vectors(model: Any, layers: Sequence[int]) -> Forward:
    import torch

    def forward(batch: dict[str, Any]) -> Any:
        output = model(**batch, output_hidden_states=True)
        return torch.cat([output.logits.float(), segment_vectors(output.hidden_states, batch, layers)], dim=-1)

    return forward


def _onnx_forward(model: Any, quantize: str, key: str) -> Forward:
    try:
        import onnxruntime
    except ImportError:
        raise ModelError("model.runtime: onnx needs ONNX Runtime: pip install -c constraints.txt -e '.[onnx]'") from None
    import torch

    path = cache_dir() / f"{key}{'-int8' if quantize == 'int8' else ''}.onnx"
    if not path.is_file():
        _export(model, path, quantize)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}

    def forward(batch: dict[str, Any]) -> Any:
        feed = {k: v.cpu().numpy() for k, v in batch.items() if k in inputs}
        return torch.from_numpy(session.run(["logits"], feed)[0])

    return forward


def _export(model: Any, path: Path, quantize: str) -> None:
    """Export the classifier to ONNX (atomically: a half-written file is never used)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    dummy = {"input_ids": torch.ones(2, 16, dtype=torch.long), "attention_mask": torch.ones(2, 16, dtype=torch.long),
             "token_type_ids": torch.zeros(2, 16, dtype=torch.long)}
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in _forward_arguments(model)]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    plain = path.with_name(path.name + ".partial.onnx")

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(names, args, strict=True))).logits

    import warnings

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        # the wrapper in eval mode: export restores the wrapper's mode afterwards, and a new module is in training mode,
        # which would leave the model itself with dropout on for any torch pass after the export
        torch.onnx.export(Logits(model).eval(), tuple(dummy[n] for n in names), str(plain), input_names=names, output_names=["logits"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    model.eval()
    if quantize == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = path.with_name(path.name + ".partial-int8.onnx")
        quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8)
        plain.unlink()
        plain = quantized
    os.replace(plain, path)


def _forward_arguments(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)
