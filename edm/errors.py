"""Errors a user can cause, each with a message that says what to fix.

    EdmError
    ├── ConfigError          settings file or environment is wrong
    ├── ImportDataError      a customer/order file has bad rows
    ├── CampaignError        a campaign file is broken or unknown
    ├── TemplateError        a template is missing or fails to render
    ├── StoreReadError       a large read of the database failed in its child process
    ├── StoreError           the database failed: disk full, read-only, I/O, unreachable, locked
    └── DeliveryError        the SMTP relay did not take a message
        ├── TransientDeliveryError   4xx or connection trouble: retry later
        │   └── NotAttemptedError    never reached a relay (all down, throttled): put back, no attempt
        │       ├── PutBackError     handed back by the run itself (stopping, a refused login): never expires
        │       │   └── RelayLoginError  the relay refused our login or demands one: the run stops
        │       └── RelaysUnreachableError  none reachable for smtp.give_up_after_seconds: the run ends
        └── PermanentDeliveryError   5xx: the address bounced, never retry

A programmer's misuse (wrong argument types, broken invariants) is not an
`EdmError`; it raises the usual built-in exceptions.
"""

from __future__ import annotations


class EdmError(Exception):
    """Root of every error a user can cause; the CLI prints it without a traceback."""


class ConfigError(EdmError):
    """The settings file or an `EDM_*` environment variable is missing or invalid."""


class ImportDataError(EdmError):
    """A data file is unreadable or has invalid rows; nothing of it was written.

    `problems` lists each as (row, column, reason), in file order; a problem with the
    whole file has the column `FILE`. A huge file may keep only the first problems:
    `total` counts them all. The message shows the first `SHOWN`.
    """

    FILE = "(file)"
    SHOWN = 20

    def __init__(self, path: str, problems: list[tuple[int, str, str]], total: int | None = None) -> None:
        self.path = path
        self.problems = problems
        self.total = len(problems) if total is None else total
        shown = "\n".join(
            f"  {path}: {why}" if col == self.FILE else f"  {path}: row {row}, column {col!r}: {why}"
            for row, col, why in problems[: self.SHOWN]
        )
        more = f"\n  ... and {self.total - self.SHOWN} more" if self.total > self.SHOWN else ""
        super().__init__(f"nothing was imported from {path}, {self.total} problem(s):\n{shown}{more}")


class CampaignError(EdmError):
    """A campaign file is invalid, or a named campaign does not exist."""


class TemplateError(EdmError):
    """A template is missing, unsafe, or refers to a value that does not exist."""


class StoreReadError(EdmError):
    """A child process reading the database (see `edm.store.columns`) failed; its error is in the message."""


class StoreError(EdmError):
    """The database failed under a command: disk full, read-only, I/O error, unreachable, connection lost,
    locked too long. The message names the database (password masked), the cause and what to do; the
    command's unfinished transaction was rolled back. Made by `edm.store.faults.store_error`."""


class DeliveryError(EdmError):
    """The relay did not accept a message."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: a 4xx reply, a dropped connection, a relay that is down."""


class NotAttemptedError(TransientDeliveryError):
    """The message never went to a relay (none reachable, its domain's rate limit is far ahead,
    shutting down): it is put back without counting an attempt, due again in `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class RelaysUnreachableError(NotAttemptedError):
    """No relay has answered for `smtp.give_up_after_seconds`: a run that may give up (`edm send`,
    `campaign run`) stops claiming and puts the rest back; the CLI exits with code 3."""


class PermanentDeliveryError(DeliveryError):
    """A hard bounce (5xx): the address is suppressed and never tried again."""


class PutBackError(NotAttemptedError):
    """Handed back by the run itself (stopping, a refused login) rather than by a relay or a limit:
    the row goes back as it was, and never fails for its age on the way."""


class RelayLoginError(PutBackError):
    """The relay refused our login (530, 534, 535), demands one, or lacks the STARTTLS the settings
    demand: a settings problem, so sending stops at once, every claimed row goes back untouched,
    and the message names the settings to fix."""
