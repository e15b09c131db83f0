"""The one place that talks to Label Studio: a thin wrapper over `label-studio-sdk` 2.x.

Why a wrapper:
- Errors become `LabelStudioError`s a person can act on: the URL that is unreachable, a key
  that was rejected (and where it came from), what was being done. No stack trace, and never
  the key: every message is scrubbed of it, and SDK exceptions are not chained (their requests
  carry the Authorization header and their `str()` shows response cookies).
- One retry policy (tenacity; not the SDK's, which retries POSTs on 5xx and duplicates imports):
  reads, and requests whose connection was refused (they never reached the server), are
  retried with exponential back-off and jitter on timeouts, dropped connections, 429 and 5xx.
  A write whose outcome is unknown (timeout, reset or 5xx after it may have reached the server)
  raises `UncertainWriteError` instead; `retry_uncertain_write` runs such a write again under
  the same policy, telling it to look first at what the server holds.
- The key comes from `credentials.py` (an environment variable or a file, never the command
  line). JWT personal access tokens and legacy tokens both work: the SDK tells them apart and
  exchanges a JWT refresh token for short-lived access tokens itself.
- `server_is_up` and `token_owner` are the readiness checks of a local server (server.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

from stance.config import LabelStudioSettings
from stance.errors import LabelStudioError, UncertainWriteError
from stance.labelstudio.client_admin import AdminCalls
from stance.labelstudio.credentials import Credentials, resolve_credentials
from stance.labelstudio.failures import describe_failure
from stance.labelstudio.tasks import PARA_ID, iter_json_array

PAGE_SIZE = 1000
T = TypeVar("T")


class _Retryable(Exception):
    """Carries a LabelStudioError that the retry policy may try again (never leaves this module)."""

    def __init__(self, error: LabelStudioError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class TaskRef:
    """What push and pull need to know about a task without downloading it."""

    id: int
    para_id: str | None
    total_annotations: int
    cancelled_annotations: int
    model_versions: frozenset[str] = frozenset()  # of its predictions (split at commas by Label Studio)


class LabelStudioClient(AdminCalls):
    """Label Studio over HTTP, with retries, clear errors and no key in any message."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout: float = 600.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.credentials = credentials
        self.url = credentials.url
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retries_done = 0  # how many retries this client needed (reported by push and pull)
        self._sdk: Any = None

    @classmethod
    def from_settings(cls, settings: LabelStudioSettings) -> LabelStudioClient:
        """A client for the server and key the config (and the environment) name."""
        return cls(resolve_credentials(settings), timeout=settings.timeout, max_retries=settings.max_retries)

    # -- plumbing ---------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._sdk is None:
            problem = None
            try:
                from label_studio_sdk import LabelStudio

                # max_retries=0: the SDK would retry POSTs on 5xx and duplicate imports; we retry ourselves
                self._sdk = LabelStudio(base_url=self.url, api_key=self.credentials.api_key, timeout=self.timeout, max_retries=0)
            except Exception as exc:  # the SDK checks a JWT's expiry while it is built
                problem, _ = self._describe(exc, "reading the API key")
            if problem is not None:
                raise problem
        return self._sdk

    def _describe(self, exc: BaseException, what: str, *, write: bool = False) -> tuple[LabelStudioError, bool]:
        return describe_failure(exc, what, self.credentials, timeout=self.timeout, write=write)

    def _policy(self, retry_on: type[BaseException]) -> tenacity.Retrying:
        """The one retry policy: `max_retries` more attempts, exponential back-off with equal jitter
        (half the delay fixed, up to as much again at random), each retry counted."""
        half = {"multiplier": self.backoff / 2, "max": self.max_backoff / 2}
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(retry_on),
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=tenacity.wait_exponential(**half) + tenacity.wait_random_exponential(**half),
            before_sleep=self._count_retry,
            reraise=True,
        )

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        self.retries_done += 1

    def _call(self, what: str, action: Callable[[Any], T], *, write: bool = False) -> T:
        """Run `action(sdk)` under the retry policy; errors come out as LabelStudioErrors."""

        def attempt() -> T:
            client = self._client()
            try:
                return action(client)
            except Exception as exc:
                problem, retryable = self._describe(exc, what, write=write)
            # raised outside the except block: no SDK exception (with its Authorization header) is chained
            raise _Retryable(problem) if retryable else problem

        try:
            return self._policy(_Retryable)(attempt)
        except _Retryable as exhausted:
            problem = exhausted.error
        raise problem  # outside the except block, for the same reason

    def retry_uncertain_write(self, write: Callable[[bool], T]) -> T:
        """Run `write(recheck)`, a write that is not idempotent, under the retry policy.

        After an UncertainWriteError the write is called again with `recheck=True`: it must first
        read what the server now holds and send only what is still missing. The last
        UncertainWriteError is raised when the retries are spent.
        """
        for attempt in self._policy(UncertainWriteError):
            with attempt:
                result = write(attempt.retry_state.attempt_number > 1)
        return result

    # -- reads ------------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """The user the key belongs to (checks that the server answers and accepts the key)."""
        user = self._call("checking the API key", lambda c: c.users.whoami())
        return {"id": user.id, "email": user.email}

    def find_projects(self, title: str) -> list[dict[str, Any]]:
        """Projects whose title is exactly `title`."""

        def find(c: Any) -> list[dict[str, Any]]:
            return [_project_dict(p) for p in c.projects.list(title=title, page_size=100) if p.title == title]

        return self._call(f"looking up project {title!r}", find)

    def get_project(self, project_id: int) -> dict[str, Any]:
        return _project_dict(self._call(f"reading project {project_id}", lambda c: c.projects.get(id=project_id)))

    def list_tasks(self, project_id: int) -> list[TaskRef]:
        """Every task of the project: id, paragraph id, annotation counts, model versions (about 3 s per 5,000 tasks)."""
        refs: list[TaskRef] = []
        for page in self._pages(
            f"listing the tasks of project {project_id}",
            lambda c, n: c.tasks.list(
                project=project_id, page=n, page_size=PAGE_SIZE, fields="all",
                include="id,data,total_annotations,cancelled_annotations,predictions_model_versions",
            ),
        ):
            for task in page:
                data = task.data or {}
                versions = task.predictions_model_versions or ""
                if isinstance(versions, str):
                    versions = versions.split(",")
                refs.append(
                    TaskRef(
                        int(task.id), data.get(PARA_ID), int(task.total_annotations or 0), int(task.cancelled_annotations or 0),
                        frozenset(v.strip() for v in versions if v and v.strip()),
                    )
                )
        return refs

    def task_data(self, project_id: int, task_ids: set[int]) -> list[tuple[int, dict[str, Any]]]:
        """(task id, task data) of the given tasks, in id order (one pass over the project's pages)."""
        found: list[tuple[int, dict[str, Any]]] = []
        for page in self._pages(
            f"reading the tasks of project {project_id}",
            lambda c, n: c.tasks.list(project=project_id, page=n, page_size=PAGE_SIZE, fields="all", include="id,data"),
        ):
            found += [(int(t.id), dict(t.data or {})) for t in page if int(t.id) in task_ids]
        return sorted(found, key=lambda item: item[0])

    def list_prediction_versions(self, project_id: int) -> list[tuple[int, str]]:
        """(task id, model_version) of every prediction in the project."""
        return [(task, version) for _, task, version in self.list_predictions(project_id)]

    def get_task(self, task_id: int) -> dict[str, Any]:
        """One task with its predictions and annotations, as plain JSON."""
        task = self._call(f"reading task {task_id}", lambda c: c.tasks.get(id=str(task_id)))
        return json.loads(task.json()) if hasattr(task, "json") else dict(task)

    def export_tasks(self, project_id: int, *, with_annotations_only: bool = True) -> Iterator[dict[str, Any]]:
        """Tasks as Label Studio's JSON export (full predictions, annotators' emails), one at a time.

        With `with_annotations_only`, tasks with at least one annotation, cancelled (skipped) ones
        included. A snapshot is made, downloaded to a temporary file and deleted; the tasks are
        then read from the file one by one, so memory does not grow with the project.
        """
        options: dict[str, Any] = {"only_with_annotations": True} if with_annotations_only else {}
        snapshot = self._call(
            f"creating an export of project {project_id}",
            lambda c: c.projects.exports.create(
                project_id, title="stance pull", task_filter_options=options,
                serialization_options={"predictions": {"only_id": False}, "annotations__completed_by": {"only_id": False}},
            ),
        )  # a repeated snapshot is harmless, so this POST is retried like a read
        deadline = time.monotonic() + self.timeout
        status = snapshot.status
        while status not in ("completed", "failed") and time.monotonic() < deadline:
            time.sleep(1.0)
            status = self._call("waiting for the export", lambda c: c.projects.exports.get(project_id, snapshot.id)).status
        if status != "completed":
            raise LabelStudioError(f"Label Studio at {self.url}: the export of project {project_id} ended as {status!r}")
        with tempfile.TemporaryFile() as spool:

            def download(c: Any) -> None:
                spool.seek(0)
                spool.truncate()  # a retried download starts again from nothing
                for chunk in c.projects.exports.download(id=project_id, export_pk=snapshot.id, export_type="JSON"):
                    spool.write(chunk)

            self._call("downloading the export", download)
            try:
                self._call("deleting the export snapshot", lambda c: c.projects.exports.delete(project_id, snapshot.id))
            except LabelStudioError:
                pass  # a leftover snapshot costs disk space on the server, nothing else
            spool.seek(0)
            try:
                yield from iter_json_array(spool)
            except ValueError as exc:
                raise LabelStudioError(f"Label Studio at {self.url} sent an export of project {project_id} that is not a JSON list of tasks: {exc}") from None

    def _pages(self, what: str, fetch: Callable[[Any, int], Any]) -> Iterator[list[Any]]:
        number = 1
        seen = 0
        while True:
            try:
                pager = self._call(what, lambda c, n=number: fetch(c, n))
            except LabelStudioError as exc:
                if number > 1 and "HTTP 404" in str(exc):
                    return  # past the last page
                raise
            items = pager.items or []
            total = getattr(pager.response, "total", None)
            yield items
            seen += len(items)
            if len(items) < PAGE_SIZE or (total is not None and seen >= total):
                return
            number += 1

    # -- writes -----------------------------------------------------------------------------

    def create_project(self, title: str, label_config: str, **settings: Any) -> dict[str, Any]:
        """A new project (the caller checks first that none has this title; see UncertainWriteError)."""
        return _project_dict(
            self._call(
                f"creating project {title!r}", lambda c: c.projects.create(title=title, label_config=label_config, **settings), write=True
            )
        )

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        """PATCH the project's settings (idempotent)."""
        return _project_dict(self._call(f"updating project {project_id}", lambda c: c.projects.update(id=project_id, **fields)))

    def import_tasks(self, project_id: int, tasks: Sequence[dict[str, Any]]) -> list[int]:
        """Import tasks (with their predictions) in one request; returns their ids. Not idempotent."""
        response = self._call(
            f"importing {len(tasks)} tasks into project {project_id}",
            lambda c: c.projects.import_tasks(id=project_id, request=list(tasks), return_task_ids=True),
            write=True,
        )
        return [int(i) for i in (response.task_ids or [])]

    def import_predictions(self, project_id: int, predictions: Sequence[dict[str, Any]]) -> int:
        """Add predictions (each names its `task`) to existing tasks; returns how many were created. Not idempotent."""
        response = self._call(
            f"adding {len(predictions)} predictions to project {project_id}",
            lambda c: c.projects.import_predictions(id=project_id, request=list(predictions)),
            write=True,
        )
        return int(getattr(response, "created", None) or len(predictions))

    def delete_task(self, task_id: int) -> None:
        """Delete a task (a second delete of the same task is not an error)."""
        try:
            self._call(f"deleting task {task_id}", lambda c: c.tasks.delete(id=str(task_id)))
        except LabelStudioError as exc:
            if "HTTP 404" not in str(exc):
                raise

    def delete_tasks(self, project_id: int, task_ids: Sequence[int]) -> None:
        """Delete tasks in one request (the Data Manager's "Delete tasks"); ids already gone are no error,
        so a repeat is harmless and it is retried like a read."""
        if task_ids:
            self._call(
                f"deleting {len(task_ids)} task(s) of project {project_id}",
                lambda c: c.actions.create(id="delete_tasks", project=project_id, selected_items={"all": False, "included": list(task_ids)},
                                           request_options={"timeout_in_seconds": self.timeout}),
            )

    def delete_project(self, project_id: int) -> None:
        """Delete a project (push deletes only an empty one it created itself and lost a race with)."""
        try:
            self._call(f"deleting project {project_id}", lambda c: c.projects.delete(id=project_id))
        except LabelStudioError as exc:
            if "HTTP 404" not in str(exc):
                raise

    def list_predictions(self, project_id: int) -> list[tuple[int, int, str]]:
        """(prediction id, task id, model_version) of every prediction in the project."""
        predictions = self._call(f"listing the predictions of project {project_id}", lambda c: c.predictions.list(project=project_id))
        return [(int(p.id), int(p.task), p.model_version or "") for p in predictions]

    def delete_prediction(self, prediction_id: int) -> None:
        """Delete a prediction (a second delete of the same one is not an error)."""
        try:
            self._call(f"deleting prediction {prediction_id}", lambda c: c.predictions.delete(id=prediction_id))
        except LabelStudioError as exc:
            if "HTTP 404" not in str(exc):
                raise


