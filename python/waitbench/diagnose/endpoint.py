# SPDX-License-Identifier: Apache-2.0
"""The HTTP side of ``diagnose --serve``: the address, the loopback rule, and a server that holds many scrapes.

Why a server of our own over prometheus-client's ``start_http_server``: that one listens with the
standard library's backlog of 5, so 20 scrapers connecting at once wait for SYN retransmits (13 of 20
took over 0.9 s) and 200 time out; and it answers HEAD with 405, which load balancers and uptime
probes read as down. This one is the standard library's ThreadingHTTPServer with a deep backlog,
daemon request threads, a per-connection timeout (a stalled client cannot keep a thread), GET and
HEAD (GET's headers, no body) and OPTIONS; any other method is 405. It has no WSGI layer: a scrape
serves bytes rendered once per window (``exporter.MetricsRender``), so the per-request cost is the
server's own.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import invalid

DEFAULT_HOST = "127.0.0.1"
ADDRESS_RANGE = "[ADDR:]PORT with PORT in [0, 65535] (0: any free port) and ADDR a local address, IPv6 in brackets"
LISTEN_BACKLOG = 1024  # connections the kernel queues before accept (capped by net.core.somaxconn)
CONNECTION_TIMEOUT_S = 10.0  # a client that sends nothing for this long loses its connection

# What a GET serves: (Accept, Accept-Encoding) -> (body, headers), headers with Content-Type and Content-Length.
Render = Callable[[str | None, str | None], tuple[bytes, list[tuple[str, str]]]]
ALLOW = "GET, HEAD, OPTIONS"


def parse_address(text: str, argument: str = "address") -> tuple[str, int]:
    """``'9400'`` -> ``('127.0.0.1', 9400)``; ``'0.0.0.0:9400'``, ``'[::1]:9400'``, ``'localhost:0'``.

    Only ASCII digits make a port (``str.isdigit`` would take '９４００').
    """
    if not isinstance(text, str):
        raise invalid(argument, text, ADDRESS_RANGE)
    m = re.fullmatch(r"(?:\[([0-9A-Fa-f:.%\w]+)\]:|([^:\[\]\s]+):)?([0-9]{1,5})", text.strip(), re.ASCII)
    if not m or int(m.group(3)) > 65535:
        raise invalid(argument, text, ADDRESS_RANGE)
    return (m.group(1) or m.group(2) or DEFAULT_HOST), int(m.group(3))


def _loopback_only(host: str, port: int) -> bool:
    """Whether every address ``host`` resolves to is a loopback one (127.0.0.0/8, ::1)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def bind_address(address: str, *, argument: str = "address", public: bool = False) -> tuple[str, int]:
    """(host, port) to bind for ``address``: parsed, resolved, and loopback-only unless ``public``.

    ValueError naming ``argument`` for a malformed address, a host that does not resolve, or an
    address that is not loopback without ``public`` (the CLI's ``--serve-public``).
    """
    host, port = parse_address(address, argument)
    try:
        loopback = _loopback_only(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise invalid(argument, address, f"{ADDRESS_RANGE} ({host!r} does not resolve: {why})") from None
    if not loopback and not public:
        raise invalid(argument, address, "a loopback address (127.0.0.1, ::1, localhost) unless --serve-public is "
                      "also given: it serves the metrics to every host that can reach this one")
    return host, port


class _Handler(BaseHTTPRequestHandler):
    """GET and HEAD serve the render's bytes (any path, as prometheus-client does); no access log."""

    server_version = "waitbench-exporter"
    sys_version = ""  # the Server header names the exporter, not the Python that runs it
    timeout = CONNECTION_TIMEOUT_S
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would hold the body 40 ms
    render: Render  # set on the class made for each server

    def do_GET(self) -> None:
        """The metrics."""
        self._serve(body=True)

    def do_HEAD(self) -> None:
        """GET's status and headers (Content-Length included), without the body."""
        self._serve(body=False)

    def do_OPTIONS(self) -> None:
        """Which methods are served."""
        self._reply(200, [("Allow", ALLOW), ("Content-Length", "0")], b"")

    def _not_allowed(self) -> None:
        text = f"# HTTP 405: {self.command} is not allowed; use {ALLOW}\n".encode()
        self._reply(405, [("Allow", ALLOW), ("Content-Type", "text/plain; charset=utf-8"),
                          ("Content-Length", str(len(text)))], text)

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815

    def _serve(self, *, body: bool) -> None:
        data, headers = type(self).render(self.headers.get("Accept"), self.headers.get("Accept-Encoding"))
        self._reply(200, headers, data if body else b"")

    def _reply(self, code: int, headers: Iterable[tuple[str, str]], data: bytes) -> None:
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: a scrape every few seconds is not news."""


class _Server(ThreadingHTTPServer):
    """The threaded HTTP server with a backlog that holds concurrent scrapers, and daemon request threads."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG


@dataclass
class Endpoint:
    """A running endpoint: where it listens, and how to stop it."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        """Where the metrics are served (``http://ADDR:PORT/metrics``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5.0)


def start(address: str, render: Render, *, argument: str = "address", public: bool = False) -> Endpoint:
    """Serve ``render``'s bytes at ``address`` from a daemon thread; ValueError naming ``argument`` if it cannot.

    A malformed address, a host that does not resolve, an address that is not loopback without
    ``public``, or a port that cannot be bound is refused.
    """
    host, port = bind_address(address, argument=argument, public=public)
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    server_class = type("_BoundServer", (_Server,), {"address_family": family})
    handler = type("_BoundHandler", (_Handler,), {"render": staticmethod(render)})
    try:
        server = server_class((host, port), handler)
    except OSError as exc:
        raise invalid(argument, address, f"an address and port this process can bind ({exc.strerror or exc})") from None
    thread = threading.Thread(target=server.serve_forever, name="waitbench-exporter", daemon=True)
    thread.start()
    bound = server.server_address
    return Endpoint(server, thread, str(bound[0]), int(bound[1]))
