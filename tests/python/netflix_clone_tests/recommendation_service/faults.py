"""Faults as a user meets them: a TCP forwarder in front of Redis that can be stopped (connection
refused), paused (calls hang) and started again; a raw-socket client for hostile HTTP requests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Optional


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpProxy:
    """127.0.0.1:port -> target. `stop()` closes the listener and every connection (refused);
    `pause()` keeps connections open but forwards nothing (hangs); `start()`/`resume()` undo them.
    """

    def __init__(self, target_host: str, target_port: int, port: Optional[int] = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Optional[asyncio.base_events.Server] = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._thread.start()
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    def start(self) -> None:
        async def _start() -> None:
            self._flowing.set()
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

        self._call(_start())

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
                self._server = None
            for writer in list(self._writers):
                writer.close()
            self._writers.clear()

        self._call(_stop())

    def pause(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def resume(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.set)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def raw_request(port: int, head: bytes, body_chunks: int = 0, chunk: bytes = b"", timeout: float = 30):
    """Send a request head (and optionally body chunks) over a raw socket; return (status, body bytes,
    seconds). Stops sending once the server has answered or closed."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        response = b""
        sent = 0
        while time.monotonic() - started < timeout:
            if sent < body_chunks:
                try:
                    sock.send(chunk)
                    sent += 1
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    sent = body_chunks
            try:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
                if b"\r\n\r\n" in response and _complete(response):
                    break
            except BlockingIOError:
                if sent >= body_chunks:
                    time.sleep(0.005)
            except ConnectionResetError:
                break
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0
    body = response.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in response else b""
    return status, body, time.monotonic() - started


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False
