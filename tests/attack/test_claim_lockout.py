"""The provisioning limits used against legitimate installers (issue 12, item 2).

An attacker does not only brute-force codes: it floods wrong codes to lock installers out,
retries refusals to keep a lockout going, and guesses around a code it half knows. Each test
runs the attacker and the installers from their own source addresses (127.0.0.x: Linux routes
all of 127/8 to loopback) against one real cloud with small limits, and asserts on what the
database counted. Waiting is simulated by ageing the recorded attempts (what the clock would
do), so no test sleeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import httpx
import pytest

from cloud_api.config import CloudSettings
from cloud_api.services import code_pepper
from provisioning.code import code_hash, neighbours
from tests.cloud_server import CloudServer
from tests.conftest import PostgresServer

PER_CODE, PER_SOURCE, GLOBAL = 3, 4, 10
WRONG = [f"{i:06d}" for i in range(100_000, 100_200)]  # codes no kiosk has (checked below)


@pytest.fixture(scope="module")
def cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    admin = postgres.create_database("claimlockout")
    server = CloudServer(
        admin,
        postgres.api_url(admin),
        tmp_path_factory.mktemp("claimlockout"),
        claim_max_failures_per_code=PER_CODE,
        claim_max_failures_per_source=PER_SOURCE,
        claim_max_failures_global=GLOBAL,
        rate_limit_api_per_min=10_000,  # the per-address request limit is not under test here
    )
    server.add_gym("gym-a")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fresh_window(cloud: CloudServer) -> None:
    cloud.sql("delete from provisioning_attempts")


class Source:
    """One source address claiming codes."""

    def __init__(self, cloud: CloudServer, last_octet: int) -> None:
        self.address = f"127.0.0.{last_octet}"
        self._client = httpx.Client(
            base_url=cloud.base_url,
            transport=httpx.HTTPTransport(local_address=self.address),
            timeout=30,
        )

    def close(self) -> None:
        self._client.close()

    def claim(self, code: str) -> httpx.Response:
        return self._client.post(
            "/api/kiosk/provision",
            json={"code": code, "device_id": f"box-{code}", "hardware_info": {}},
        )


@pytest.fixture
def source(cloud: CloudServer) -> Iterator[Callable[[int], Source]]:
    """Source 127.0.0.n, closed after the test."""
    made: list[Source] = []

    def make(last_octet: int) -> Source:
        made.append(Source(cloud, last_octet))
        return made[-1]

    yield make
    for one in made:
        one.close()


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def counted(cloud: CloudServer, source: str | None = None) -> int:
    """Failures the limits count (refusals are recorded as 'rate_limited', never counted)."""
    rows = cloud.sql(
        "select count(*) as n from provisioning_attempts "
        "where outcome in ('code_invalid', 'code_expired', 'code_used') "
        "and (%s::text is null or source_ip = %s)",
        (source, source),
    )
    return int(rows[0]["n"])


def wait(cloud: CloudServer, seconds: int) -> None:
    """The clock moves on `seconds`: every recorded attempt is that much older."""
    cloud.sql(
        "update provisioning_attempts set attempted_at = attempted_at - make_interval(secs => %s)",
        (seconds,),
    )


def test_a_flood_from_one_source_locks_out_that_source_only(
    cloud: CloudServer, source: Callable[[int], Source]
) -> None:
    attacker, installer = source(2), source(3)
    good = cloud.create_kiosk("gym-a")
    assert good not in WRONG
    statuses = [attacker.claim(code).status_code for code in WRONG[:60]]
    assert statuses == [404] * PER_SOURCE + [429] * (60 - PER_SOURCE)
    assert counted(cloud) == PER_SOURCE  # 56 refusals counted nothing
    # Even the right code is refused to the attacker's address...
    assert attacker.claim(good).status_code == 429
    # ...and another installer, elsewhere, claims with it at once.
    assert installer.claim(good).status_code == 201


def test_a_handful_of_sources_cannot_stop_an_installer_with_the_right_code(
    cloud: CloudServer, source: Callable[[int], Source]
) -> None:
    bots = [source(n) for n in range(10, 14)]  # 4 bots x 4 failures: past GLOBAL
    guesses = iter(WRONG)
    for bot in bots:
        for _ in range(PER_SOURCE * 3):
            bot.claim(next(guesses))
    # The circuit opened at GLOBAL failures: from then on each bot that had failed was refused,
    # and the one bot with a clean record (the fourth) had one guess.
    assert counted(cloud) == GLOBAL + 1
    # A fresh bot gets one guess while the circuit is open, not PER_SOURCE.
    fresh_bot = source(14)
    assert [fresh_bot.claim(next(guesses)).status_code for _ in range(3)] == [404, 429, 429]
    # An installer who never failed claims; one who typed a wrong code once waits, truthfully.
    good, other = cloud.create_kiosk("gym-a"), cloud.create_kiosk("gym-a")
    assert source(20).claim(good).status_code == 201
    clumsy = source(21)
    clumsy.claim(next(guesses))  # counted: the circuit only refuses sources that have failed
    refused = clumsy.claim(other)
    assert refused.status_code == 429
    wait(cloud, int(refused.headers["Retry-After"]))
    assert clumsy.claim(other).status_code == 201


def test_waiting_exactly_retry_after_is_enough(
    cloud: CloudServer, source: Callable[[int], Source]
) -> None:
    client = source(30)
    good = cloud.create_kiosk("gym-a")
    guesses = iter(WRONG)
    for _ in range(PER_SOURCE):
        assert client.claim(next(guesses)).status_code == 404
        wait(cloud, 60)  # failures spread over the window: the limit slides, it does not reset
    refused = client.claim(good)
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    # The oldest failure leaves the 15-minute window first: 15 min - 4 x 60 s after it.
    assert 15 * 60 - PER_SOURCE * 60 - 2 <= retry_after <= 15 * 60 - PER_SOURCE * 60 + 1
    assert f"wait {retry_after} s" in refused.json()["error"]["message"]
    wait(cloud, retry_after - 5)
    assert client.claim(good).status_code == 429  # not yet, and this refusal changes nothing
    wait(cloud, 5)
    assert client.claim(good).status_code == 201


def test_refusals_during_a_lockout_do_not_extend_it(
    cloud: CloudServer, source: Callable[[int], Source]
) -> None:
    client = source(40)
    guesses = iter(WRONG)
    for _ in range(PER_SOURCE):
        client.claim(next(guesses))
    first = client.claim(next(guesses))
    assert first.status_code == 429
    waits = [int(first.headers["Retry-After"])]
    for _ in range(30):
        wait(cloud, 10)
        again = client.claim(next(guesses))
        assert again.status_code == 429
        assert code_of(again) == "rate_limited"
        waits.append(int(again.headers["Retry-After"]))
    # Each answer is the same deadline seen 10 s later (give or take the rounding up to whole
    # seconds): it never moved.
    assert all(
        earlier - 11 <= later <= earlier - 10 for earlier, later in itertools.pairwise(waits)
    )
    assert counted(cloud, "127.0.0.40") == PER_SOURCE
    refusals = cloud.sql(
        "select count(*) as n from provisioning_attempts where outcome = 'rate_limited'"
    )
    assert refusals[0]["n"] == 31  # recorded for the operators, never counted


def test_guesses_around_a_code_retire_it_without_touching_other_codes(
    cloud: CloudServer, source: Callable[[int], Source]
) -> None:
    target, other = cloud.create_kiosk("gym-a"), cloud.create_kiosk("gym-a")
    assert other not in neighbours(target)
    near = neighbours(target)
    # Three bots each try one neighbour: under every per-source limit, but near misses on the
    # target add up. Every guess answers the same 404 (nothing points at the live code).
    answers = [source(50 + i).claim(guess) for i, guess in enumerate(near[:PER_CODE])]
    assert [a.status_code for a in answers] == [404] * PER_CODE
    assert {code_of(a) for a in answers} == {"code_invalid"}
    pepper = code_pepper(cloud.settings)
    state = cloud.sql(
        "select k.provisioning_code_expires_at <= now() as retired, "
        "(select count(*) from audit_log a where a.action = 'kiosk.code_burned' "
        " and a.target_id = k.id::text and a.gym_id = k.gym_id) as audited "
        "from unnest(%s::text[]) with ordinality c(hash, n) "
        "join kiosks k on k.provisioning_code_hash = c.hash order by c.n",
        ([code_hash(target, pepper), code_hash(other, pepper)],),
    )
    assert [(r["retired"], r["audited"]) for r in state] == [(True, 1), (False, 0)]
    # The target is retired: even the right code no longer claims (the gym issues a new one).
    assert code_of(source(60).claim(target)) == "code_expired"
    # The holder of another code, even from a bot's own address, claims it.
    assert source(50).claim(other).status_code == 201


def test_a_dead_code_typed_again_is_refused_but_others_are_not(
    cloud: CloudServer, source: Callable[[int], Source]
) -> None:
    used, other = cloud.create_kiosk("gym-a"), cloud.create_kiosk("gym-a")
    assert source(70).claim(used).status_code == 201
    answers = [source(71 + i).claim(used) for i in range(PER_CODE + 1)]
    assert [a.status_code for a in answers] == [409] * PER_CODE + [429]
    assert source(80).claim(other).status_code == 201


def test_one_source_cannot_open_the_global_circuit() -> None:
    with pytest.raises(ValueError, match="must exceed"):
        CloudSettings(  # type: ignore[call-arg]
            _env_file=None, claim_max_failures_per_source=100, claim_max_failures_global=100
        )
