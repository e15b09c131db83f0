"""Where the Label Studio server is and which API key to use; no HTTP here.

The URL comes from $LABEL_STUDIO_URL or the config; the key from the environment variable the
config names, else from the file it names (first line), never from the command line. JWT
personal access tokens (current releases) and legacy tokens both work: the SDK tells them apart.
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from stance.config import LabelStudioSettings
from stance.errors import LabelStudioError

URL_ENV = "LABEL_STUDIO_URL"


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
            warnings.warn(f"{path} is readable by other users; chmod 600 it", stacklevel=2)
        return Credentials(url, key, f"file {path}")
    raise LabelStudioError(
        f"no Label Studio API key: set the environment variable {settings.api_key_env}, or name a file holding it"
        " in labelstudio.api_key_file. The key is under Account & Settings > Personal Access Token in Label Studio."
    )
