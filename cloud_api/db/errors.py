"""Errors of the data layer, each carrying one sentence a person can act on."""


class DatabaseError(Exception):
    """Base class: the message says what happened and what to do next."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached or started."""


class MigrationFailed(DatabaseError):
    """A migration failed; the whole run was rolled back."""


class MigrationsPending(DatabaseError):
    """The database is behind the code's migrations."""


def one_line(exc: BaseException) -> str:
    """The exception's text as one line (libpq messages span several)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__
