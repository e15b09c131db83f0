"""Model versions: one meaning for every backend.

A model version names what produced a prediction's labels and scores:
`<backend>:<model name>:<12 hex>`, where the hex digest covers

- the weights: a hash of the model's weight files (for an adapter: the adapter's weights and the
  base it is merged into; for frames scored by a separate encoder, that encoder's weights too), and
- the config parts that change labels or scores for a given text (`StanceConfig.label_fingerprint`:
  targets and aliases, labels, gate, frames, prompts, scoring settings).

So the same weights with the same label settings always give the same version, whatever the
batch size, device, Label Studio settings or the path the model was loaded from; any change to
the weights or to those settings gives a new one. Label Studio shows this version, and a push
adds predictions to existing tasks only when it changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from stance.config import StanceConfig
from stance.fileio import file_sha256

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")


def file_digest(path: str | Path, length: int = 16) -> str:
    """Hex SHA-256 prefix of a file."""
    return file_sha256(path)[:length]


def weights_digest(source: str) -> str:
    """A digest of the weights a model directory (or a hub name in the local cache) holds.

    Weight files are hashed by content, so a copied or moved model keeps its digest. A hub name
    that is not cached locally is identified by its name (its weights cannot be read).
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
        if not files:
            files = sorted(p for p in path.iterdir() if p.is_file() and p.name == "config.json")
        digest = hashlib.sha256()
        for file in files:
            digest.update(f"{file.name}:{file_digest(file, 64)}\n".encode())
        return digest.hexdigest()[:16]
    try:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin"):
            cached = try_to_load_from_cache(source, filename)
            if isinstance(cached, str):
                return file_digest(cached)
    except (ImportError, ValueError):
        pass  # not a valid repo id for the cache: the name below identifies it
    return hashlib.sha256(f"hub:{source}".encode()).hexdigest()[:16]


def model_version(backend: str, name: str, parts: Sequence[str], config: StanceConfig) -> str:
    """`<backend>:<name>:<12 hex>` over the weight digests `parts` and the config's label settings."""
    blob = json.dumps({"weights": list(parts), "config": config.label_fingerprint()}, sort_keys=True).encode()
    return f"{backend}:{name}:{hashlib.sha256(blob).hexdigest()[:12]}"
