"""Errors of the data layer, each carrying one sentence a person can act on."""


class DatabaseError(Exception):
    """Base class: the message says what happened and what to do next."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached or started."""


class MigrationFailed(DatabaseError):
    """A migration failed; the whole run was rolled back."""


class MigrationsPending(DatabaseError):
    """The database is behind the code's migrations."""
