"""Anonymous callers' rate-limit keys: one per IPv4 address, one per IPv6 /64."""

from __future__ import annotations

import pytest

from cloud_api.ratelimit import Decision, Limit, caller_key_for_address


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_anonymous_callers_are_keyed_by_address_or_ipv6_network(address: str, key: str) -> None:
    assert caller_key_for_address(address) == key


def test_ip_keys_do_not_depend_on_spelling() -> None:
    assert caller_key_for_address("2001:DB8:1:2:0:0:0:1") == caller_key_for_address(
        "2001:db8:1:2::9"
    )


def test_headers_say_the_truth() -> None:
    allowed = Decision(True, 5, 2, 40)
    assert allowed.headers() == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Reset": "40",
    }
    assert Decision(False, 5, 0, 40).headers()["Retry-After"] == "40"
    assert Limit("api", 3).describe() == "at most 3 per minute"
    assert Limit("login_account", 5, 900).describe() == "at most 5 per 900 s"
