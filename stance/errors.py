"""The exceptions that stance raises on purpose.

Every message says what was wrong, where (file, line, record or field) and what was expected,
so that the CLI can print it as it is, without a stack trace.
"""

from __future__ import annotations


class StanceError(Exception):
    """Base class: an error a user can act on. The CLI prints it and exits with code 2."""


class ConfigError(StanceError):
    """A config file is missing, not YAML, or does not validate."""


class InputError(StanceError):
    """An input file (article, annotation or gold file) cannot be read as expected."""


class ModelError(StanceError):
    """A model cannot be found, loaded or used."""


class RunError(StanceError):
    """An output directory is in a state the requested run cannot continue from."""


class LabelStudioError(StanceError):
    """Label Studio is unreachable, refused the credentials, or answered unexpectedly."""


class LabelStudioAuthError(LabelStudioError):
    """The Label Studio server answered but refused the API key."""


class LabelStudioUnreachableError(LabelStudioError):
    """Nothing answered at the Label Studio URL (after the retries)."""


class UncertainWriteError(LabelStudioError):
    """A write to Label Studio failed in a way that leaves unknown whether the server applied it:
    the caller looks at what the server holds before it writes again."""


class TrainingError(StanceError):
    """Training data or settings cannot produce a model."""
