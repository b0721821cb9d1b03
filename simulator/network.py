"""A slow network between a client and a server on 127.0.0.1: a TCP relay that delays bytes.

Tests and benchmarks put one in front of the simulator (``SimulatorSettings.network_rtt_ms``,
``--rtt-ms``) and in front of the cloud, to see what a kiosk does with real round trips:

- every chunk is delivered half a round trip after it arrives, in order, each direction;
- a new connection costs its handshakes first: the client's first bytes reach the server
  ``handshake_rtts`` round trips late (2 by default: TCP, then TLS 1.3), so the first answer
  on a new connection takes 3 round trips, and later ones on the same connection 1 — as over
  the internet with HTTPS keep-alive or a WebSocket;
- :meth:`SlowLink.cut` drops every open connection at once (a network failure, no close
  frame), for fault tests.

Bandwidth is not limited: the kiosk's traffic (24 kHz audio, JSON) is far below any uplink.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

CHUNK = 65_536


@dataclass
class SlowLink:
    """Relays 127.0.0.1:``port`` to ``target``, ``rtt_ms`` apart; see the module docstring."""

    target_port: int
    rtt_ms: float
    target_host: str = "127.0.0.1"
    handshake_rtts: int = 2
    host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    """Connections accepted so far."""
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def cut(self) -> None:
        """Lose every open connection now (both sides see a reset, no close frame)."""
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        server_out: asyncio.StreamWriter | None = None
        try:
            server_in, server_out = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            self._open.update((client_out, server_out))
            loop = asyncio.get_running_loop()
            half = self.rtt_ms / 2000
            not_before = loop.time() + self.handshake_rtts * self.rtt_ms / 1000
            await asyncio.gather(
                _carry(client_in, server_out, half, not_before),
                _carry(server_in, client_out, half, 0.0),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the link is stopping: the connection goes with it (finally)
        finally:
            for writer in (client_out, server_out):
                if writer is not None:
                    self._open.discard(writer)
                    writer.transport.abort()
            self._tasks.discard(task)


async def _carry(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay_s: float, not_before: float
) -> None:
    """Bytes from ``source`` to ``sink``, each chunk ``delay_s`` after it arrived (or after
    ``not_before``, the handshakes), in order; the sink's write side closes when the source
    ends."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while True:
            data = await source.read(CHUNK)
            await queue.put((max(loop.time(), not_before) + delay_s, data))
            if not data:
                return

    reader = asyncio.create_task(read())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            sink.write(data)
            await sink.drain()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError, asyncio.IncompleteReadError):
            await reader


@contextlib.asynccontextmanager
async def slow_link(
    target_port: int,
    rtt_ms: float,
    *,
    target_host: str = "127.0.0.1",
    handshake_rtts: int = 2,
    port: int = 0,
) -> AsyncIterator[SlowLink]:
    """A :class:`SlowLink` for the block (``port`` 0: a free one)."""
    link = SlowLink(target_port, rtt_ms, target_host, handshake_rtts, target_host, port)
    await link.start()
    try:
        yield link
    finally:
        await link.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m simulator.network --to PORT [--port P] --rtt-ms MS`: a slow link for
    benchmarks and the demo, until SIGINT or SIGTERM."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m simulator.network", description=main.__doc__)
    parser.add_argument("--to", type=int, required=True, help="the port to relay to")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on")
    parser.add_argument("--rtt-ms", type=float, required=True, help="round trip (ms)")
    args = parser.parse_args(argv)

    async def relay() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        link = SlowLink(args.to, args.rtt_ms, port=args.port)
        await link.start()
        print(f"slow link on 127.0.0.1:{link.port} -> {args.to}, {args.rtt_ms:g} ms", flush=True)
        try:
            await stop.wait()
        finally:
            await link.stop()

    asyncio.run(relay())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
