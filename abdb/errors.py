"""The one error hierarchy of abdb.

Every failure a user can cause or meet is an ``AbdbError`` subclass carrying its exit code. The CLI turns
them into a message and an exit code in exactly one place (``AbdbGroup.invoke`` in ``abdb/cli/errors.py``).
"""

from __future__ import annotations


class AbdbError(Exception):
    """Base class: a failure with a message meant for the user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n  hint: {self.hint}"


class ConfigurationError(AbdbError):
    """Settings, options or arguments that cannot work."""

    exit_code = 2


class ConfirmationRequired(AbdbError):
    """A destructive action was requested without --yes and without a terminal to ask on."""

    exit_code = 2


class Aborted(AbdbError):
    """The user declined a confirmation."""

    exit_code = 1


class DatabaseUnreachable(AbdbError):
    """No PostgreSQL server answers at the configured URL."""

    exit_code = 3


class ServerTooOld(AbdbError):
    """The server is older than PostgreSQL 18."""

    exit_code = 3


class BackendError(AbdbError):
    """The embedded or Docker backend could not start, stop or inspect the server."""

    exit_code = 3


class MigrationError(AbdbError):
    """The schema is not at head, differs from the models, or a migration failed."""

    exit_code = 4


class DatabaseError(AbdbError):
    """A database operation failed for a reason other than reachability."""

    exit_code = 5


class CommitOutcomeUnknown(DatabaseError):
    """The connection failed while COMMIT was in flight: the transaction may or may not have landed.

    Exit 3 like any lost connection; never retried automatically (running it again is the user's call, and
    safe for imports and annotation, which are idempotent)."""

    exit_code = 3


class TransientConflict(DatabaseError):
    """A deadlock or serialisation failure: the transaction was rolled back and may simply be run again."""


class ConflictError(DatabaseError):
    """A row would duplicate an existing one (unique violation)."""

    exit_code = 6


class NotFoundError(AbdbError):
    """A requested record does not exist."""

    exit_code = 7


class InputError(AbdbError):
    """An input file cannot be read at all (missing, unreadable, not the format)."""

    exit_code = 2


class RecordsRejected(AbdbError):
    """An import finished but rejected or refused some records; the good ones were loaded."""

    exit_code = 8


class JobsFailed(AbdbError):
    """Annotation finished, but some jobs ended FAILED (each with its error message)."""

    exit_code = 9


class VerificationFailed(AbdbError):
    """`abdb verify` ran and found violations at or above the --fail-on severity."""

    exit_code = 10


class Interrupted(AbdbError):
    """Ctrl-C or SIGTERM: the command stopped cleanly; the message says how far it got. Exit 130 (Ctrl-C)
    or 143 (SIGTERM), as a shell reports a process stopped by the signal."""

    exit_code = 130

    def __init__(self, message: str, *, hint: str | None = None, signal_number: int = 2) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = 128 + signal_number


class WorkerDied(AbdbError):
    """An annotation worker process died (kill -9, the out-of-memory killer): its claimed jobs were put
    back to PENDING, the other workers finished their work."""

    exit_code = 11


class OutputError(AbdbError):
    """An output file (--errors, --output) could not be written: disk full, permissions. The work itself
    was done; the message says what was stored."""

    exit_code = 12


EXIT_CODES: dict[int, str] = {  # documented in the README; a test checks each code is there
    0: "success",
    1: "unexpected failure, or a confirmation was declined",
    2: "bad usage or configuration (including a destructive command without --yes and no terminal)",
    3: "database or backend not reachable",
    4: "schema not at head, drift between models and database, or a failed migration",
    5: "database operation failed",
    6: "conflict with an existing record",
    7: "record not found",
    8: "an import rejected records or found conflicts (the rest was loaded)",
    9: "annotation finished but some jobs FAILED (see `abdb jobs --status FAILED`)",
    10: "`abdb verify` found violations (at or above --fail-on)",
    11: "an annotation worker died (killed, out of memory); its jobs are PENDING again",
    12: "an output file could not be written (disk full, permissions); the work itself was done",
    130: "interrupted (Ctrl-C)",
    143: "stopped by SIGTERM (docker stop, systemd, CI), after the same clean-up as Ctrl-C",
}
