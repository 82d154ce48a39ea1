"""Tests for core.safe_fetch, the fetcher for user-supplied URLs.

Nothing here leaves the machine: happy paths talk to servers on 127.0.0.1 (with a policy that
allows loopback), refusals must happen before any connection, and DNS is numeric-only for the
whole module, so a name only resolves where a test fakes the answer.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import re
import select
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import urllib3.util.connection
from hypothesis import given, settings
from hypothesis import strategies as st

from core import safe_fetch
from core.safe_fetch import (
    FetchError,
    FetchPolicy,
    IPAddress,
    fetch_url,
    is_public_address,
    resolve_and_check,
    validate_url,
)
from core.tests.outage import assert_never_connected

STRICT = FetchPolicy(timeout_seconds=5.0)
LOOPBACK = FetchPolicy(allow_loopback=True, timeout_seconds=5.0)
RELEASE = threading.Event()  # set at teardown so sleeping handlers finish
_REAL_GETADDRINFO = socket.getaddrinfo
_REAL_CREATE_CONNECTION = urllib3.util.connection.create_connection


# --- Fixtures: no network, a local test server --------------------------------------------------


def _loopback_only_dial(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    if not ipaddress.ip_address(address[0]).is_loopback:
        raise ConnectionRefusedError("tests never connect beyond loopback")
    return _REAL_CREATE_CONNECTION(address, *args, **kwargs)


@pytest.fixture(autouse=True, scope="module")
def _no_network() -> Iterator[None]:
    """Real DNS and non-loopback connections are off limits for every test in this module:
    only numeric hosts resolve unless a test fakes a name, and urllib3 may only dial loopback."""

    def numeric_only(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        return _REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", numeric_only)
        patch.setattr(urllib3.util.connection, "create_connection", _loopback_only_dial)
        yield
    RELEASE.set()  # let handlers still sleeping or dripping finish


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    headers: dict[str, str],
    body: bytes,
    *,
    keep_alive: bool = False,
) -> None:
    handler.send_response(status)
    if not keep_alive:  # answer our "Connection: close" as real servers do
        handler.close_connection = True
        handler.send_header("Connection", "close")
    for name, value in headers.items():
        handler.send_header(name, value)
    if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _drip(handler: BaseHTTPRequestHandler, prefix: bytes) -> None:
    """Send ``prefix``, then one byte every 0.1 s for up to 10 s (until the client hangs up)."""
    try:
        handler.wfile.write(prefix)
        for _ in range(100):
            if RELEASE.wait(0.1):
                return
            handler.wfile.write(b"a")
    except OSError:
        return


HTML = b"<!doctype html><html><body><p>Hello</p></body></html>"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        route = getattr(self, "route_" + url.path.strip("/").replace("-", "_"), None)
        if route is None:
            _send(self, 404, {"Content-Type": "text/html"}, b"not found")
            return
        try:
            route(query)
        except OSError:  # the client gave up on us, as several tests intend
            return

    def route_html(self, query: dict[str, str]) -> None:
        _send(self, 200, {"Content-Type": "text/html; charset=UTF-8"}, HTML)

    def route_keep_alive(self, query: dict[str, str]) -> None:
        _send(self, 200, {"Content-Type": "text/html"}, HTML, keep_alive=True)

    def route_typed(self, query: dict[str, str]) -> None:
        _send(self, 200, {"Content-Type": query["type"]}, b"data")

    def route_untyped(self, query: dict[str, str]) -> None:
        _send(self, 200, {}, b"data")

    def route_echo(self, query: dict[str, str]) -> None:
        seen = {name.lower(): value for name, value in self.headers.items()}
        seen["path"] = self.path
        _send(self, 200, {"Content-Type": "text/plain"}, json.dumps(seen).encode())

    def route_chain(self, query: dict[str, str]) -> None:
        steps = int(query["n"])
        if steps == 0:
            self.route_html(query)
            return
        # Alternate relative and absolute Locations: both must be resolved correctly.
        port = self.headers["Host"].rsplit(":", 1)[1]
        location = (
            f"chain?n={steps - 1}" if steps % 2 else f"http://127.0.0.1:{port}/chain?n={steps - 1}"
        )
        _send(self, 302, {"Location": location}, b"")

    def route_slow_chain(self, query: dict[str, str]) -> None:
        RELEASE.wait(0.4)
        _send(self, 302, {"Location": "/slow-chain"}, b"")

    def route_loop(self, query: dict[str, str]) -> None:
        _send(self, 302, {"Location": "/loop"}, b"")

    def route_redirect(self, query: dict[str, str]) -> None:
        headers = {"Location": query["to"]} if "to" in query else {}
        _send(self, int(query.get("status", "302")), headers, b"")

    def route_status(self, query: dict[str, str]) -> None:
        _send(self, int(query["code"]), {"Content-Type": "text/html"}, b"<p>nope</p>")

    def route_drip_headers(self, query: dict[str, str]) -> None:
        _drip(self, b"HTTP/1.1 200 OK\r\nX-Slow: ")

    def route_drip_body(self, query: dict[str, str]) -> None:
        _drip(self, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n")

    def route_sleep(self, query: dict[str, str]) -> None:
        RELEASE.wait(5)
        self.route_html(query)

    def route_huge_length(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(10**12))
        self.end_headers()
        self.wfile.write(b"x" * 1000)
        RELEASE.wait(5)  # a client that trusted the length would sit here until its timeout

    def route_sized(self, query: dict[str, str]) -> None:
        _send(self, 200, {"Content-Type": "text/plain"}, b"x" * int(query["size"]))

    def route_chunked(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        left = int(query["size"])
        while left > 0:
            piece = min(left, 16 * 1024)
            self.wfile.write(b"%x\r\n%s\r\n" % (piece, b"y" * piece))
            left -= piece
        self.wfile.write(b"0\r\n\r\n")

    def route_unsized(self, query: dict[str, str]) -> None:
        # Length given by closing the connection, as HTTP/1.0 servers do.
        self.close_connection = True
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
        )
        self.wfile.write(b"z" * int(query["size"]))

    def route_gzip(self, query: dict[str, str]) -> None:
        # Compressed although we asked for identity, as some servers do.
        body = gzip.compress(b"\0" * int(query["size"]) if "size" in query else HTML)
        _send(self, 200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, body)

    def route_brotli(self, query: dict[str, str]) -> None:
        _send(self, 200, {"Content-Type": "text/html", "Content-Encoding": "br"}, b"\x8b\x00")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup of the bind address; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-response is part of the tests


class _Server6(_Server):
    address_family = socket.AF_INET6


def _serve(httpd: _Server) -> Iterator[int]:
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Base URL of a plain HTTP test server on 127.0.0.1."""
    for port in _serve(_Server(("127.0.0.1", 0), Handler)):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server_port(server: str) -> int:
    return int(server.rsplit(":", 1)[1])


