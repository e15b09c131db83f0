"""The one place that talks to Label Studio: a thin wrapper over `label-studio-sdk` 2.x.

Why a wrapper:
- Errors become `LabelStudioError`s a person can act on: the URL that is unreachable, a key
  that was rejected (and where it came from), what was being done. No stack trace, and never
  the key: every message is scrubbed of it, and SDK exceptions are not chained (their requests
  carry the Authorization header and their `str()` shows response cookies).
- Retries are ours, not the SDK's (it retries POSTs on 5xx, which duplicates imports): reads
  are retried with exponential back-off on timeouts, dropped connections and 5xx. A write whose
  outcome is unknown (timeout, reset or 5xx after it may have reached the server) raises
  `UncertainWriteError` instead, so that the caller can look at what the server holds before it
  tries again; a refused connection never reached the server and is retried like a read.
- The key is read from an environment variable or a file, never from the command line.
  JWT personal access tokens (current releases) and legacy tokens both work: the SDK tells them
  apart and exchanges a JWT refresh token for short-lived access tokens itself.
"""

from __future__ import annotations

import io
import json
import os
import random
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from stance.config import LabelStudioSettings
from stance.errors import LabelStudioError

URL_ENV = "LABEL_STUDIO_URL"
PAGE_SIZE = 1000
T = TypeVar("T")


class LabelStudioAuthError(LabelStudioError):
    """The server answered but refused the API key."""


class LabelStudioUnreachableError(LabelStudioError):
    """Nothing answered at the URL (after the retries)."""


class UncertainWriteError(LabelStudioError):
    """A write failed in a way that leaves unknown whether the server applied it."""


@dataclass(frozen=True)
class Credentials:
    """Where the server is and the key to use; `repr` never shows the key."""

    url: str
    api_key: str = field(repr=False)
    key_source: str  # "environment variable X" or "file Y": named in errors, unlike the key


def resolve_credentials(settings: LabelStudioSettings) -> Credentials:
    """URL from $LABEL_STUDIO_URL or the config; key from the config's environment variable, else its file."""
    url = (os.environ.get(URL_ENV) or settings.url).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise LabelStudioError(f"Label Studio URL {url!r} (from ${URL_ENV} or labelstudio.url) must start with http:// or https://")
    key = os.environ.get(settings.api_key_env, "").strip()
    if key:
        return Credentials(url, key, f"environment variable {settings.api_key_env}")
    if settings.api_key_file:
        path = Path(settings.api_key_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise LabelStudioError(
                f"labelstudio.api_key_file {path} does not exist; expected a file whose first line is the Label Studio API key"
            ) from None
        except OSError as exc:
            raise LabelStudioError(f"cannot read labelstudio.api_key_file {path}: {exc.strerror}") from None
        key = lines[0].strip() if lines else ""
        if not key:
            raise LabelStudioError(f"labelstudio.api_key_file {path} is empty; expected the API key on its first line")
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            import warnings

            warnings.warn(f"{path} is readable by other users; chmod 600 it", stacklevel=2)
        return Credentials(url, key, f"file {path}")
    raise LabelStudioError(
        f"no Label Studio API key: set the environment variable {settings.api_key_env}, or name a file holding it"
        " in labelstudio.api_key_file. The key is under Account & Settings > Personal Access Token in Label Studio."
    )


@dataclass(frozen=True)
class TaskRef:
    """What push and pull need to know about a task without downloading it."""

    id: int
    para_id: str | None
    total_annotations: int
    cancelled_annotations: int
    model_versions: frozenset[str] = frozenset()  # of its predictions (split at commas by Label Studio)


class LabelStudioClient:
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
                problem = self._describe(exc, "reading the API key")
            if problem is not None:
                raise problem
        return self._sdk

    def _redact(self, text: str) -> str:
        key = self.credentials.api_key
        if key:
            text = text.replace(key, "***")
        return text

    def _describe(self, exc: BaseException, what: str) -> LabelStudioError:
        """Turn any exception from the SDK or httpx into a LabelStudioError without the key."""
        import httpx

        status = getattr(exc, "status_code", None)
        if isinstance(exc, httpx.ConnectError):
            error: LabelStudioError = LabelStudioUnreachableError(
                f"cannot reach Label Studio at {self.url} while {what}: connection refused or host unknown."
                f" Is the server running? Set {URL_ENV} or labelstudio.url to its address."
            )
        elif isinstance(exc, httpx.TimeoutException):
            error = LabelStudioUnreachableError(
                f"Label Studio at {self.url} did not answer within {self.timeout:g} s while {what};"
                " raise labelstudio.timeout for very large projects"
            )
        elif isinstance(exc, httpx.TransportError):
            error = LabelStudioUnreachableError(f"the connection to Label Studio at {self.url} failed while {what}: {type(exc).__name__}")
        elif status in (401, 403):
            error = LabelStudioAuthError(
                f"Label Studio at {self.url} rejected the API key from the {self.credentials.key_source}"
                f" (HTTP {status}: {_detail(exc)}). Use a current personal access token (Account & Settings) or a legacy token"
                " that the organization allows."
            )
        elif status is not None:
            error = LabelStudioError(f"Label Studio at {self.url} answered HTTP {status} while {what}: {_detail(exc)}")
        else:
            error = LabelStudioError(f"unexpected answer from Label Studio at {self.url} while {what}: {type(exc).__name__}: {exc}")
        return type(error)(self._redact(str(error)))

    def _call(self, what: str, action: Callable[[Any], T], *, write: bool = False) -> T:
        """Run `action(sdk)`; retry what is safe to retry, with exponential back-off and jitter."""
        import httpx

        attempt = 0
        while True:
            client = self._client()
            problem: LabelStudioError | None = None
            retry = False
            try:
                return action(client)
            except Exception as exc:
                status = getattr(exc, "status_code", None)
                never_arrived = isinstance(exc, httpx.ConnectError)
                transient = (
                    never_arrived
                    or isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)
                    or (isinstance(status, int) and (status >= 500 or status == 429))
                )
                problem = self._describe(exc, what)
                if transient and write and not never_arrived:
                    problem = UncertainWriteError(str(problem))
                else:
                    retry = transient and attempt < self.max_retries
            # raised outside the except block: no SDK exception (with its Authorization header) is chained
            if not retry:
                raise problem
            delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
            attempt += 1
            self.retries_done += 1
            time.sleep(delay)

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
                        int(task.id), data.get("para_id"), int(task.total_annotations or 0), int(task.cancelled_annotations or 0),
                        frozenset(v.strip() for v in versions if v and v.strip()),
                    )
                )
        return refs

    def list_prediction_versions(self, project_id: int) -> list[tuple[int, str]]:
        """(task id, model_version) of every prediction in the project."""
        predictions = self._call(f"listing the predictions of project {project_id}", lambda c: c.predictions.list(project=project_id))
        return [(int(p.task), p.model_version or "") for p in predictions]

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

    def create_annotation(self, task_id: int, result: list[dict[str, Any]], *, completed_by: int | None = None, was_cancelled: bool = False, lead_time: float | None = None) -> int:
        """Save an annotation as the labeling UI does (tests and scripted reviews). Not idempotent."""
        extra: dict[str, Any] = {}
        if completed_by is not None:
            extra["completed_by"] = completed_by
        if lead_time is not None:
            extra["lead_time"] = lead_time
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


