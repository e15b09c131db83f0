"""Length-sorted, token-capped batches: the core of fast transformer inference on CPU and GPU."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

GPU_MIN_TOKENS_PER_BATCH = 16384  # the CPU default (1,024) keeps batches in cache; a GPU wants big batches


def token_cap(max_tokens: int, device: Any) -> int:
    """Padded tokens per forward pass on `device`: the configured cap, at least 16,384 on CUDA."""
    return max(max_tokens, GPU_MIN_TOKENS_PER_BATCH) if getattr(device, "type", "cpu") == "cuda" else max_tokens


def length_sorted_batches(lengths: Sequence[int], max_batch: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first.

    A batch holds at most `max_batch` items and at most `max_tokens` padded tokens
    (items x longest item), so one long text never inflates a batch of short ones.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        length = max(lengths[index], 1)
        if current and (len(current) >= max_batch or max(longest, length) * (len(current) + 1) > max_tokens):
            batches.append(current)
            current, longest = [], 0
        current.append(index)
        longest = max(longest, length)
    if current:
        batches.append(current)
    return batches


def run_batched(
    features: Sequence[dict[str, list[int]]],
    *,
    max_batch: int,
    max_tokens: int,
    tokenizer: Any,
    device: Any,
    forward: Callable[[dict[str, Any]], Any],
) -> Any:
    """Run `forward` over dynamically padded, length-sorted batches; rows come back in input order.

    `forward` takes a padded batch on `device` and returns a 2-D tensor (one row per item).
    """
    import torch

    lengths = [len(f["input_ids"]) for f in features]
    rows: list[Any] = [None] * len(features)
    with torch.inference_mode():
        for batch in length_sorted_batches(lengths, max_batch, max_tokens):
            padded = tokenizer.pad([features[i] for i in batch], padding=True, return_tensors="pt")
            padded = {k: v.to(device) for k, v in padded.items()}
            output = forward(padded).float().cpu()
            for row, index in enumerate(batch):
                rows[index] = output[row]
    if not rows:
        return torch.empty(0)
    return torch.stack(rows)
