"""``jarvis-kiosk status``: what the agent is doing, read from its store without disturbing it.

The running agent publishes its state, last error and heartbeats in the store; this reads
them through a read-only connection, so it works while the agent runs (and when it does
not), and never migrates, repairs or locks the store.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import psutil

from kiosk_agent.adapters.identity import IdentityError, KioskIdentity, load_identity
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_open import open_readonly
from kiosk_agent.config import KioskSettings


@dataclass(frozen=True, slots=True)
class KioskStatusReport:
    provisioned: bool
    kiosk: str | None
    cloud_url: str | None
    agent_running: bool
    agent_pid: int | None
    state: str | None
    state_detail: str | None
    state_since: str | None
    last_heartbeat_at: str | None
    last_heartbeat_ok: bool | None
    last_heartbeat_error: str | None
    pending_sessions: int | None
    pending_events: int | None
    refused_records: int | None
    member_cache: int | None
    member_synced_at: str | None
    store_problem: str | None
    last_error: str | None
    identity_problem: str | None

    @property
    def outbox_depth(self) -> int | None:
        if self.pending_sessions is None or self.pending_events is None:
            return None
        return self.pending_sessions + self.pending_events

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outbox_depth"] = self.outbox_depth
        return data


def _agent_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        return process.is_running() and any(
            "jarvis-kiosk" in p or "kiosk_agent" in p for p in process.cmdline()
        )
    except (psutil.Error, OSError):
        return False


def read_status(settings: KioskSettings) -> KioskStatusReport:
    identity: KioskIdentity | None = None
    identity_problem = None
    try:
        identity = load_identity(settings.identity_path)
    except IdentityError as exc:
        identity_problem = str(exc)
    values: dict[str, str] = {}
    counts = None
    members = None
    store_problem = None
    try:
        store = open_readonly(settings.database_path, settings.store)
    except StoreError as exc:
        store_problem = str(exc)
    else:
        try:
            values = store.get_all()
            counts = store.outbox_counts()
            members = store.member_count()
            incident = store.recent_incident()
            if incident is not None:
                store_problem = incident.message
        except StoreError as exc:
            store_problem = str(exc)
        finally:
            store.close()
    pid = None
    with contextlib.suppress(ValueError):
        pid = int(values.get("agent_pid", ""))
    running = values.get("agent_clean_exit") == "0" and _agent_alive(pid)
    state = values.get("agent_state")
    if not running and state is not None:
        state = "stopped"
    heartbeat_ok = values.get("last_heartbeat_ok")
    return KioskStatusReport(
        provisioned=identity is not None,
        kiosk=identity.describe() if identity else None,
        cloud_url=settings.cloud.url or (identity.cloud_url if identity else None),
        agent_running=running,
        agent_pid=pid if running else None,
        state=state,
        state_detail=values.get("agent_state_detail") if running else None,
        state_since=values.get("agent_state_since"),
        last_heartbeat_at=values.get("last_heartbeat_at"),
        last_heartbeat_ok=None if heartbeat_ok is None else heartbeat_ok == "1",
        last_heartbeat_error=values.get("last_heartbeat_error"),
        pending_sessions=counts.pending_sessions if counts else None,
        pending_events=counts.pending_events if counts else None,
        refused_records=counts.refused if counts else None,
        member_cache=members,
        member_synced_at=values.get("member_sync_at"),
        store_problem=store_problem,
        last_error=values.get("last_error"),
        identity_problem=identity_problem,
    )


def _ago(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "never"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 120:
        span = f"{seconds} s"
    elif seconds < 7200:
        span = f"{seconds // 60} min"
    elif seconds < 172800:
        span = f"{seconds // 3600} h"
    else:
        span = f"{seconds // 86400} days"
    return f"{when.astimezone():%Y-%m-%d %H:%M:%S} ({span} ago)"


def render_status(report: KioskStatusReport, now: datetime | None = None) -> str:
    at = now or datetime.now(UTC)
    lines = []
    if report.provisioned:
        lines.append(f"Kiosk:          {report.kiosk}")
        lines.append(f"Cloud:          {report.cloud_url}")
    else:
        lines.append("Kiosk:          not provisioned: run `jarvis-kiosk provision`")
        if report.identity_problem:
            lines.append(f"                {report.identity_problem}")
    if report.agent_running:
        detail = f" ({report.state_detail})" if report.state_detail else ""
        lines.append(f"Agent:          running, pid {report.agent_pid}")
        lines.append(
            f"State:          {report.state}{detail}, since {_ago(report.state_since, at)}"
        )
    else:
        lines.append("Agent:          not running (start it: sudo systemctl start jarvis-kiosk)")
    beat = _ago(report.last_heartbeat_at, at)
    if report.last_heartbeat_ok is False:
        beat += f", failed: {report.last_heartbeat_error}"
    elif report.last_heartbeat_ok:
        beat += ", delivered"
    lines.append(f"Last heartbeat: {beat}")
    if report.outbox_depth is None:
        lines.append("Outbox:         unknown (the store cannot be read)")
    else:
        lines.append(
            f"Outbox:         {report.outbox_depth} waiting ({report.pending_sessions} session "
            f"records, {report.pending_events} events); {report.refused_records} refused"
        )
    if report.member_cache is not None:
        lines.append(
            f"Member cache:   {report.member_cache} badges, synced "
            f"{_ago(report.member_synced_at, at)}"
        )
    lines.append(f"Store:          {report.store_problem or 'ok'}")
    lines.append(f"Last error:     {report.last_error or 'none'}")
    return "\n".join(lines)
