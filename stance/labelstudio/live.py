"""The live model behind the ML backend: Label Studio tasks in, predictions out, and retraining between rounds.

- `paragraphs_of_tasks`: a task's data as the `Paragraph` the annotator scores (its `text`; the
  document id, position and the short forms active in its document when push sent them, so a
  pushed paragraph gets exactly the labels `stance annotate` gave it; a task imported by hand is
  a document of its own).
- `LiveModel`: the one `Annotator` (the same path as `stance annotate`: gate, scorer, frames),
  loaded once; `predict_tasks` returns the prediction JSON push sends, stamped with the model
  version. A `models/current` link is followed: when a promotion re-points it, the next request
  loads the new model (and /setup reports its version, so Label Studio asks again for tasks that
  lack it).
- `Retrainer`: submitted annotations start `stance retrain` in a background thread after every
  `min_annotations` of them: at most one run at a time and one more queued (events during a run
  are counted for the next one), so a burst of submissions costs one retrain, not one each.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.labelstudio.tasks import PARA_ID, SHORT_FORMS, gate_for, mention_spans, prediction_for
from stance.labelstudio.xml import MENTIONS_NAME, TEXT_NAME, has_control
from stance.records import Paragraph


def paragraph_of_task(task_id: Any, data: dict[str, Any]) -> Paragraph | None:
    """The paragraph a task shows, or None when it has no text."""
    from stance.annotator import CONTEXT_KEY

    text = data.get(TEXT_NAME)
    if not isinstance(text, str) or not text.strip():
        return None
    forms = data.get(SHORT_FORMS)
    meta = {CONTEXT_KEY: sorted(str(f) for f in forms)} if isinstance(forms, list) and forms else {}
    index = data.get("index") if isinstance(data.get("index"), int) else 0
    return Paragraph(
        id=str(data.get(PARA_ID) or f"task-{task_id}"), doc_id=str(data.get("doc_id") or f"task-{task_id}"), index=index,
        text=text, start=0, end=len(text), date=_text(data.get("date")), title=_text(data.get("title")),
        source=_text(data.get("source")), url=_text(data.get("url")), meta=meta,
    )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def paragraphs_of_tasks(items: Sequence[tuple[Any, dict[str, Any]]]) -> list[Paragraph]:
    """Paragraphs of (task id, data) pairs that have a text (the others are left out)."""
    found = (paragraph_of_task(task_id, data) for task_id, data in items)
    return [p for p in found if p is not None]


def load_annotator(config: StanceConfig, model: str | None) -> Any:
    """The `Annotator` of `stance annotate --model MODEL` (the config's model when None)."""
    from stance.annotator import Annotator
    from stance.scoring.factory import build_scorer

    return Annotator(config, build_scorer(config, model))


class LiveModel:
    """One annotator behind a lock; reloaded when the model path (a `current` link) points elsewhere."""

    def __init__(
        self, config: StanceConfig, model: str | Path | None, *, optional: bool = False,
        load: Callable[[StanceConfig, str | None], Any] = load_annotator,
    ) -> None:
        self.config = config
        self.model = str(model) if model is not None else None
        self.optional = optional  # a `current` link that does not exist yet: the config's own model until a promotion
        self._load = load
        self._loading = threading.Lock()
        self._predicting = threading.Lock()  # one forward pass at a time: the model is shared
        self._annotator: Any = None
        self._loaded_from: str | None = None
        self._gate = gate_for(config)

    def _target(self) -> str | None:
        if self.model is None:
            return None
        if os.path.exists(self.model):
            return os.path.realpath(self.model)
        return None if self.optional else self.model

    def annotator(self) -> Any:
        """The current annotator: loaded on first use and again after the model link moved (a health
        check or /setup never waits for a prediction in progress)."""
        target = self._target()
        if self._annotator is not None and target == self._loaded_from:
            return self._annotator
        with self._loading:
            if self._annotator is None or target != self._loaded_from:
                self._annotator = self._load(self.config, target)
                self._loaded_from = target
            return self._annotator

    @property
    def model_version(self) -> str:
        return str(self.annotator().model_version)

    def predict_tasks(self, tasks: Sequence[dict[str, Any]], label_config: str | None = None) -> list[Any]:
        """Per task (in order) the prediction JSON push sends, or [] for a task without text.

        Mention regions are included when the project's labeling config has the group for them.
        """
        annotator = self.annotator()
        marks = has_control(label_config, MENTIONS_NAME) if label_config else True
        items = [(task.get("id"), task.get("data") or {}) for task in tasks]
        paragraphs = [paragraph_of_task(task_id, data) for task_id, data in items]
        with self._predicting:
            predictions = iter(annotator.predict([p for p in paragraphs if p is not None]))
        results: list[Any] = []
        for paragraph in paragraphs:
            if paragraph is None:
                results.append([])
                continue
            prediction = next(predictions)
            context = frozenset(paragraph.meta.get("short_forms", ()))
            spans = mention_spans(prediction.text, self.config, self._gate, context) if marks else None
            results.append(prediction_for(prediction, self.config, spans))
        return results


@dataclass
class Retrainer:
    """Runs `job` in a background thread after every `min_annotations` annotation events; bounded:
    one run at a time, at most one more queued."""

    job: Callable[[dict[str, Any]], Any]  # (the latest event's project) -> the retrain result
    min_annotations: int = 1
    events: int = 0  # annotation events not yet covered by a run
    runs: list[Any] = field(default_factory=list)  # results (or errors) of finished runs
    _running: bool = False
    _queued: dict[str, Any] | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def notify(self, project: dict[str, Any], *, force: bool = False) -> str:
        """An annotation was saved (or training was asked for, `force`): start or queue a run when due."""
        with self._lock:
            self.events += 1
            if not force and self.events < self.min_annotations:
                return f"waiting: {self.events} of {self.min_annotations} annotation(s) before the next retrain"
            if self._running:
                self._queued = project
                return "queued: a retrain is running; one more will follow it"
            self._start(project)
            return "started a retrain in the background"

    def _start(self, project: dict[str, Any]) -> None:
        self._running, self.events = True, 0
        self._thread = threading.Thread(target=self._work, args=(project,), name="stance-retrain", daemon=True)
        self._thread.start()

    def _work(self, project: dict[str, Any]) -> None:
        while True:
            try:
                self.runs.append(self.job(project))
            except Exception as exc:  # a failed round is reported in /health, and the next event tries again
                self.runs.append(exc)
            with self._lock:
                if self._queued is None:
                    self._running = False
                    return
                project, self._queued, self.events = self._queued, None, 0

    @property
    def busy(self) -> bool:
        return self._running

    def wait(self, timeout: float) -> bool:
        """Wait until no run is going (tests); False when it still is after `timeout` seconds."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self._running
