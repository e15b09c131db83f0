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


class TrainingError(StanceError):
    """Training data or settings cannot produce a model."""
