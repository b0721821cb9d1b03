"""What services tell the agent about the cloud and about failures."""

from __future__ import annotations

from typing import Protocol

from kiosk_agent.adapters.cloud_errors import (
    CloudError,
    CloudUnavailable,
    CloudUnreachable,
    CredentialRejected,
    NotJarvisCloud,
)


class AgentHooks(Protocol):
    def cloud_reachable(self) -> None:
        """The cloud answered."""

    def cloud_unreachable(self, reason: str) -> None:
        """The cloud did not answer (or answered 5xx)."""

    def credential_rejected(self, reason: str) -> None:
        """The kiosk's credential is refused: it must be provisioned again."""

    def error(self, message: str) -> None:
        """Something went wrong that a person should know about (kept as last_error)."""


def is_outage(exc: CloudError) -> bool:
    """Whether the error means the cloud is out of reach (as opposed to refusing a request)."""
    return isinstance(exc, CloudUnreachable | CloudUnavailable | NotJarvisCloud)


def report(hooks: AgentHooks, exc: CloudError, what: str) -> None:
    """Tell the agent what a failed call means: a refused credential, an outage, or a
    refusal worth keeping as the last error (``what`` names the call, e.g. "heartbeat")."""
    if isinstance(exc, CredentialRejected):
        hooks.credential_rejected(str(exc))
    elif is_outage(exc):
        hooks.cloud_unreachable(str(exc))
    else:
        hooks.error(f"{what} refused: {exc}")