@pytest.fixture
def dials(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (address, port) urllib3 dials; the dial itself still happens."""
    seen: list[tuple[str, int]] = []

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        return _loopback_only_dial(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    return seen


@dataclass
class FakeDNS:
    """Answers for chosen names; each call to a name takes the next answer (the last repeats)."""

    fallback: Callable[..., Any]  # for names without a fake answer (numeric hosts)
    answers: dict[str, list[list[str] | Exception]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    delay: dict[str, float] = field(default_factory=dict)

    def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        if host not in self.answers:
            return self.fallback(host, port, family, type, proto, flags)
        self.lookups.append(host)
        if host in self.delay:
            RELEASE.wait(self.delay[host])
        queue = self.answers[host]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in answer
        ]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS(fallback=socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


def fetch_error(url: str, policy: FetchPolicy = STRICT) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch_url(url, policy=policy)
    assert_safe_message(info.value)
    return info.value


def assert_safe_message(error: FetchError) -> None:
    """User messages are plain sentences: no addresses, no exception text."""
    message = error.user_message
    assert message.endswith(".")
    assert message[0].isupper()
    assert not re.search(r"\d+\.\d+\.\d+|::|Error|errno|\[", message), message


# --- Happy paths --------------------------------------------------------------------------------


def test_fetches_html_with_charset(server: str) -> None:
    page = fetch_url(f"{server}/html", policy=LOOPBACK)
    assert page.url == f"{server}/html"
    assert page.content_type == "text/html"
    assert page.charset == "utf-8"
    assert page.body == HTML


def test_server_keeping_the_connection_open(server: str) -> None:
    assert fetch_url(f"{server}/keep-alive", policy=LOOPBACK).body == HTML


def test_sends_pinned_host_identity_encoding_and_user_agent(server: str, server_port: int) -> None:
    page = fetch_url(f"{server}/echo?q=a b&x=é#fragment", policy=LOOPBACK)
    seen = json.loads(page.body)
    assert seen["host"] == f"127.0.0.1:{server_port}"
    assert seen["user-agent"] == LOOPBACK.user_agent
    assert seen["accept-encoding"] == "identity"
    assert seen["path"] == "/echo?q=a%20b&x=%C3%A9"  # encoded for the wire, fragment dropped
    assert page.url == f"{server}/echo?q=a%20b&x=%C3%A9"
    assert page.charset is None


@pytest.mark.parametrize(
    ("content_type", "media_type", "charset"),
    [
        ('TEXT/HTML;Charset="ISO-8859-1"', "text/html", "iso-8859-1"),
        ("text/plain; charset=us-ascii; format=flowed", "text/plain", "us-ascii"),
        ("text/markdown", "text/markdown", None),
        ("application/xhtml+xml; charset=utf-8", "application/xhtml+xml", "utf-8"),
        ('text/html; charset="<script>"', "text/html", None),  # implausible charset dropped
    ],
)
def test_content_type_and_charset_parsing(
    server: str, content_type: str, media_type: str, charset: str | None
) -> None:
    page = fetch_url(f"{server}/typed?type={quote(content_type)}", policy=LOOPBACK)
    assert (page.content_type, page.charset) == (media_type, charset)


def test_ipv6_loopback_server() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        httpd = _Server6(("::1", 0), Handler)
    except OSError:
        pytest.skip("no IPv6 loopback")
    for port in _serve(httpd):
        page = fetch_url(f"http://[::1]:{port}/echo", policy=LOOPBACK)
        assert json.loads(page.body)["host"] == f"[::1]:{port}"
        assert page.url == f"http://[::1]:{port}/echo"


# --- Redirects ----------------------------------------------------------------------------------


def test_follows_a_redirect_chain_of_three(server: str) -> None:
    page = fetch_url(f"{server}/chain?n=3", policy=LOOPBACK)
    assert page.url == f"{server}/chain?n=0"
    assert page.body == HTML


def test_follows_exactly_max_redirects(server: str) -> None:
    assert fetch_url(f"{server}/chain?n=5", policy=LOOPBACK).url == f"{server}/chain?n=0"


def test_more_than_max_redirects_refused(server: str) -> None:
    assert fetch_error(f"{server}/chain?n=6", LOOPBACK).code == "too_many_redirects"


def test_redirect_loop_refused(server: str) -> None:
    assert fetch_error(f"{server}/loop", LOOPBACK).code == "too_many_redirects"


def test_zero_redirects_allowed(server: str) -> None:
    policy = FetchPolicy(allow_loopback=True, max_redirects=0)
    assert fetch_error(f"{server}/chain?n=1", policy).code == "too_many_redirects"


@pytest.mark.parametrize("status", [301, 303, 307, 308])
def test_follows_every_redirect_status(server: str, status: int) -> None:
    page = fetch_url(f"{server}/redirect?status={status}&to=/html", policy=LOOPBACK)
    assert page.url == f"{server}/html"


def test_redirect_without_location_is_an_http_error(server: str) -> None:
    assert fetch_error(f"{server}/redirect", LOOPBACK).code == "http_error"


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one number
        "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
        "http://10.0.0.1/",
        "http://0.0.0.0:{port}/",  # reaches the listener below on Linux, if it were allowed
        "http://[::ffff:0.0.0.0]:{port}/",
    ],
)
def test_redirect_to_refused_address_never_connects(
    server: str,
    server_port: int,
    listener: socket.socket,
    dials: list[tuple[str, int]],
    location: str,
) -> None:
    # Loopback is allowed here (the test server lives there); the targets are refused anyway.
    location = location.format(port=listener.getsockname()[1])
    error = fetch_error(f"{server}/redirect?to={location}", LOOPBACK)
    assert error.code == "blocked_address"
    assert dials == [("127.0.0.1", server_port)]
    assert_never_connected(listener)


def test_refused_redirect_target_is_observable(listener: socket.socket) -> None:
    """Control for the test above: 0.0.0.0 really does reach the listener when dialled."""
    port = listener.getsockname()[1]
    with socket.create_connection(("0.0.0.0", port), timeout=1):
        readable, _, _ = select.select([listener], [], [], 1)
    assert readable == [listener]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/"])
def test_redirect_to_other_scheme_refused(server: str, location: str) -> None:
    assert fetch_error(f"{server}/redirect?to={location}", LOOPBACK).code == "invalid_url"


# --- Time limits --------------------------------------------------------------------------------

ONE_SECOND = FetchPolicy(allow_loopback=True, timeout_seconds=1.0)


@pytest.mark.parametrize("path", ["/drip-headers", "/drip-body", "/sleep", "/slow-chain"])
def test_total_deadline(server: str, path: str) -> None:
    # Each drip arrives well within any per-read timeout; only a total deadline stops them.
    # /slow-chain spends 0.4 s per hop: each hop is fine, the sum is not.
    started = time.monotonic()
    error = fetch_error(server + path, ONE_SECOND)
    elapsed = time.monotonic() - started
    assert error.code == "timeout"
    assert 0.9 <= elapsed < 1.8


def test_slow_dns_hits_the_deadline(fake_dns: FakeDNS) -> None:
    fake_dns.answers["slow.example"] = [["93.184.215.14"]]
    fake_dns.delay["slow.example"] = 3.0
    started = time.monotonic()
    error = fetch_error("http://slow.example/", FetchPolicy(timeout_seconds=1.0))
    assert error.code == "timeout"
    assert time.monotonic() - started < 1.5


def test_deadline_interrupts_a_silent_connection(listener: socket.socket) -> None:
    """Also the control for the "never connects" tests: a fetch we allow does show up."""
    port = listener.getsockname()[1]
    started = time.monotonic()
    error = fetch_error(
        f"http://127.0.0.1:{port}/", FetchPolicy(allow_loopback=True, timeout_seconds=0.5)
    )
    assert error.code == "timeout"
    assert time.monotonic() - started < 1.2
    readable, _, _ = select.select([listener], [], [], 0)
    assert readable == [listener]


# --- Size limits --------------------------------------------------------------------------------

SMALL = FetchPolicy(allow_loopback=True, max_bytes=100_000)


def test_huge_content_length_refused_before_reading(server: str) -> None:
    started = time.monotonic()
    error = fetch_error(f"{server}/huge-length", LOOPBACK)
    assert error.code == "too_large"
    assert "10 MB" in error.user_message
    assert time.monotonic() - started < 0.5  # refused at the headers, not after a wait


@pytest.mark.parametrize("route", ["sized", "chunked", "unsized"])
def test_body_at_the_limit_is_accepted(server: str, route: str) -> None:
    page = fetch_url(f"{server}/{route}?size=100000", policy=SMALL)
    assert len(page.body) == 100_000


@pytest.mark.parametrize("route", ["sized", "chunked", "unsized"])
def test_body_over_the_limit_is_refused(server: str, route: str) -> None:
    # "sized" is refused from its Content-Length; the others while streaming.
    assert fetch_error(f"{server}/{route}?size=100001", SMALL).code == "too_large"


def test_chunked_body_far_over_the_limit_is_cut(server: str) -> None:
    assert fetch_error(f"{server}/chunked?size=3000000", SMALL).code == "too_large"


def test_unrequested_gzip_is_decoded(server: str) -> None:
    assert fetch_url(f"{server}/gzip", policy=SMALL).body == HTML


def test_gzip_bomb_refused(server: str) -> None:
    # 20 MB of zeros compress to about 20 kB, far below the limit; decoded, far above it.
    assert fetch_error(f"{server}/gzip?size=20000000", SMALL).code == "too_large"


def test_unknown_content_encoding_refused(server: str) -> None:
    assert fetch_error(f"{server}/brotli", LOOPBACK).code == "unsupported_type"


# --- Types and statuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "wording"),
    [
        ("application/pdf", "a PDF file"),
        ("image/png", "an image"),
        ("application/octet-stream", "a file download"),
        ("application/json; charset=utf-8", "JSON data"),
        ("text/css", "a web page we can import"),
    ],
)
def test_other_content_types_refused(server: str, content_type: str, wording: str) -> None:
    error = fetch_error(f"{server}/typed?type={quote(content_type)}", LOOPBACK)
    assert error.code == "unsupported_type"
    assert wording in error.user_message


def test_missing_content_type_refused(server: str) -> None:
    assert fetch_error(f"{server}/untyped", LOOPBACK).code == "unsupported_type"


@pytest.mark.parametrize("status", [403, 404, 500, 503])
def test_error_statuses(server: str, status: int) -> None:
    error = fetch_error(f"{server}/status?code={status}", LOOPBACK)
    assert error.code == "http_error"
    assert error.user_message == f"The site answered with an error ({status})."


def test_connection_refused(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there any more
    error = fetch_error(f"http://127.0.0.1:{port}/", LOOPBACK)
    assert error.code == "connection_failed"
    assert isinstance(error.__cause__, Exception)  # the detail stays available for logs


# --- SSRF: refused before any connection --------------------------------------------------------

BLOCKED = "blocked_address"
INVALID = "invalid_url"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1/", BLOCKED),
        ("http://127.0.0.1:8080/admin", BLOCKED),
        ("http://127.255.255.254/", BLOCKED),
        ("HTTP://127.0.0.1./", BLOCKED),
        ("http://localhost/", BLOCKED),
        ("http://LOCALHOST./", BLOCKED),
        ("http://api.localhost/", BLOCKED),
        ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", BLOCKED),  # full-width
        ("http://[::1]/", BLOCKED),
        ("http://[0:0:0:0:0:0:0:1]:80/", BLOCKED),
        ("http://[::ffff:127.0.0.1]/", BLOCKED),
        ("http://[::ffff:7f00:1]/", BLOCKED),
        ("http://[::127.0.0.1]/", BLOCKED),  # IPv4-compatible
        ("http://2130706433/", BLOCKED),
        ("http://0x7f000001/", BLOCKED),
        ("http://0x7f.0.0.1/", BLOCKED),
        ("http://0x7F.0x00.0x00.0x01/", BLOCKED),
        ("http://0177.0.0.1/", BLOCKED),
        ("http://017700000001/", BLOCKED),
        ("http://127.000.000.001/", BLOCKED),
        ("http://127.1/", BLOCKED),
        ("http://127.0.1/", BLOCKED),
        ("http://①②⑦.0.0.1/", BLOCKED),  # IDNA turns these into ASCII digits
        ("http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/", BLOCKED),  # full-width
        ("http://0/", BLOCKED),
        ("http://0x/", BLOCKED),  # browsers read a bare 0x as 0
        ("http://0.0.0.0/", BLOCKED),
        ("http://[::]/", BLOCKED),
        ("http://10.0.0.1/", BLOCKED),
        ("http://172.16.0.1/", BLOCKED),
        ("http://172.31.255.255/", BLOCKED),
        ("http://192.168.1.1/", BLOCKED),
        ("http://169.254.169.254/latest/meta-data/", BLOCKED),
        ("http://[fd00:ec2::254]/latest/meta-data/", BLOCKED),
        ("http://100.64.0.1/", BLOCKED),
        ("http://100.127.255.255/", BLOCKED),
        ("http://198.18.0.1/", BLOCKED),
        ("http://192.0.0.8/", BLOCKED),
        ("http://192.0.2.1/", BLOCKED),
        ("http://198.51.100.7/", BLOCKED),
        ("http://203.0.113.9/", BLOCKED),
        ("http://240.0.0.1/", BLOCKED),
        ("http://255.255.255.255/", BLOCKED),
        ("http://224.0.0.1/", BLOCKED),
        ("http://[ff02::1]/", BLOCKED),
        ("http://[fe80::1]/", BLOCKED),
        ("http://[fe80::1%25eth0]/", BLOCKED),
        ("http://[fc00::1]/", BLOCKED),
        ("http://[fec0::1]/", BLOCKED),  # site-local
        ("http://[64:ff9b::7f00:1]/", BLOCKED),  # NAT64 of 127.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/", BLOCKED),  # NAT64 of 169.254.169.254
        ("http://[2002:7f00:1::1]/", BLOCKED),  # 6to4 of 127.0.0.1
        ("http://[2002:c0a8:101::1]/", BLOCKED),  # 6to4 of 192.168.1.1
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", BLOCKED),  # Teredo
        ("http://[2001:db8::1]/", BLOCKED),
        ("ftp://example.com/", INVALID),
        ("file:///etc/passwd", INVALID),
        ("gopher://127.0.0.1:70/_HELO", INVALID),
        ("javascript:alert(1)", INVALID),
        ("data:text/html,<p>hi</p>", INVALID),
        ("dict://127.0.0.1:11211/stats", INVALID),
        ("http://user:pass@example.com/", INVALID),
        ("http://example.com@127.0.0.1/", INVALID),
        ("http://@example.com/", INVALID),
        ("http://evil.example\\@127.0.0.1/", INVALID),
        ("http:///etc/passwd", INVALID),
        ("http://", INVALID),
        ("http://:80/", INVALID),
        ("example.com", INVALID),
        ("//example.com/", INVALID),
        ("", INVALID),
        ("   ", INVALID),
        ("http://example.com/" + "a" * 3000, INVALID),
        ("http://" + "a" * 300 + ".com/", INVALID),
        ("http://" + "a" * 64 + ".com/", INVALID),
        ("http://exa mple.com/", INVALID),
        ("http://example.com\t/", INVALID),
        ("http://example.com/\r\nX-Injected: 1", INVALID),
        ("http://example.com:99999/", INVALID),
        ("http://example.com:0/", INVALID),
        ("http://example.com:-1/", INVALID),
        ("http://[::1/", INVALID),
        ("http://[127.0.0.1]/", INVALID),
        ("http://[example.com]/", INVALID),
        ("http://1.2.3.4.5/", INVALID),
        ("http://256.0.0.1/", INVALID),
        ("http://1.2.3.256/", INVALID),
        ("http://08.0.0.1/", INVALID),
        ("http://evil.0x7f/", INVALID),  # ends in a number, so it must be an address: it isn't
        ("http://127.0.0.%31/", INVALID),
        ("http://a..b/", INVALID),
    ],
)
def test_refused_before_connecting(
    url: str, code: str, dials: list[tuple[str, int]], fake_dns: FakeDNS
) -> None:
    assert fetch_error(url).code == code
    assert dials == []
    assert fake_dns.lookups == []


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/",
        "https://127.0.0.1:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f.1:{port}/",
        "http://0177.0.0.1:{port}/",
        "http://127.1:{port}/",
        "http://localhost:{port}/",
        "http://0:{port}/",
        "http://0.0.0.0:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::ffff:0.0.0.0]:{port}/",
        "http://[64:ff9b::7f00:1]:{port}/",
    ],
)
def test_refused_urls_never_reach_a_listener(listener: socket.socket, template: str) -> None:
    port = listener.getsockname()[1]
    assert fetch_error(template.format(port=port)).code == "blocked_address"
    assert_never_connected(listener)


def test_validate_url_normalises() -> None:
    target = validate_url("HTTPS://Bücher.Example.:443/a b/?q=ü#top", policy=STRICT)
    assert target.url == "https://xn--bcher-kva.example/a%20b/?q=%C3%BC"
    assert (target.scheme, target.host, target.port) == ("https", "xn--bcher-kva.example", 443)
    assert target.host_header == "xn--bcher-kva.example"
    assert target.ip_literal is None
    numeric = validate_url("http://0x8.0x8.2056:8080", policy=STRICT)
    assert numeric.url == "http://8.8.8.8:8080/"
    assert numeric.host_header == "8.8.8.8:8080"
    assert numeric.ip_literal == ipaddress.IPv4Address("8.8.8.8")


def test_policy_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        FetchPolicy(max_bytes=0)
    with pytest.raises(ValueError):
        FetchPolicy(timeout_seconds=-1)


# --- DNS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["93.184.215.14", "10.0.0.5"],  # one bad address is enough
        ["10.0.0.5", "93.184.215.14"],
        ["2606:4700::1111", "fd00::1"],
        ["93.184.215.14", "::ffff:192.168.0.1"],
        ["169.254.169.254"],
        ["fe80::1%1"],
    ],
)
def test_names_resolving_to_refused_addresses(
    fake_dns: FakeDNS, dials: list[tuple[str, int]], answer: list[str]
) -> None:
    fake_dns.answers["evil.example"] = [answer]
    assert fetch_error("http://evil.example/").code == "blocked_address"
    assert dials == []


def test_localhost_refused_without_asking_dns(fake_dns: FakeDNS) -> None:
    fake_dns.answers["localhost"] = [["93.184.215.14"]]
    assert fetch_error("http://localhost/").code == "blocked_address"
    assert fake_dns.lookups == []


def test_unknown_name(fake_dns: FakeDNS) -> None:
    fake_dns.answers["nowhere.example"] = [socket.gaierror(socket.EAI_NONAME, "Name unknown")]
    error = fetch_error("http://nowhere.example/")
    assert error.code == "connection_failed"
    assert "find" in error.user_message


def reroute_to(
    port: int, monkeypatch: pytest.MonkeyPatch, refuse: frozenset[str] = frozenset()
) -> list[tuple[str, int]]:
    """Record where urllib3 dials, then actually connect to the local test server instead."""
    seen: list[tuple[str, int]] = []

    def rerouted(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        if address[0] in refuse:
            raise ConnectionRefusedError("refused by the test")
        return _REAL_CREATE_CONNECTION(("127.0.0.1", port), *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", rerouted)
    return seen


def test_connection_is_pinned_to_the_checked_address(
    fake_dns: FakeDNS, server_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: the first answer is public, any later one would be loopback.
    fake_dns.answers["pagecast.example"] = [["93.184.215.14"], ["127.0.0.1"]]
    seen = reroute_to(server_port, monkeypatch)
    page = fetch_url(f"http://pagecast.example:{server_port}/echo", policy=STRICT)
    assert seen == [("93.184.215.14", server_port)]
    assert fake_dns.lookups == ["pagecast.example"]
    assert json.loads(page.body)["host"] == f"pagecast.example:{server_port}"
    assert page.url == f"http://pagecast.example:{server_port}/echo"


def test_next_checked_address_tried_when_one_fails(
    fake_dns: FakeDNS, server_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns.answers["pagecast.example"] = [["93.184.215.14", "2606:4700::1111"]]
    seen = reroute_to(server_port, monkeypatch, refuse=frozenset({"93.184.215.14"}))
    fetch_url(f"http://pagecast.example:{server_port}/html", policy=STRICT)
    assert seen == [("93.184.215.14", server_port), ("2606:4700::1111", server_port)]


def test_every_redirect_hop_is_resolved_again(
    fake_dns: FakeDNS, server_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns.answers["first.example"] = [["93.184.215.14"]]
    fake_dns.answers["second.example"] = [["10.1.2.3"]]  # a private address behind a public name
    reroute_to(server_port, monkeypatch)
    url = f"http://first.example:{server_port}/redirect?to=http://second.example/"
    assert fetch_error(url).code == "blocked_address"
    assert fake_dns.lookups == ["first.example", "second.example"]


# --- HTTPS --------------------------------------------------------------------------------------


@dataclass
class TLSServer:
    port: int
    ca_file: Path
    sni: list[str | None]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSServer]:
    pytest.importorskip("cryptography")
    ca_file, cert_file, key_file = _make_certificates(
        tmp_path_factory.mktemp("tls"), "pagecast.test"
    )
    sni: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def record_sni(_sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: object) -> None:
        sni.append(name)

    context.sni_callback = record_sni
    httpd = _Server(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    for port in _serve(httpd):
        yield TLSServer(port=port, ca_file=ca_file, sni=sni)


def _make_certificates(directory: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``hostname`` signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pagecast test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def trust_test_ca(tls_server: TLSServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def context() -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(tls_server.ca_file))

    monkeypatch.setattr(safe_fetch, "_tls_context", context)


def test_https_pins_the_address_and_verifies_the_name(
    tls_server: TLSServer, trust_test_ca: None, fake_dns: FakeDNS, dials: list[tuple[str, int]]
) -> None:
    fake_dns.answers["pagecast.test"] = [["127.0.0.1"]]
    url = f"https://pagecast.test:{tls_server.port}/echo"
    page = fetch_url(url, policy=LOOPBACK)
    assert page.url == url
    assert json.loads(page.body)["host"] == f"pagecast.test:{tls_server.port}"
    assert tls_server.sni[-1] == "pagecast.test"  # SNI carries the name, the socket the IP
    assert dials == [("127.0.0.1", tls_server.port)]


def test_https_certificate_for_another_name_refused(
    tls_server: TLSServer, trust_test_ca: None, fake_dns: FakeDNS
) -> None:
    fake_dns.answers["other.test"] = [["127.0.0.1"]]
    error = fetch_error(f"https://other.test:{tls_server.port}/html", LOOPBACK)
    assert error.code == "connection_failed"
    assert "secure connection" in error.user_message


def test_https_untrusted_certificate_refused(tls_server: TLSServer, fake_dns: FakeDNS) -> None:
    fake_dns.answers["pagecast.test"] = [["127.0.0.1"]]
    error = fetch_error(f"https://pagecast.test:{tls_server.port}/html", LOOPBACK)
    assert error.code == "connection_failed"
    assert "secure connection" in error.user_message


# --- Properties ---------------------------------------------------------------------------------

REFUSED_V4 = [
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@st.composite
def v4_in(draw: st.DrawFn, networks: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Address:
    network = draw(st.sampled_from(networks))
    return network[draw(st.integers(0, network.num_addresses - 1))]


def _number(draw: st.DrawFn, value: int) -> str:
    style = draw(st.sampled_from(["dec", "hex", "HEX", "oct"]))
    if style == "dec":
        return str(value)
    if style == "hex":
        return f"0x{value:x}"
    if style == "HEX":
        return f"0X{value:X}"
    return f"0{value:o}"


@st.composite
def numeric_spelling(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    """One of the many ways inet_aton and browsers accept to write ``address``."""
    octets = address.packed
    numbers = draw(
        st.sampled_from(
            [
                list(octets),
                [octets[0], octets[1], int.from_bytes(octets[2:], "big")],
                [octets[0], int.from_bytes(octets[1:], "big")],
                [int(address)],
            ]
        )
    )
    return ".".join(_number(draw, number) for number in numbers)


@st.composite
def ipv6_wrapping(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    high, low = int(address) >> 16, int(address) & 0xFFFF
    return draw(
        st.sampled_from(
            [
                f"[::ffff:{address}]",
                f"[::ffff:{high:x}:{low:x}]",
                f"[64:ff9b::{address}]",
                f"[2002:{high:x}:{low:x}::1]",
                f"[::{address}]",
            ]
        )
    )


def validate_and_resolve(url: str, policy: FetchPolicy) -> list[IPAddress]:
    target = validate_url(url, policy=policy)
    return resolve_and_check(target.host, target.port, policy=policy)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_refused_ipv4_refused_in_every_spelling(data: st.DataObject) -> None:
    address = data.draw(v4_in(REFUSED_V4))
    host = data.draw(st.one_of(numeric_spelling(address), ipv6_wrapping(address)))
    suffix = data.draw(st.sampled_from(["", "."])) if not host.startswith("[") else ""
    with pytest.raises(FetchError) as info:
        validate_and_resolve(f"http://{host}{suffix}:8080/", STRICT)
    assert info.value.code == "blocked_address"
    # resolve_and_check judges raw host text the same way, without validate_url's help.
    with pytest.raises(FetchError) as info:
        resolve_and_check(host, 80, policy=STRICT)
    assert info.value.code == "blocked_address"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_numeric_hosts_mean_what_inet_aton_says(data: st.DataObject) -> None:
    address = data.draw(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
    spelling = data.draw(numeric_spelling(address))
    assert socket.inet_aton(spelling) == address.packed  # the C library agrees on the meaning
    if is_public_address(address):
        assert validate_and_resolve(f"http://{spelling}/", STRICT) == [address]
        assert validate_url(f"http://{spelling}/", policy=STRICT).host == str(address)
    else:
        with pytest.raises(FetchError):
            validate_url(f"http://{spelling}/", policy=STRICT)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=20))
def test_never_treats_an_inet_aton_address_as_a_name(text: str) -> None:
    """Whenever the C library would read a host as an IPv4 address, so do we (or we refuse)."""
    try:
        libc_reading: ipaddress.IPv4Address | None = ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        libc_reading = None
    try:
        target = validate_url(f"http://{text}/", policy=FetchPolicy(allow_loopback=True))
    except FetchError as error:
        refusal: str | None = error.code
    else:
        refusal = None
        if libc_reading is not None:
            assert target.ip_literal == libc_reading
    assert refusal in {None, "invalid_url", "blocked_address"}


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Where is_public_address is deliberately stricter than the standard library's flags.
STRICTER_V4 = [ipaddress.IPv4Network(n) for n in ("192.0.0.0/24", "192.88.99.0/24")]
STRICTER_V6 = [ipaddress.IPv6Network(n) for n in ("2001::/23", "3fff::/20")]
INTERESTING_V6 = [
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",
        "::ffff:0:0/96",
        "::ffff:0:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/32",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "2000::/3",
        "2400::/12",
        "2600::/12",
        "2a00::/12",
        "::/0",
    )
]


def flags_say_public(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def reference_v4(address: ipaddress.IPv4Address) -> bool:
    return flags_say_public(address) and not any(address in net for net in STRICTER_V4)


def reference_v6(address: ipaddress.IPv6Address) -> bool:
    """The standard library's flags, plus the rule that IPv4-embedding forms are judged by the
    IPv4 address they lead to."""
    embedded = address.ipv4_mapped or address.sixtofour
    if address in NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if embedded is not None:
        return reference_v4(embedded)
    return (
        flags_say_public(address)
        and not address.is_site_local
        and not any(address in net for net in STRICTER_V6)
    )


@st.composite
def v6_addresses(draw: st.DrawFn) -> ipaddress.IPv6Address:
    network = draw(st.sampled_from(INTERESTING_V6))
    offset = draw(st.integers(0, network.num_addresses - 1))
    if network.prefixlen == 96 and draw(st.booleans()):
        # Put an interesting IPv4 address in the low bits.
        offset = int(draw(st.one_of(v4_in(REFUSED_V4), st.just(ipaddress.IPv4Address("8.8.8.8")))))
    return network[offset]


@settings(max_examples=1000, deadline=None)
@given(address=v6_addresses())
def test_ipv6_verdict_matches_reference(address: ipaddress.IPv6Address) -> None:
    assert is_public_address(address) == reference_v6(address)
    if is_public_address(address):
        assert flags_say_public(address) or address.ipv4_mapped or address in NAT64


@settings(max_examples=500, deadline=None)
@given(address=st.one_of(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address), v4_in(REFUSED_V4)))
def test_ipv4_verdict_matches_reference(address: ipaddress.IPv4Address) -> None:
    assert is_public_address(address) == reference_v4(address)
    loopback = address in ipaddress.IPv4Network("127.0.0.0/8")
    assert is_public_address(address, allow_loopback=True) == (reference_v4(address) or loopback)
