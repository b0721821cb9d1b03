"""A browser-like HTTP client for the dashboard's pages: cookies, CSRF tokens, forms."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pyotp

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class WebClient:
    def __init__(self, base_url: str, *, local_address: str | None = None) -> None:
        """`local_address`: the source address to connect from (127.0.0.x), for tests that
        need several callers."""
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        self.http = httpx.Client(
            base_url=base_url, follow_redirects=False, timeout=30, transport=transport
        )
        self.last_csrf = ""
        self.last_code = ""

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        if CSRF.search(response.text):
            self.last_csrf = csrf_of(response.text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """A form post carrying the CSRF token of the last page seen."""
        return self.http.post(path, data={"csrf_token": self.last_csrf, **(data or {})}, **kwargs)

    def sign_in(self, email: str, password: str) -> httpx.Response:
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})

    def pass_mfa(self, secret: str | None = None) -> str:
        """Through /auth/mfa (enrolling when needed); returns the factor's secret. The code
        used is kept in `last_code` (a replay of it must be refused)."""
        page = self.get("/auth/mfa")
        assert page.status_code == 200, page.text
        if secret is None:
            found = SECRET.search(page.text)
            assert found, "no enrolment secret on the page"
            secret = found.group(1)
        self.last_code = pyotp.TOTP(secret).now()
        answer = self.post("/auth/mfa", {"code": self.last_code})
        assert answer.status_code == 303, answer.text
        return secret

    def set_cookie(self, name: str, value: str) -> None:
        """Replace a cookie the server set (as a browser's stored copy would be)."""
        domain = httpx.URL(str(self.http.base_url)).host
        for cookie in list(self.http.cookies.jar):
            if cookie.name == name:
                self.http.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
        self.http.cookies.set(name, value, domain=domain)

    def cookie(self, name: str) -> str:
        return next(c.value or "" for c in self.http.cookies.jar if c.name == name)

    def cookie_headers(self, response: httpx.Response) -> list[str]:
        return response.headers.get_list("set-cookie")
