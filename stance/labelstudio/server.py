"""Start and stop a local Label Studio server: for the tests, demos and a first review session.

The server runs in its own process (and its own virtual environment, `.venv-ls`), bound to
127.0.0.1 on a port checked to be free, with a data directory of its own. It is created
non-interactively with an admin user and a legacy API token, both random, passed through the
environment (never the command line, which `ps` shows). Label Studio silently moves to the next
port when its port is busy, so readiness means: our process is alive, its log does not say it
moved, `/health` answers on our port and our token is accepted there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stance.errors import LabelStudioError
from stance.labelstudio.client import LabelStudioClient, server_is_up, token_owner
from stance.labelstudio.credentials import Credentials

DEFAULT_USERNAME = "admin@example.com"
START_TIMEOUT = 400.0  # a fresh data dir runs every Django migration: 70-80 s here, more under load
CREDENTIALS_FILE = "stance-credentials.json"
API_KEY_FILE = "api-key"
_MOVED_PORT_MARKER = "Trying to start at"
# The server reads LABEL_STUDIO_<X>, then HEARTEX_<X>, then plain <X>: none of the caller's may leak in.
_INHERITED_NAMES_TO_DROP = ("USERNAME", "PASSWORD", "PORT", "HOST", "USER_TOKEN", "DATA_DIR")


def label_studio_binary() -> Path:
    """The `label-studio` executable: $LABEL_STUDIO_BIN, else `.venv-ls/bin/label-studio` of the checkout, else PATH."""
    configured = os.environ.get("LABEL_STUDIO_BIN")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise LabelStudioError(f"LABEL_STUDIO_BIN={configured} is not a file; expected the label-studio executable")
        return path
    checkout = Path(__file__).resolve().parents[2] / ".venv-ls" / "bin" / "label-studio"
    if checkout.is_file():
        return checkout
    found = shutil.which("label-studio")
    if found:
        return Path(found)
    raise LabelStudioError(
        "cannot find the label-studio executable; expected $LABEL_STUDIO_BIN, .venv-ls/bin/label-studio"
        " (python3.11 -m venv .venv-ls && .venv-ls/bin/pip install -r requirements-labelstudio.txt) or label-studio on PATH"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing accepts connections on `host:port` (what Label Studio itself checks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) != 0


@dataclass
class LocalServer:
    """A Label Studio process this program started; `stop()` ends it (SIGTERM, then SIGKILL)."""

    data_dir: Path
    port: int
    username: str = DEFAULT_USERNAME
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    api_key: str = field(default_factory=lambda: "ls" + secrets.token_hex(20), repr=False)
    owns_data_dir: bool = False
    binary: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> LocalServer:
        """Launch the server and wait until it answers on its own port with its own token."""
        if self.is_running():
            return self
        if not port_is_free(self.port):
            raise LabelStudioError(f"port {self.port} on 127.0.0.1 is busy; expected a free port for Label Studio")
        binary = self.binary or label_studio_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        command = [
            str(binary), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--enable-legacy-api-token",
        ]
        self._process = subprocess.Popen(
            command, env=self._environment(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.data_dir, start_new_session=True,  # its own process group: stop() ends it and its children
        )
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        if not (self.data_dir / CREDENTIALS_FILE).exists():
            self.write_credentials()  # a later start on this data dir must log in with the same secrets
        return self

    def _environment(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("LABEL_STUDIO_", "HEARTEX_")) and k not in _INHERITED_NAMES_TO_DROP
        }
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(self.data_dir),
            LABEL_STUDIO_USERNAME=self.username,
            LABEL_STUDIO_PASSWORD=self.password,
            LABEL_STUDIO_USER_TOKEN=self.api_key,  # applied only when the user is created (first start)
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",  # applied only when the organization is created
            LABEL_STUDIO_HOST="",
            LATEST_VERSION_CHECK="false",  # no call to pypi.org at start
            COLLECT_ANALYTICS="false",
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
            # a local server talks to a local ML backend (`stance labelstudio backend` on 127.0.0.1): its URL and its
            # webhook are on the loopback address that Label Studio's SSRF guard refuses by default
            ML_BLOCK_LOCAL_IP="false",
            SSRF_PROTECTION_ENABLED="false",
        )
        return env

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise LabelStudioError(
                    f"label-studio exited with code {self._process.returncode if self._process else '?'} before it answered;"
                    f" see {self.log_path}:\n{self.log_tail()}"
                )
            if _MOVED_PORT_MARKER in self.log_tail(4000):
                raise LabelStudioError(f"port {self.port} was taken while Label Studio started; it moved to another port")
            if server_is_up(self.url, timeout=2.0):
                if token_owner(self.url, self.api_key, timeout=10.0) != self.username:
                    raise LabelStudioError(f"{self.url} answers but does not accept this server's token: another server holds the port")
                return
            time.sleep(0.5)
        raise LabelStudioError(f"Label Studio did not answer on {self.url}/health within {timeout:.0f} s; see {self.log_path}")

    def log_tail(self, size: int = 2000) -> str:
        """The end of the server's log (for error messages)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - size))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the server's process group; SIGKILL if it is still there after `timeout` s."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut would (the data dir stays usable)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGKILL)
            process.wait(30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, timeout: float = START_TIMEOUT) -> LocalServer:
        """Stop and start again on the same port and data dir (about 10 s: no migrations)."""
        self.stop()
        return self.start(timeout)

    def cleanup(self) -> None:
        """Stop, and remove the data dir when this object created it."""
        self.stop()
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def write_credentials(self) -> Path:
        """Write the login and the API key to DATA_DIR/stance-credentials.json, and the key alone to
        DATA_DIR/api-key (for labelstudio.api_key_file); both readable by the owner only."""
        path = self.data_dir / CREDENTIALS_FILE
        for target, content in (
            (path, json.dumps({"url": self.url, "username": self.username, "password": self.password, "api_key": self.api_key})),
            (self.data_dir / API_KEY_FILE, self.api_key + "\n"),
        ):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
        return path

    def create_personal_access_token(self) -> str:
        """A personal access token (a JWT refresh token) of the admin user, made with the server's
        legacy token as Account & Settings makes one (an existing one is revoked first)."""
        return self.client().create_personal_access_token()

    def client(self) -> LabelStudioClient:
        """A client for this server with its own (legacy) token."""
        return LabelStudioClient(Credentials(self.url, self.api_key, "local server's own key"), timeout=30.0, max_retries=0)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


