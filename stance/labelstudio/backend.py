"""`stance labelstudio backend`: Label Studio's ML backend protocol, served by Starlette and uvicorn.

The protocol, as HumanSignal/label-studio-ml-backend (`label_studio_ml/api.py`) serves it and
Label Studio 1.23 (`ml/api_connector.py`) calls it:

- `GET /health` (and `/`): `{"status": "UP", "model_class": ..., "model_version": ...}`; Label
  Studio's connection check.
- `POST /setup` `{project, schema, hostname, access_token, extra_params}`: answers
  `{"model_version": ...}`, the version of the model that predicts now (Label Studio stores it and
  asks for predictions of tasks that lack it). A `schema` (labeling config) whose labels differ
  from the config's is refused (HTTP 400, the differences in the body and on stderr).
- `POST /predict` `{tasks, project, label_config, params}`: `{"results": [prediction per task]}`,
  each the prediction JSON push sends (`model_version`, `score`, `result`), made by the same
  `Annotator` as `stance annotate` (`stance.labelstudio.live`).
- `POST /webhook` `{action, project, annotation, ...}`: with training on, ANNOTATION_CREATED and
  ANNOTATION_UPDATED count toward the next retrain and START_TRAINING starts one (`Retrainer`);
  answers 201 `{"status": "ok", "result": ...}`, other actions 200 `{"status": "Unknown event"}`.
  `POST /train` (older servers' "Start training") does what START_TRAINING does.
- `GET /versions`, `GET /metrics`: the current version; an empty object.

The retrain job pulls the project's annotations (`stance pull`), runs `retrain_and_promote` on
them (plus any extra training files), which re-points `models/current` only for a better model;
the live model follows the link, so the next /setup reports the new version.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import LabelStudioError
from stance.labelstudio.live import LiveModel, Retrainer
from stance.labelstudio.xml import checked_labeling_config, config_differences

TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
START_TRAINING = "START_TRAINING"
log = logging.getLogger("stance.labelstudio.backend")


@dataclass
class BackendState:
    """What the app serves: the live model, the retrainer (None: training off), and what it has done."""

    config: StanceConfig
    live: LiveModel
    retrainer: Retrainer | None = None
    predicted_tasks: int = 0
    refused: list[str] = field(default_factory=list)

    def check_schema(self, label_config: str | None) -> str | None:
        """Why a project's labeling config cannot take our predictions (None: it can)."""
        if not label_config:
            return None
        differences = config_differences(checked_labeling_config(self.config), label_config)
        if not differences:
            return None
        problem = "the project's labels differ from the config's: " + "; ".join(differences)
        self.refused.append(problem)
        print(f"stance backend: refused a request: {problem}", file=sys.stderr)
        return problem


def _require_web_stack() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise LabelStudioError(
            "the ML backend needs Starlette and uvicorn: pip install -c constraints.txt -e '.[backend]'"
        ) from None


def create_app(state: BackendState) -> Any:
    """The Starlette application serving the protocol for `state`."""
    _require_web_stack()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    async def health(request: Request) -> JSONResponse:
        version = await run_in_threadpool(lambda: state.live.model_version)
        retrainer = state.retrainer
        return JSONResponse({
            "status": "UP", "model_class": "StanceBackend", "model_version": version, "predicted_tasks": state.predicted_tasks,
            "training": None if retrainer is None else {"busy": retrainer.busy, "runs": len(retrainer.runs), "waiting_events": retrainer.events},
        })

    async def setup(request: Request) -> JSONResponse:
        data = await body(request)
        problem = state.check_schema(data.get("schema"))
        if problem:
            return JSONResponse({"error": problem}, status_code=400)
        return JSONResponse({"model_version": await run_in_threadpool(lambda: state.live.model_version)})

    async def predict(request: Request) -> JSONResponse:
        data = await body(request)
        problem = state.check_schema(data.get("label_config"))
        if problem:
            return JSONResponse({"error": problem}, status_code=400)
        tasks = [t for t in data.get("tasks") or [] if isinstance(t, dict)]
        results = await run_in_threadpool(state.live.predict_tasks, tasks, data.get("label_config"))
        state.predicted_tasks += sum(1 for r in results if r)
        return JSONResponse({"results": results})

    async def webhook(request: Request) -> JSONResponse:
        data = await body(request)
        action = data.get("action")
        if state.retrainer is None or action not in (*TRAIN_EVENTS, START_TRAINING):
            return JSONResponse({"status": "Unknown event"}, status_code=200)
        project = data.get("project") if isinstance(data.get("project"), dict) else {}
        message = state.retrainer.notify(project, force=action == START_TRAINING)
        return JSONResponse({"status": "ok", "result": message}, status_code=201)

    async def train(request: Request) -> JSONResponse:
        if state.retrainer is None:
            return JSONResponse({"error": "training is off: start the backend with --train"}, status_code=400)
        data = await body(request)
        project = {"id": str(data.get("project", "")).split(".", 1)[0]}
        return JSONResponse({"status": "ok", "result": state.retrainer.notify(project, force=True)}, status_code=201)

    async def versions(request: Request) -> JSONResponse:
        return JSONResponse({"versions": [await run_in_threadpool(lambda: state.live.model_version)], "message": ""})

    async def metrics(request: Request) -> JSONResponse:
        return JSONResponse({})

    return Starlette(routes=[
        Route("/", health, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/setup", setup, methods=["POST"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/webhook", webhook, methods=["POST"]),
        Route("/train", train, methods=["POST"]),
        Route("/versions", versions, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ])


def retrain_job(
    config: StanceConfig, *, models_dir: Path, work_dir: Path, heldout: Path | None = None, extra_files: tuple[Path, ...] = (),
    settings: Any = None, client: Any = None, min_gain: float = 0.0,
) -> Callable[[dict[str, Any]], Any]:
    """The retrain a webhook starts: pull the project's annotations, then `retrain_and_promote`."""

    def job(project: dict[str, Any]) -> Any:
        from stance.labelstudio.client import LabelStudioClient
        from stance.labelstudio.pull import pull_project
        from stance.training.retrain import retrain_and_promote
        from stance.training.train import TrainSettings

        labelstudio = client or LabelStudioClient.from_settings(config.labelstudio)
        title = project.get("title") or _title_of(labelstudio, project.get("id"))
        reviewed = work_dir / f"reviewed-project-{project.get('id')}.jsonl"
        pull_project(config, labelstudio, title, reviewed, overwrite=True)
        result = retrain_and_promote([reviewed, *extra_files], heldout, models_dir, config, settings or TrainSettings(models_dir=models_dir),
                                     min_gain=min_gain, progress=False)
        verdict = "promoted" if result.promoted else "kept the current model"
        print(f"stance backend: retrained on {reviewed}: {result.new_macro_f1:.3f} vs {result.previous_macro_f1:.3f} -> {verdict}",
              file=sys.stderr)
        return result

    return job


def _title_of(client: Any, project_id: Any) -> str:
    return str(client.get_project(int(project_id))["title"])


def serve(state: BackendState, host: str, port: int) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn handles both)."""
    app = create_app(state)
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