def server_is_up(url: str, timeout: float) -> bool:
    """True when Label Studio's own readiness check, GET /health, answers {"status": "UP"} at `url`.

    The one request the SDK has no method for: plain httpx (the SDK's transport).
    """
    import httpx

    try:
        answer = httpx.get(f"{url}/health", timeout=timeout)
        body = answer.json() if answer.is_success else None
    except (httpx.HTTPError, ValueError):
        return False  # not answering yet (or not Label Studio): the caller waits and asks again
    return isinstance(body, dict) and body.get("status") == "UP"


def token_owner(url: str, token: str, timeout: float) -> str | None:
    """The email of the user whose API key `token` is, as the server at `url` says; None when it
    refuses the key or does not answer (one attempt, no retries)."""
    client = LabelStudioClient(Credentials(url, token, "server's own key"), timeout=timeout, max_retries=0)
    try:
        return client.whoami()["email"]
    except LabelStudioError:
        return None


def _project_dict(project: Any) -> dict[str, Any]:
    return {
        "id": int(project.id),
        "title": project.title,
        "label_config": project.label_config or "",
        "model_version": project.model_version or "",
        "task_number": getattr(project, "task_number", None),
        "sampling": getattr(project, "sampling", None),
        "show_collab_predictions": getattr(project, "show_collab_predictions", None),
        "expert_instruction": getattr(project, "expert_instruction", None) or "",
    }
