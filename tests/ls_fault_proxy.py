"""A small HTTP proxy on 127.0.0.1 that injects faults in front of the real Label Studio server.

Each `Rule` fires once, on the n-th request that matches its method and path (or the next one
when another rule fired on that one), so the faults
are bounded in count; a slow answer sleeps a fixed time, so they are bounded in time. Faults:

- reset_before: drop the connection (RST) without forwarding: the server never saw the request
- reset_after:  forward, let the server apply it, then drop the connection: the answer is lost
- 503_before:   answer 503 without forwarding
- 502_after:    forward, then answer 502 instead of the server's answer
- slow_after:   forward, then hold the answer past the client's timeout, then drop the connection

The proxy writes no files and logs nothing (the requests carry the API key).
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("reset_before", "reset_after", "503_before", "502_after", "slow_after")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host", "accept-encoding"}


@dataclass
class Rule:
    method: str
    path: str  # a regular expression matched against the path (without the query)
    fault: str
    nth: int = 1  # fire on the nth matching request
    seen: int = 0
    fired: bool = False

    def __post_init__(self) -> None:
        assert self.fault in FAULTS, self.fault


class FaultProxy:
    """`with FaultProxy(upstream, rules) as proxy: ... proxy.url ...`; `proxy.injected` counts what fired."""

    def __init__(self, upstream: str, rules: list[Rule], *, slow_seconds: float = 6.0) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules = rules
        self.slow_seconds = slow_seconds
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fault_proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def fault_for(self, method: str, path: str) -> str | None:
        path = path.split("?", 1)[0]
        with self._lock:
            self.requests += 1
            matching = [r for r in self.rules if not r.fired and r.method == method and re.fullmatch(r.path, path)]
            for rule in matching:
                rule.seen += 1
            for rule in matching:
                if rule.seen >= rule.nth:  # two rules due at once: the second fires on the next request
                    rule.fired = True
                    self.injected[rule.fault] += 1
                    return rule.fault
            return None

    def unfired(self) -> list[Rule]:
        return [rule for rule in self.rules if not rule.fired]

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=300)
        try:
            connection.request(method, path, body=body, headers={k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP})
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, data
        finally:
            connection.close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # nothing is logged: the requests carry the API key

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    def _proxy(self) -> None:
        proxy: FaultProxy = self.server.fault_proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        fault = proxy.fault_for(self.command, self.path)
        if fault == "reset_before":
            return self._reset()
        if fault == "503_before":
            return self._reply(503, [("Content-Type", "application/json")], b'{"detail": "injected 503"}')
        try:
            status, headers, data = proxy.forward(self.command, self.path, dict(self.headers.items()), body)
        except OSError:
            return self._reset()  # the server is down: look like it
        if fault == "reset_after":
            return self._reset()
        if fault == "502_after":
            return self._reply(502, [("Content-Type", "text/html")], b"<html>injected 502 Bad Gateway</html>")
        if fault == "slow_after":
            time.sleep(proxy.slow_seconds)
            return self._reset()
        self._reply(status, headers, data)

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        try:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # linger 0: the peer sees a connection reset
        except OSError:
            pass
