"""Limits a hostile or careless client meets before any parsing: URL, headers and body size.

- `BodyLimitMiddleware` (plain ASGI): a declared Content-Length above the limit gets 413 at once,
  without reading a byte of the body; a body without Content-Length (chunked) is counted as it streams
  in and refused with 413 as soon as it crosses the limit. Either way the connection is closed after
  the answer, so the rest of the upload is never buffered, and nothing of the body is echoed.
- `BoundedHttpToolsProtocol` (uvicorn's httptools protocol): a request line longer than `max_url_bytes`
  gets 414, header blocks above `max_header_bytes` get 431, while they are still arriving. Stock uvicorn
  concatenates the URL chunk by chunk with no bound (a 50 MB id costs seconds of CPU and the memory).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Optional

from fastapi.exceptions import HTTPException
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_URL_BYTES",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "BoundedHttpToolsProtocol",
]

DEFAULT_MAX_BODY_BYTES = 1 << 20
MAX_URL_BYTES = 64 * 1024  # room for every URL the schema allows (ids of 256 characters, 16 exclusions)
MAX_HEADER_BYTES = 64 * 1024

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads the body; FastAPI passes HTTPExceptions through its
    body parsing, so the client gets this 413 (and the connection is closed after it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", headers={"connection": "close"})
        self.limit = limit


def _refusal(status: int, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


class BodyLimitMiddleware:
    def __init__(
        self,
        app: App,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        on_refused: Callable[[str], None] = lambda _reason: None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.on_refused = on_refused

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            if not declared.isdigit() or len(declared) > 18:
                await self._refuse(send, 400, "invalid Content-Length", "bad_length")
                return
            if int(declared) > limit:
                await self._refuse(send, 413, f"request body larger than {limit} bytes", "declared")
                return
            await self.app(scope, receive, send)
            return

        # No Content-Length (chunked): count what arrives, stop reading past the limit.
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    self.on_refused("streamed")
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await self._refuse(send, 413, str(exc.detail), "streamed")

    async def _refuse(self, send: Send, status: int, detail: str, reason: str) -> None:
        self.on_refused(reason)
        start, body = _refusal(status, detail)
        await send(start)
        await send(body)


class _Refused(Exception):
    pass


LINGER_S = 2.0


class _LingeringTransport:
    """A transport whose close() is a lingering close (as nginx does): the answer is flushed, the
    write side shut (FIN), and what the client still sends is read and dropped until it closes or
    LINGER_S pass. Closing at once with unread data in the socket makes the kernel send a reset, and
    a client still uploading its 50 MB then loses the 413 it was sent."""

    def __init__(self, transport: Any, protocol: "BoundedHttpToolsProtocol") -> None:
        self._transport = transport
        self._protocol = protocol
        self._closing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._closing or bool(self._transport.is_closing())

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        transport = self._transport
        if transport.is_closing():
            return
        try:
            transport.write_eof()
            transport.resume_reading()
        except (AttributeError, NotImplementedError, OSError, RuntimeError):
            transport.close()
            return
        self._protocol.lingering = True
        self._protocol.loop.call_later(LINGER_S, transport.close)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounds on the request line and the header block, and a
    lingering close."""

    max_url_bytes = MAX_URL_BYTES
    max_header_bytes = MAX_HEADER_BYTES
    lingering = False
    _header_bytes = 0
    _refused_with: Optional[tuple[int, str]] = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0  # pylint: disable=attribute-defined-outside-init
        self._refused_with = None  # pylint: disable=attribute-defined-outside-init

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.max_url_bytes:
            self._refused_with = (  # pylint: disable=attribute-defined-outside-init
                414,
                f"request line longer than {self.max_url_bytes} bytes",
            )
            raise _Refused()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)  # pylint: disable=attribute-defined-outside-init
        if self._header_bytes > self.max_header_bytes:
            self._refused_with = (  # pylint: disable=attribute-defined-outside-init
                431,
                f"headers larger than {self.max_header_bytes} bytes",
            )
            raise _Refused()
        super().on_header(name, value)

    def data_received(self, data: bytes) -> None:
        if self.lingering or self._refused_with is not None:
            return  # the answer is sent and the connection closing: drop whatever still arrives
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        refused = self._refused_with
        if refused is None:
            super().send_400_response(msg)
            return
        status, detail = refused
        body = json.dumps({"detail": detail}).encode()
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[status],
                    b"content-type: application/json\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        self.transport.close()