def iter_json_array(binary: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[dict[str, Any]]:
    """The objects of a JSON array read from a file piece by piece (memory: one object plus a chunk)."""
    reader = io.TextIOWrapper(binary, encoding="utf-8")
    decoder = json.JSONDecoder()
    buffer, pos, eof = "", 0, False

    def fill() -> bool:
        nonlocal buffer, pos
        chunk = reader.read(chunk_size)
        buffer, pos = buffer[pos:] + chunk, 0
        return bool(chunk)

    def skip(chars: str) -> None:
        nonlocal pos, eof
        while True:
            while pos < len(buffer) and buffer[pos] in chars:
                pos += 1
            if pos < len(buffer) or eof:
                return
            eof = not fill()

    skip(" \t\r\n")
    if pos >= len(buffer) or buffer[pos] != "[":
        raise ValueError("it does not start with [")
    pos += 1
    while True:
        skip(" \t\r\n,")
        if pos >= len(buffer):
            raise ValueError("it ends before its closing ]")
        if buffer[pos] == "]":
            return
        while True:
            try:
                item, end = decoder.raw_decode(buffer, pos)
                break
            except json.JSONDecodeError:
                if eof:
                    raise ValueError("it ends inside a task") from None
                eof = not fill()  # the object continues in the next chunk
        if not isinstance(item, dict):
            raise ValueError(f"an item is a {type(item).__name__}, not a task")
        pos = end
        yield item


def _project_dict(project: Any) -> dict[str, Any]:
    return {
        "id": int(project.id),
        "title": project.title,
        "label_config": project.label_config or "",
        "model_version": project.model_version or "",
        "task_number": getattr(project, "task_number", None),
        "sampling": getattr(project, "sampling", None),
        "show_collab_predictions": getattr(project, "show_collab_predictions", None),
    }


def _detail(exc: BaseException) -> str:
    """The server's own explanation, from the body only (the SDK's str() includes response cookies)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        if body.get("validation_errors"):
            return json.dumps(body["validation_errors"], ensure_ascii=False)[:500]
        if body.get("detail"):
            return str(body["detail"])[:500]
        return json.dumps(body, ensure_ascii=False)[:500]
    if body:
        return str(body)[:300]
    return "no details"
