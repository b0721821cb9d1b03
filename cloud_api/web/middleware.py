"""A small ASGI middleware for the dashboard's responses: queued cookies and security headers.

Every page also says how long the server took (`Server-Timing: app;dur=…`, in ms), which the
browser's developer tools show and bench/dashboard_pages.py reads. Pages queue Set-Cookie
headers on the request (a refreshed token, a sign-in) whatever
response they end with — a page, a redirect, an error page. Every page answer also carries a
strict Content-Security-Policy: everything comes from this server (no CDN, no inline script).
The API's own paths (/api, /docs, /openapi.json, /auth/v1, /health) are left untouched.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
API_PREFIXES = ("/api/", "/docs", "/redoc", "/openapi.json", "/auth/v1/", "/health")


class DashboardHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += PAGE_HEADERS
                took = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                for cookie in scope.get("state", {}).get("jarvis_cookies", []):
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
