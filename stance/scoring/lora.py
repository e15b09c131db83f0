"""Low-rank adapters (LoRA, Hu et al. 2021) for BERT-style encoders, without extra dependencies.

Training wraps the chosen linear layers in `LoRALinear` (the base weight frozen, a trainable
low-rank update B @ A beside it). The shipped adapter keeps only A, B and the few fully trained
parameters (classification head, pooler, layer norms); loading merges `W + scale * B @ A` into
the frozen encoder, so inference costs exactly what the plain encoder costs.
"""

from __future__ import annotations

import math
import re
from typing import Any

# the attention projections and both feed-forward layers of every transformer block
DEFAULT_LORA_MODULES = r"encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$"
# trained in full: the new classification head, the pooler in front of it, and the layer norms (tiny)
DEFAULT_FULL_PARAMETERS = r"(^classifier\.|\.pooler\.|LayerNorm\.)"


def _lora_linear_class() -> Any:
    import torch
    from torch import nn

    class LoRALinear(nn.Module):
        """`base(x) + scale * (dropout(x) @ A.T) @ B.T` with `base` frozen."""

        def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float) -> None:
            super().__init__()
            self.base = base
            self.scale = alpha / rank
            self.lora_A = nn.Parameter(torch.empty(rank, base.in_features))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            self.dropout = nn.Dropout(dropout)

        def forward(self, x: Any) -> Any:
            return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scale

    return LoRALinear


def add_lora(model: Any, rank: int, alpha: float, dropout: float = 0.1, modules: str = DEFAULT_LORA_MODULES,
             full_parameters: str = DEFAULT_FULL_PARAMETERS) -> list[str]:
    """Wrap every linear layer whose name matches `modules`; freeze everything except the LoRA
    matrices and the parameters matching `full_parameters`. Returns the wrapped module names."""
    from torch import nn

    lora_linear = _lora_linear_class()
    pattern = re.compile(modules)
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear) and pattern.search(name)]
    if not names:
        raise ValueError(f"no linear layer of {type(model).__name__} matches {modules!r}")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, lora_linear(getattr(parent, child), rank, alpha, dropout))
    full = re.compile(full_parameters)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = ".lora_" in name or bool(full.search(name))
    return names


def adapter_tensors(model: Any, lora_modules: list[str], full_parameters: str = DEFAULT_FULL_PARAMETERS) -> dict[str, Any]:
    """What an adapter file stores: `lora.<module>.A/.B` and `full.<parameter>` (contiguous, CPU)."""
    tensors: dict[str, Any] = {}
    for name in lora_modules:
        module = model.get_submodule(name)
        tensors[f"lora.{name}.A"] = module.lora_A.detach().cpu().contiguous()
        tensors[f"lora.{name}.B"] = module.lora_B.detach().cpu().contiguous()
    full = re.compile(full_parameters)
    for name, parameter in model.named_parameters():
        if ".lora_" in name or not full.search(name):
            continue
        # inside a wrapped module the base weight sits one level down; store it under its plain name
        tensors[f"full.{name.replace('.base.', '.')}"] = parameter.detach().cpu().contiguous()
    return tensors


def apply_adapter(model: Any, tensors: dict[str, Any], scale: float) -> None:
    """Merge LoRA updates into a plain (unwrapped) model and load the fully trained parameters."""
    import torch

    state = model.state_dict()
    updates: dict[str, Any] = {}
    lora_names = {key[len("lora.") : -2] for key in tensors if key.startswith("lora.")}
    for name in sorted(lora_names):
        weight_key = f"{name}.weight"
        if weight_key not in state:
            raise KeyError(f"the adapter updates {name!r}, which the base model does not have")
        a, b = tensors[f"lora.{name}.A"], tensors[f"lora.{name}.B"]
        weight = state[weight_key]
        updates[weight_key] = weight + (b.to(torch.float32) @ a.to(torch.float32)).to(weight.dtype) * scale
    for key, value in tensors.items():
        if key.startswith("full."):
            name = key[len("full.") :]
            if name not in state:
                raise KeyError(f"the adapter holds {name!r}, which the base model does not have")
            if tuple(state[name].shape) != tuple(value.shape):
                raise KeyError(f"the adapter's {name!r} has shape {tuple(value.shape)}, the base model's {tuple(state[name].shape)}")
            updates[name] = value.to(state[name].dtype)
    model.load_state_dict(updates, strict=False)
