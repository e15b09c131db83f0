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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stance.errors import ModelError

Forward = Callable[[dict[str, Any]], Any]
# measured on the shipped default (README, Speed): int8 does not keep the labels, so it is not offered as a speed-up
INT8_WARNING = ("model.quantize: int8 changed 3.5% of the shipped default's labels and cost 0.03 NewsMTSC dev_rw macro-F1 for"
                " 1.2x the speed on a 2-core CPU; check your model with `stance evaluate` before relying on it")


def cache_dir() -> Path:
    return Path(os.environ.get("STANCE_CACHE") or Path.home() / ".cache" / "stance") / "onnx"


def forward_for(model: Any, runtime: str, quantize: str, key: str, device: Any) -> Forward:
    """A function from a padded batch (tensors on `device`) to logits, for the chosen runtime."""
    import torch

    if quantize == "int8":
        warnings.warn(INT8_WARNING, stacklevel=2)
    if runtime == "onnx":
        return _onnx_forward(model, quantize, key)
    if quantize == "int8":
        if device.type != "cpu":
            raise ModelError("model.quantize: int8 runs on the CPU only; use model.device: cpu, or no quantize")
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    if device.type == "cuda":
        def forward_cuda(batch: dict[str, Any]) -> Any:
            with torch.autocast("cuda", dtype=torch.float16):
                return model(**batch).logits.float()

        return forward_cuda
    return lambda batch: model(**batch).logits


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
        torch.onnx.export(Logits(model), tuple(dummy[n] for n in names), str(plain), input_names=names, output_names=["logits"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
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
