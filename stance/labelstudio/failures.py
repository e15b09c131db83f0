"""What a failed request to Label Studio means: the error a person reads, and whether to try again.

Kept apart from the client, which does the talking: this only reads exceptions. A message names
the URL, what was being done and what to do about it, never the key (it is scrubbed from every
message); the SDK's own `str()` is not used for HTTP errors because it shows response cookies.
"""

from __future__ import annotations

import json

from stance.errors import LabelStudioAuthError, LabelStudioError, LabelStudioUnreachableError, UncertainWriteError
from stance.labelstudio.credentials import URL_ENV, Credentials


def describe_failure(
    exc: BaseException, what: str, credentials: Credentials, *, timeout: float, write: bool = False
) -> tuple[LabelStudioError, bool]:
    """Any exception from the SDK or httpx while doing `what`, as a LabelStudioError without the key,
    and whether the retry policy may try it again.

    Transient: timeouts, dropped connections, 429 and 5xx. A transient failure of a write that
    may have reached the server becomes an UncertainWriteError (not retried here); a refused
    connection never reached it and is retried like a read.
    """
    import httpx

    status = getattr(exc, "status_code", None)
    never_arrived = isinstance(exc, httpx.ConnectError)
    transient = (
        never_arrived
        or isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)
        or (isinstance(status, int) and (status >= 500 or status == 429))
    )
    if never_arrived:
        error: LabelStudioError = LabelStudioUnreachableError(
            f"cannot reach Label Studio at {credentials.url} while {what}: connection refused or host unknown."
            f" Is the server running? Set {URL_ENV} or labelstudio.url to its address."
        )
    elif isinstance(exc, httpx.TimeoutException):
        error = LabelStudioUnreachableError(
            f"Label Studio at {credentials.url} did not answer within {timeout:g} s while {what};"
            " raise labelstudio.timeout for very large projects"
        )
    elif isinstance(exc, httpx.TransportError):
        error = LabelStudioUnreachableError(f"the connection to Label Studio at {credentials.url} failed while {what}: {type(exc).__name__}")
    elif status in (401, 403):
        error = LabelStudioAuthError(
            f"Label Studio at {credentials.url} rejected the API key from the {credentials.key_source}"
            f" (HTTP {status}: {_detail(exc)}). Use a current personal access token (Account & Settings) or a legacy token"
            " that the organization allows."
        )
    elif status is not None:
        error = LabelStudioError(f"Label Studio at {credentials.url} answered HTTP {status} while {what}: {_detail(exc)}")
    else:
        error = LabelStudioError(f"unexpected answer from Label Studio at {credentials.url} while {what}: {type(exc).__name__}: {exc}")
    if transient and write and not never_arrived:
        return UncertainWriteError(_redact(str(error), credentials.api_key)), False
    return type(error)(_redact(str(error), credentials.api_key)), transient


def _redact(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


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
