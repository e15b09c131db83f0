"""`stance annotate --engine ray`: the same scorer on Ray Data, one model replica per actor.

The local pipeline still reads the inputs, plans the chunks (resume, duplicate cache) and writes
the predictions; only the scoring of each chunk moves to Ray. Every chunk travels as one item and is
scored whole by one actor (`batch_size=1`), so it sees exactly the batches the local engine builds.
Chunks are sent in windows (`STANCE_RAY_WINDOW` chunks per replica, default 16): memory stays
bounded by the window whatever the corpus size, at the cost of loading the model once per window
and replica. Results come back in input order.

Connects to the cluster in RAY_ADDRESS when it is set; otherwise starts a local Ray with
STANCE_RAY_NUM_CPUS CPUs (default: all) and stops it at the end. STANCE_RAY_CPUS_PER_REPLICA
(default 1; torch uses that many threads in each actor) and STANCE_RAY_REPLICAS (default: the
cluster's CPUs divided by it) size the actor pool; with `model.device: cuda` each replica asks
for one GPU.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from stance.annotate import ChunkScorer, ParagraphAnnotator
from stance.config import StanceConfig
from stance.errors import ConfigError, RunError
from stance.records import Paragraph

DEFAULT_WINDOW_PER_REPLICA = 16


def ray_chunk_scorer_factory(config: StanceConfig, model: str | None) -> Callable[[ParagraphAnnotator], ChunkScorer]:
    """A `chunk_scorer_factory` for `annotate_corpus` that scores chunks on Ray actors."""
    _import_ray()  # fail before any work when the extra is missing

    def factory(annotator: ParagraphAnnotator) -> ChunkScorer:
        return RayChunkScorer(config, model)

    return factory


class RayChunkScorer:
    """Scores chunks of paragraphs on a Ray Data actor pool; yields each chunk's records in order."""

    def __init__(self, config: StanceConfig, model: str | None) -> None:
        self.config = config
        self.model = model
        self.cpus_per_replica = _env_number("STANCE_RAY_CPUS_PER_REPLICA", 1.0, float)
        self.window_per_replica = int(_env_number("STANCE_RAY_WINDOW", DEFAULT_WINDOW_PER_REPLICA, int))
        self.gpu = config.model.device.startswith("cuda")

    def __call__(self, chunks: Iterable[list[Paragraph]]) -> Iterator[list[dict[str, Any]]]:
        ray = _import_ray()
        started_here = _connect(ray)
        try:
            replicas = self._replicas(ray)
            window: list[list[Paragraph]] = []
            first = 0
            for chunk in chunks:
                window.append(chunk)
                if len(window) == replicas * self.window_per_replica:
                    yield from self._score_window(ray, window, first, replicas)
                    first += len(window)
                    window = []
            if window:
                yield from self._score_window(ray, window, first, replicas)
        finally:
            if started_here:
                ray.shutdown()

    def _replicas(self, ray: Any) -> int:
        configured = os.environ.get("STANCE_RAY_REPLICAS")
        if configured:
            return int(_env_number("STANCE_RAY_REPLICAS", 1, int))
        cpus = float(ray.cluster_resources().get("CPU", 1))
        return max(1, int(cpus // self.cpus_per_replica))

    def _score_window(self, ray: Any, window: list[list[Paragraph]], first: int, replicas: int) -> Iterator[list[dict[str, Any]]]:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False  # stance shows its own progress, per chunk written
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # no per-window execution plans on the terminal
        items = [
            {"chunk": first + i, "paragraphs": json.dumps([p.to_dict() for p in chunk], ensure_ascii=False)}
            for i, chunk in enumerate(window)
        ]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            AnnotateChunks,
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=min(replicas, len(items))),
            num_cpus=self.cpus_per_replica,
            num_gpus=1 if self.gpu else None,
            fn_constructor_args=(self.config, self.model, max(1, int(self.cpus_per_replica))),
        )
        results: dict[int, list[dict[str, Any]]] = {}
        try:
            for row in dataset.iter_rows():
                results[int(row["chunk"])] = json.loads(str(row["records"]))
        except Exception as exc:  # a worker's failure: say which chunks, keep Ray's message and traceback
            ids = [chunk[0].id for chunk in window if chunk]
            raise RunError(
                f"the Ray engine failed while scoring chunks {first}-{first + len(window) - 1}"
                f" (paragraphs from {ids[0] if ids else 'none'}): {type(exc).__name__}: {exc}"
            ) from exc
        for i in range(first, first + len(window)):
            if i not in results:
                raise RunError(f"the Ray engine returned no result for chunk {i}; expected one per chunk")
            yield results[i]


class AnnotateChunks:
    """One model replica on a Ray actor: scores whole chunks with the same annotator as the local engine."""

    def __init__(self, config: StanceConfig, model: str | None, threads: int) -> None:
        import torch

        from stance.scoring import build_scorer

        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS=1 in actors; use the CPUs this actor holds
        self.annotator = ParagraphAnnotator(config, build_scorer(config, model))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        records = []
        for payload in batch["paragraphs"]:
            paragraphs = [Paragraph(**item) for item in json.loads(str(payload))]
            records.append(json.dumps(self.annotator.annotate(paragraphs), ensure_ascii=False))
        return {"chunk": np.asarray(batch["chunk"]), "records": np.asarray(records, dtype=object)}


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RunError("--engine ray needs Ray Data: pip install -c constraints.txt -e '.[ray]'") from None
    return ray


def _connect(ray: Any) -> bool:
    """Join RAY_ADDRESS's cluster or an already running Ray, else start a local one; True if started here."""
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False, logging_level="ERROR")
    else:
        cpus = os.environ.get("STANCE_RAY_NUM_CPUS")
        ray.init(num_cpus=int(_env_number("STANCE_RAY_NUM_CPUS", 1, int)) if cpus else None, **quiet)
    return True


def _env_number(name: str, default: float, kind: type) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not a number; expected a positive {kind.__name__}") from None
    if value <= 0:
        raise ConfigError(f"environment variable {name}={raw!r}; expected a positive {kind.__name__}")
    return value
