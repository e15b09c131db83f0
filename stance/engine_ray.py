"""`stance annotate --engine ray`: the same scorer on Ray Data, one model replica per actor.

The local pipeline still reads the inputs, plans the chunks (resume, duplicate cache) and writes
the predictions; only the scoring of each chunk moves to Ray. Every chunk travels as one item and is
scored whole by one actor (`batch_size=1`), so it sees exactly the batches the local engine builds.

One Ray Data pipeline serves the whole run: its source is a read task that takes chunks from a Ray
queue, which the driver keeps topped up to `STANCE_RAY_WINDOW` chunks per replica in flight. Memory
stays bounded by those chunks whatever the corpus size, the actors (and their models) are started
once, and results come back in input order.

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
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from stance.annotate import ChunkScorer
from stance.annotator import Annotator
from stance.config import StanceConfig
from stance.errors import ConfigError, RunError
from stance.records import Paragraph, Prediction

DEFAULT_WINDOW_PER_REPLICA = 4
_END = None  # the queue's end-of-input marker


def ray_chunk_scorer_factory(config: StanceConfig, model: str | None) -> Callable[[Annotator], ChunkScorer]:
    """A `chunk_scorer_factory` for `annotate_corpus` that scores chunks on Ray actors."""
    _import_ray()  # fail before any work when the extra is missing

    def factory(annotator: Annotator) -> ChunkScorer:
        return RayChunkScorer(config, model)

    return factory


class RayChunkScorer:
    """Scores chunks of paragraphs on a Ray Data actor pool; yields each chunk's records in order."""

    def __init__(self, config: StanceConfig, model: str | None) -> None:
        self.config = config
        self.model = model
        self.cpus_per_replica = _env_number("STANCE_RAY_CPUS_PER_REPLICA", 1.0, float)
        self.window_per_replica = int(_env_number("STANCE_RAY_WINDOW", DEFAULT_WINDOW_PER_REPLICA, int))
        self.replicas_configured = int(_env_number("STANCE_RAY_REPLICAS", 0, int)) or None
        self.gpu = config.model.device.startswith("cuda")

    def __call__(self, chunks: Iterable[list[Paragraph]]) -> Iterator[list[Prediction]]:
        chunks = iter(chunks)
        first = next(chunks, None)
        if first is None:
            return  # nothing to score (e.g. a finished run resumed): no Ray started
        ray = _import_ray()
        started_here = _connect(ray)
        try:
            yield from self._run(ray, first, chunks)
        finally:
            if started_here:
                ray.shutdown()

    def _replicas(self, ray: Any) -> int:
        if self.replicas_configured:
            return self.replicas_configured
        cpus = float(ray.cluster_resources().get("CPU", 1))
        return max(1, int(cpus // self.cpus_per_replica))

    def _run(self, ray: Any, first: list[Paragraph], rest: Iterator[list[Paragraph]]) -> Iterator[list[Prediction]]:
        import ray.data
        from ray.util.queue import Queue

        replicas = self._replicas(ray)
        in_flight_limit = replicas * self.window_per_replica
        context = ray.data.DataContext.get_current()
        saved = (context.execution_options.preserve_order, context.enable_progress_bars,
                 context.print_on_execution_start, context.target_max_block_size)
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False  # stance shows its own progress, per chunk written
        context.print_on_execution_start = False
        # The read task must hand over each chunk at once: with the default 128 MiB block target it
        # would gather chunks into one block until its input ended, which waits on our results.
        context.target_max_block_size = 1
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # no execution plans on the terminal
        queue = Queue(actor_options={"num_cpus": 0})
        first_ids: dict[int, str] = {}  # chunk number -> its first paragraph's id, for error messages
        sent = received = 0
        pending: list[Paragraph] | None = first
        ended = False
        rows: Any = None
        try:
            dataset = ray.data.read_datasource(_queue_datasource(queue), num_cpus=0, override_num_blocks=1).map_batches(
                AnnotateChunks,
                batch_size=1,
                batch_format="numpy",
                # one chunk at a time per actor: a chunk takes seconds, and queueing several on the first
                # actor that is ready would leave the others idle at the end
                compute=ray.data.ActorPoolStrategy(size=replicas, max_tasks_in_flight_per_actor=1),
                num_cpus=self.cpus_per_replica,
                num_gpus=1 if self.gpu else None,
                fn_constructor_args=(self.config, self.model, max(1, int(self.cpus_per_replica))),
            )

            def feed() -> None:
                # Chunks are planned (duplicate cache) only when pulled, so pull no further ahead than needed.
                nonlocal sent, pending, ended
                while pending is not None and sent - received < in_flight_limit:
                    first_ids[sent] = pending[0].id if pending else "(no paragraph to score)"
                    queue.put((sent, json.dumps([p.to_dict() for p in pending], ensure_ascii=False)))
                    sent += 1
                    pending = next(rest, None)
                if pending is None and not ended:
                    queue.put(_END)
                    ended = True

            feed()
            rows = iter(dataset.iter_rows())
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    break
                except Exception as exc:  # Ray's own failure (a lost node, an actor that died)
                    raise RunError(
                        f"the Ray engine failed while scoring chunk {received} (first paragraph"
                        f" {first_ids.get(received, '?')}) or one after it: {type(exc).__name__}: {exc}"
                    ) from exc
                number = int(row["chunk"])
                if number != received:
                    raise RunError(f"the Ray engine returned chunk {number} where chunk {received} was expected")
                if str(row["error"]):
                    raise RunError(
                        f"the Ray engine failed on chunk {number} (first paragraph {first_ids[number]}):"
                        f" {row['error']}"
                    )
                records = [Prediction.from_json(obj, f"Ray chunk {number}") for obj in json.loads(str(row["records"]))]
                del first_ids[number]
                received += 1
                yield records
                feed()
            if received != sent:
                raise RunError(f"the Ray engine returned {received} chunks of {sent}; expected one result per chunk")
        finally:
            if rows is not None:
                rows.close()  # shuts the streaming executor down now, not at garbage collection (a later Ray session)
            (context.execution_options.preserve_order, context.enable_progress_bars,
             context.print_on_execution_start, context.target_max_block_size) = saved
            ray.kill(queue.actor)  # ends a read task still waiting for input (after a failure)


def _queue_datasource(queue: Any) -> Any:
    """A Ray Data source of one read task that yields the chunks the driver puts in a Ray queue."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class StanceChunksDatasource(Datasource):
        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None) -> list:
            metadata = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None)
            return [ReadTask(lambda: _read_queue(queue), metadata)]

    return StanceChunksDatasource()


def _read_queue(queue: Any) -> Iterator[Any]:
    import pyarrow as pa

    while (item := queue.get()) is not _END:
        number, payload = item
        yield pa.table({"chunk": [number], "paragraphs": [payload]})


class AnnotateChunks:
    """One model replica on a Ray actor: scores whole chunks with the same annotator as the local engine."""

    def __init__(self, config: StanceConfig, model: str | None, threads: int) -> None:
        self.error = ""
        try:
            import torch

            from stance.scoring import build_scorer

            torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS=1 in actors; use the CPUs this actor holds
            self.annotator = Annotator(config, build_scorer(config, model))
        except Exception as exc:  # reported with the first chunk: Ray would restart a failing actor forever
            self.error = f"loading the model on a Ray worker failed: {_describe(exc)}"

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        records, errors = [], []
        for payload in batch["paragraphs"]:
            if self.error:
                records.append("[]")
                errors.append(self.error)
                continue
            try:
                paragraphs = [Paragraph(**item) for item in json.loads(str(payload))]
                records.append(json.dumps([p.to_json() for p in self.annotator.predict(paragraphs)], ensure_ascii=False))
                errors.append("")
            except Exception as exc:  # the driver raises it, naming the chunk
                records.append("[]")
                errors.append(_describe(exc))
        return {
            "chunk": np.asarray(batch["chunk"]),
            "records": np.asarray(records, dtype=object),
            "error": np.asarray(errors, dtype=object),
        }


def _describe(exc: BaseException) -> str:
    """The worker's message and where it was raised (its last traceback lines)."""
    where = "".join(traceback.format_tb(exc.__traceback__, limit=-2)).rstrip()
    return f"{type(exc).__name__}: {exc}\n{where}" if where else f"{type(exc).__name__}: {exc}"


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
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False, logging_level="ERROR")
    else:
        cpus = os.environ.get("STANCE_RAY_NUM_CPUS")
        ray.init(
            num_cpus=int(_env_number("STANCE_RAY_NUM_CPUS", 1, int)) if cpus else None,
            include_dashboard=False, log_to_driver=False, logging_level="ERROR",
        )
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
