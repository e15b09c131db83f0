"""The one-pass network: an encoder, a stance head over (mention tokens, paragraph), a frame logit layer.

Importing this module imports torch: only the one-pass scorer and trainer do.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

HEADS = ("query", "stance_head", "frame_logits")  # saved in full beside the encoder or its adapter


class OnePassNet(nn.Module):
    """`encoder` (a Hugging Face encoder such as BertModel) plus two heads:

    - `stance_head`: a target's logits from [mean of its mention tokens ; the paragraph's tokens attended
      from them (`query`: one learned attention per target instance, so each target reads its own
      context) ; the paragraph's mean];
    - `frame_logits`: per-frame logits from the paragraph's mean (trained beside the stance loss so
      the encoder keeps what frames need; the shipped decision is the calibrated frame head fitted
      afterwards on the same vectors, `stance.training.frames`).
    """

    def __init__(self, encoder: Any, n_labels: int, n_frames: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.query = nn.Linear(hidden, hidden)
        self.stance_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(3 * hidden, hidden), nn.Tanh(), nn.Dropout(dropout),
                                         nn.Linear(hidden, n_labels))
        self.frame_logits = nn.Linear(hidden, max(1, n_frames))

    def encode(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> tuple[Any, Any]:
        """(token states (batch, length, hidden), the paragraph's mean over its tokens (batch, hidden))."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return hidden, (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def stance_logits(self, hidden: Any, mean: Any, rows: Any, masks: Any, attention_mask: Any) -> Any:
        """Logits of each target instance: `rows[k]` is its paragraph in the batch, `masks[k]` its mention tokens."""
        states = hidden[rows]
        weights = masks.to(hidden.dtype)
        mention = torch.einsum("kl,klh->kh", weights, states) / weights.sum(dim=1, keepdim=True).clamp(min=1e-9)
        scores = torch.einsum("kh,klh->kl", self.query(mention), states) / math.sqrt(states.shape[-1])
        scores = scores.masked_fill(attention_mask[rows] == 0, torch.finfo(scores.dtype).min)
        context = torch.einsum("kl,klh->kh", torch.softmax(scores, dim=-1), states)
        return self.stance_head(torch.cat([mention, context, mean[rows]], dim=-1))

    def head_state(self) -> dict[str, Any]:
        """The heads' weights (saved in full beside the encoder or its adapter)."""
        return {f"{name}.{k}": v for name in HEADS for k, v in getattr(self, name).state_dict().items()}

    def load_head_state(self, state: dict[str, Any]) -> None:
        for name in HEADS:
            getattr(self, name).load_state_dict({k.removeprefix(f"{name}."): v for k, v in state.items() if k.startswith(f"{name}.")})
