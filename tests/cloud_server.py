"""A real JARVIS cloud for tests: uvicorn on 127.0.0.1 in a thread, over a migrated database.

`start()` / `stop()` can be called repeatedly (same port, same database) to simulate outages.
Helpers create gyms, members and kiosks directly in the database, as an operator would.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
import weakref
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg.rows import dict_row

from cloud_api.app import create_app
from cloud_api.config import CloudSettings
from cloud_api.data import kiosks
from cloud_api.data.audit import SYSTEM
from cloud_api.db.admin import admin_transaction

PASSWORD = "correct horse"

# Kiosk-made ids (sessions, events, voice starts) are stored scoped to the kiosk's gym: in SQL,
# the row whose id derives from its own gym and the id the kiosk made (or one of a list).
MADE = "private.gym_record_id(gym_id, %s::uuid)"
ANY_MADE = "any(select private.gym_record_id(gym_id, m) from unnest(%s::uuid[]) m)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread (its own event loop)."""

    def __init__(self, app: Any, *, port: int | None = None, lifespan: str = "off") -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan=lifespan,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def add_standard_gyms(server: CloudServer) -> None:
    """Two gyms of one franchise (`gym-a`, `gym-b`) and an independent one (`gym-c`)."""
    server.add_gym("gym-a", franchise_slug="franchise-ab")
    server.add_gym("gym-b", franchise_slug="franchise-ab")
    server.add_gym("gym-c")


def reserved_port() -> socket.socket:
    """A port kept for one server across restarts: bound, never listening (connections are
    refused while the server is down, as in an outage), and with SO_REUSEADDR, which lets
    uvicorn bind it too. Without it, another process on the machine could be given the
    port during an outage and the restart would fail."""
    reservation = socket.socket()
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reservation.bind(("127.0.0.1", 0))
    return reservation


class CloudServer:
    def __init__(self, admin_url: str, api_url: str, data_dir: Path, **overrides: Any) -> None:
        self.admin_url = admin_url
        reservation = reserved_port()
        weakref.finalize(self, reservation.close)
        self.port = int(reservation.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": admin_url,
            "api_database_url": api_url,
            "data_dir": data_dir,
            "token_secret": "test-token-secret-" + uuid.uuid4().hex,
            # Generous limits by default; rate-limit tests pass their own.
            "rate_limit_api_per_min": 100_000,
            "rate_limit_voice_per_min": 100_000,
            "rate_limit_admin_per_min": 100_000,
            "rate_limit_login_per_min": 100_000,
            "claim_max_failures_per_code": 1000,
            "claim_max_failures_per_source": 1000,
            "claim_max_failures_global": 10_000,
            "signin_max_failures_per_account": 1000,
        }
        values.update(overrides)
        self.settings = CloudSettings(_env_file=None, **values)  # type: ignore[call-arg]
        self._server: ServerThread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._server = ServerThread(create_app(self.settings), port=self.port, lifespan="on")
        self._server.__enter__()

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__()
        self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- operator helpers -----------------------------------------------------------------

    def sql(
        self, query: str, params: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        with psycopg.connect(self.admin_url, row_factory=dict_row) as conn:
            cur = conn.execute(query.encode(), params)
            return cur.fetchall() if cur.description else []

    def add_gym(self, slug: str, *, franchise_slug: str | None = None) -> uuid.UUID:
        franchise_id = None
        if franchise_slug:
            franchise_id = self.sql(
                "insert into franchises (slug, name) values (%s, %s) on conflict (slug) "
                "do update set name = excluded.name returning id",
                (franchise_slug, franchise_slug.title()),
            )[0]["id"]
        return self.sql(
            "insert into gyms (slug, name, franchise_id, opening_hours) values (%s, %s, %s, %s) "
            "returning id",
            (
                slug,
                slug.replace("-", " ").title(),
                franchise_id,
                json.dumps({"mon": [["06:00", "22:00"]], "sun": []}),
            ),
        )[0]["id"]

    def add_member(
        self,
        gym_slug: str,
        badge_id: str,
        first_name: str,
        *,
        status: str = "active",
        language: str = "fr",
    ) -> uuid.UUID:
        expires = date.today() + (
            timedelta(days=-3) if status == "expired" else timedelta(days=200)
        )
        member_id = self.sql(
            "insert into gym_members (gym_id, badge_id, first_name, is_active, "
            "membership_expires_on) select id, %s, %s, %s, %s from gyms where slug = %s "
            "returning id",
            (badge_id, first_name, status != "suspended", expires, gym_slug),
        )[0]["id"]
        self.sql(
            "insert into member_preferences (member_id, gym_id, language) "
            "select id, gym_id, %s from gym_members where id = %s",
            (language, member_id),
        )
        return member_id

    def add_user(
        self,
        email: str,
        role: str,
        *,
        gym_slug: str | None = None,
        franchise_slug: str | None = None,
        password: str = PASSWORD,
    ) -> uuid.UUID:
        from cloud_api.passwords import hash_password

        user_id = self.sql(
            "insert into auth.users (email, encrypted_password) values (%s, %s) returning id",
            (email, hash_password(password)),
        )[0]["id"]
        self.sql(
            "insert into users (id, email, role, gym_id, franchise_id) values (%s, %s, %s, "
            "(select id from gyms where slug = %s), (select id from franchises where slug = %s))",
            (user_id, email, role, gym_slug, franchise_slug),
        )
        return user_id

    def user_token(self, email: str, password: str = PASSWORD) -> str:
        response = httpx.post(
            f"{self.base_url}/auth/login", json={"email": email, "password": password}
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def create_kiosk(self, gym_slug: str, name: str = "Entrance") -> str:
        """A new kiosk in the gym; returns its provisioning code."""
        return self._issue(
            lambda conn, pepper, ttl: kiosks.create_kiosk(
                conn,
                gym_slug=gym_slug,
                name=name,
                location=None,
                pepper=pepper,
                ttl=ttl,
                actor=SYSTEM,
            )
        ).code

    def new_code(self, kiosk_id: uuid.UUID) -> str:
        return self._issue(
            lambda conn, pepper, ttl: kiosks.regenerate_code(
                conn, kiosk_id=kiosk_id, pepper=pepper, ttl=ttl, actor=SYSTEM
            )
        ).code

    def _issue(self, make: Any) -> kiosks.IssuedCode:
        from cloud_api.services import code_pepper

        async def run() -> kiosks.IssuedCode:
            async with admin_transaction(self.admin_url) as conn:
                issued: kiosks.IssuedCode = await make(
                    conn,
                    code_pepper(self.settings),
                    timedelta(minutes=self.settings.provisioning_code_ttl_min),
                )
                return issued

        return asyncio.run(run())

    def provision(self, gym_slug: str, device_id: str | None = None) -> dict[str, Any]:
        """Create and claim a kiosk; returns the claim response (with its credential)."""
        code = self.create_kiosk(gym_slug, f"Kiosk {uuid.uuid4().hex[:6]}")
        response = httpx.post(
            f"{self.base_url}/api/kiosk/provision",
            json={"code": code, "device_id": device_id or uuid.uuid4().hex},
        )
        response.raise_for_status()
        claim: dict[str, Any] = response.json()
        return claim

    def kiosk_token(self, claim: dict[str, Any]) -> str:
        response = httpx.post(
            f"{self.base_url}/api/kiosk/token",
            json={"kiosk_id": claim["kiosk_id"], "credential": claim["credential"]},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token
