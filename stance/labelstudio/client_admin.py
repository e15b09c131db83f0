"""The client's calls for people and models: annotations made through the API (tests, scripted
reviews, adjudication), users and tokens, and Label Studio's connection to an ML backend.

A part of `LabelStudioClient` (client.py), split off to keep each module small: every call here
goes through the client's one retry policy and error translation (`_call`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from stance.errors import LabelStudioError


class AdminCalls:
    """Mixed into `LabelStudioClient`, which provides `_call` and `timeout`."""

    timeout: float
    _call: Callable[..., Any]

    def create_annotation(
        self, task_id: int, result: list[dict[str, Any]], *, completed_by: int | None = None, was_cancelled: bool = False,
        lead_time: float | None = None, parent_prediction: int | None = None, ground_truth: bool = False,
    ) -> int:
        """Save an annotation as the labeling UI does (tests, scripted reviews, adjudication). Not idempotent.

        `parent_prediction`: the prediction the form opened with (what the UI records when the
        annotator starts from pre-selected choices); `ground_truth`: a reviewer's final decision.
        """
        extra: dict[str, Any] = {}
        if completed_by is not None:
            extra["completed_by"] = completed_by
        if lead_time is not None:
            extra["lead_time"] = lead_time
        if parent_prediction is not None:
            extra["parent_prediction"] = parent_prediction
        if ground_truth:
            extra["ground_truth"] = True
        annotation = self._call(
            f"annotating task {task_id}",
            lambda c: c.annotations.create(id=task_id, result=result, was_cancelled=was_cancelled, **extra),
            write=True,
        )
        return int(annotation.id)

    def annotations_from_predictions(self, project_id: int, model_version: str, task_ids: Sequence[int] | None = None) -> None:
        """Accept predictions as annotations, as the Data Manager action "Create Annotations From Predictions" does
        (all tasks, or `task_ids`). Not idempotent: a task gets one more annotation each time."""
        selected: dict[str, Any] = {"all": True, "excluded": []} if task_ids is None else {"all": False, "included": list(task_ids)}
        self._call(
            f"accepting the predictions of {model_version} in project {project_id}",
            lambda c: c.actions.create(
                id="predictions_to_annotations", project=project_id, selected_items=selected,
                request_options={"additional_body_parameters": {"model_version": model_version}, "timeout_in_seconds": self.timeout},
            ),
            write=True,
        )

    def create_user(self, email: str, password: str) -> int:
        """A user of the organization (an extra annotator in tests)."""
        user = self._call(f"creating user {email}", lambda c: c.users.create(email=email, password=password, username=email.split("@")[0]), write=True)
        return int(user.id)

    def users(self) -> dict[int, str]:
        """User id -> email."""
        return {int(u.id): u.email or str(u.id) for u in self._call("listing users", lambda c: c.users.list())}

    def create_personal_access_token(self) -> str:
        """A personal access token (a JWT refresh token) for the key's user, as Account & Settings makes one.

        Label Studio allows one live token per user: an existing one is revoked first.
        """
        what = "creating a personal access token"
        try:
            return str(self._call(what, lambda c: c.tokens.create(), write=True).token)
        except LabelStudioError as exc:
            if "HTTP 409" not in str(exc):
                raise
        for existing in self._call("listing personal access tokens", lambda c: c.tokens.list()):
            self._call("revoking a personal access token", lambda c, t=existing.token: c.tokens.blacklist(refresh=t))
        return str(self._call(what, lambda c: c.tokens.create(), write=True).token)

    def connect_ml_backend(self, project_id: int, url: str, title: str) -> int:
        """Connect an ML backend to the project (Settings > Model > Connect Model); its id.

        Label Studio asks the backend's /health and /setup on the way and adds a webhook to its
        /webhook for every project event.
        """
        backend = self._call(
            f"connecting the ML backend at {url} to project {project_id}",
            lambda c: c.ml.create(project=project_id, url=url, title=title, is_interactive=False), write=True,
        )
        return int(backend.id)

    def ml_backends(self, project_id: int) -> list[dict[str, Any]]:
        """The project's ML backends: id, title, url, state (CO: connected, ER: error, DI: disconnected), model_version."""
        found = self._call(f"listing the ML backends of project {project_id}", lambda c: c.ml.list(project=project_id))
        return [
            {"id": int(b.id), "title": b.title, "url": b.url, "state": str(b.state or ""), "model_version": b.model_version or "",
             "error": getattr(b, "error_message", None)}
            for b in found
        ]

    def retrieve_predictions(self, project_id: int, task_ids: Sequence[int]) -> None:
        """The Data Manager action "Retrieve Predictions": Label Studio asks its ML backend for these tasks
        (those without a prediction of the backend's current version) and stores the answers."""
        self._call(
            f"retrieving predictions for {len(task_ids)} task(s) of project {project_id}",
            lambda c: c.actions.create(
                id="retrieve_tasks_predictions", project=project_id, selected_items={"all": False, "included": list(task_ids)},
                request_options={"timeout_in_seconds": self.timeout},
            ),
            write=True,
        )