def start_server(data_dir: str | Path | None = None, port: int | None = None, timeout: float = START_TIMEOUT, attempts: int = 3) -> LocalServer:
    """Start Label Studio on 127.0.0.1 (a throwaway data dir unless one is given) and wait until it is ready.

    Without a given port, a port that another program grabs in the moment between the check and
    the start is retried on a new free port (at most `attempts` times).
    """
    owns = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="stance-labelstudio-")) if data_dir is None else Path(data_dir).resolve()
    last_error: LabelStudioError | None = None
    saved = _read_credentials(directory)
    for _ in range(attempts if port is None else 1):
        server = LocalServer(data_dir=directory, port=port or free_port(), owns_data_dir=owns, **saved)
        server.binary = label_studio_binary()
        try:
            return server.start(timeout)
        except LabelStudioError as exc:
            last_error = exc
            if "port" not in str(exc):
                break
    if owns:
        shutil.rmtree(directory, ignore_errors=True)
    assert last_error is not None
    raise last_error


def _read_credentials(data_dir: Path) -> dict[str, str]:
    """The user and key a data dir was created with (an existing user keeps its first password and token)."""
    path = data_dir / CREDENTIALS_FILE
    if not path.is_file():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    return {key: saved[key] for key in ("username", "password", "api_key") if key in saved}


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)  # the group was created by start_new_session for this process only
    except ProcessLookupError:
        pass

