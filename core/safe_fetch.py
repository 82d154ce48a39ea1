"""Fetch web pages at URLs given by users, without letting them reach our own network.

Importing a page by URL means the server makes requests to addresses chosen by strangers. Done
naively that is server-side request forgery: reading cloud metadata (169.254.169.254), admin
pages on localhost, or services on the private network. DESIGN.md ("Isolation of untrusted
work") asks for one careful fetcher; this is it. How it stays safe:

* The URL is parsed strictly: http or https only, no credentials, and the host normalised the
  way a browser does it, including IDNA and the odd numeric IPv4 forms (``2130706433``,
  ``0x7f.1``, ``0177.0.0.1``) that the C resolver also accepts.
* The host is resolved once and *every* address is checked; one refused address refuses the URL.
* The connection goes to the checked address itself. The host name only travels in the Host
  header, SNI and the certificate check, so DNS cannot change its answer between check and
  connect (DNS rebinding).
* Redirects are followed by hand and every hop goes through all of the above again.
* The whole fetch has one deadline, enforced even against servers that drip bytes, and the body
  is capped in size, compressed or not.

Pure Python, no Django: callers build a :class:`FetchPolicy` from their settings.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias
from urllib.parse import quote, urljoin, urlsplit

import urllib3.exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import HTTPResponse
from urllib3.util.ssl_match_hostname import CertificateError

__all__ = [
    "FetchError",
    "FetchPolicy",
    "FetchedPage",
    "IPAddress",
    "ParsedTarget",
    "fetch_url",
    "is_public_address",
    "resolve_and_check",
    "validate_url",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
FetchErrorCode: TypeAlias = Literal[
    "invalid_url",
    "blocked_address",
    "timeout",
    "too_large",
    "unsupported_type",
    "too_many_redirects",
    "http_error",
    "connection_failed",
]

MAX_URL_LENGTH: Final = 2048
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_READ_CHUNK: Final = 64 * 1024


# --- Public types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one fetch; built by the caller from settings."""

    max_bytes: int = 10 * 1024 * 1024
    timeout_seconds: float = 15.0  # total wall-clock budget for the whole fetch, redirects included
    max_redirects: int = 5
    allowed_content_types: frozenset[str] = frozenset(
        {"text/html", "application/xhtml+xml", "text/plain", "text/markdown"}
    )
    allow_loopback: bool = False  # tests only; production settings forbid it
    user_agent: str = "Pagecast/1.0 (+document import)"

    def __post_init__(self) -> None:
        # Fail loudly on a bad setting rather than fetching with no limit at all.
        if self.max_bytes <= 0 or self.timeout_seconds <= 0 or self.max_redirects < 0:
            raise ValueError("FetchPolicy limits must be positive")


@dataclass(frozen=True)
class FetchedPage:
    url: str  # final URL after redirects
    content_type: str  # media type without parameters, lower-case
    charset: str | None
    body: bytes


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed :func:`validate_url`, normalised and split into what a request needs."""

    url: str  # normalised: no credentials, no fragment, punycode host, canonical IP literals
    scheme: Literal["http", "https"]
    host: str  # lower-case ASCII, no brackets, no trailing dot; IP literals in canonical form
    port: int
    request_target: str  # path and query, percent-encoded, as sent on the request line
    host_header: str  # host[:port] as sent in the Host header (brackets around IPv6)
    ip_literal: IPAddress | None  # set when the URL names an address rather than a host name


_MESSAGES: Final[dict[FetchErrorCode, str]] = {
    "invalid_url": "That link isn't a valid web address.",
    "blocked_address": (
        "That link points to a private or local network address, so it can't be imported."
    ),
    "timeout": "The site took too long to respond.",
    "too_large": "The page is too large to import.",
    "unsupported_type": "This link doesn't point to a web page we can import.",
    "too_many_redirects": "The link redirected too many times.",
    "http_error": "The site answered with an error.",
    "connection_failed": "We couldn't connect to the site.",
}
_MSG_NOT_FOUND: Final = "We couldn't find that site. Please check the address."
_MSG_TLS: Final = "We couldn't make a secure connection to the site."


class FetchError(Exception):
    """A fetch that failed for a reason we can tell the user.

    ``code`` is stable for programs. ``user_message`` is one sentence safe to show anyone: it
    never carries exception text or addresses. The low-level exception, when there is one, is
    chained as ``__cause__`` so logs keep the detail.
    """

    def __init__(self, code: FetchErrorCode, user_message: str | None = None) -> None:
        self.code: FetchErrorCode = code
        self.user_message: str = user_message or _MESSAGES[code]
        super().__init__(self.user_message)


# --- Which addresses are public ----------------------------------------------------------------

_LOOPBACK_V4: Final = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6: Final = ipaddress.IPv6Address("::1")
# Refused on top of what the ipaddress flags say: the flags differ between Python releases
# (100.64.0.0/10, for one, is neither "private" nor "global" in some), so the list we rely on
# is written out here.
_REFUSED_V4: Final = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"; connecting to 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",  # private (RFC 1918)
        "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
        "169.254.0.0/16",  # link-local, where cloud metadata services live
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including broadcast 255.255.255.255
    )
)
# Only 2000::/3 is routed on the Internet. Requiring it refuses in one go the unspecified and
# loopback addresses, IPv4-compatible (::a.b.c.d) and IPv4-translated forms, unique-local
# fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8 and every reserved
# block. The forms that embed an IPv4 address are judged by that address before this check.
_GLOBAL_UNICAST_V6: Final = ipaddress.IPv6Network("2000::/3")
_REFUSED_V6: Final = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments: Teredo 2001::/32 (a tunnel whose far end is
        # an arbitrary, obfuscated IPv4 address), benchmarking, ORCHID
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_NAT64_V6: Final = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)


def is_public_address(addr: IPAddress, *, allow_loopback: bool = False) -> bool:
    """True if ``addr`` is an ordinary Internet address that users may make us fetch from."""
    if isinstance(addr, ipaddress.IPv4Address):
        return _is_public_v4(addr, allow_loopback=allow_loopback)
    return _is_public_v6(addr, allow_loopback=allow_loopback)


def _is_public_v4(addr: ipaddress.IPv4Address, *, allow_loopback: bool) -> bool:
    if addr in _LOOPBACK_V4:
        return allow_loopback
    if any(addr in net for net in _REFUSED_V4):
        return False
    return _flags_say_global(addr)


def _is_public_v6(addr: ipaddress.IPv6Address, *, allow_loopback: bool) -> bool:
    if addr.scope_id is not None:  # a zone index only means something on a local link
        return False
    if addr == _LOOPBACK_V6:
        return allow_loopback
    embedded = _embedded_ipv4(addr)
    if embedded is not None:
        # These forms reach the IPv4 host they embed (dual-stack sockets, NAT64 gateways, 6to4
        # relays), so ::ffff:127.0.0.1 is exactly as local as 127.0.0.1.
        return _is_public_v4(embedded, allow_loopback=allow_loopback)
    if addr not in _GLOBAL_UNICAST_V6 or any(addr in net for net in _REFUSED_V6):
        return False
    return _flags_say_global(addr)


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return addr.ipv4_mapped
    if addr in _NAT64_V6:  # 64:ff9b::a.b.c.d
        return ipaddress.IPv4Address(int(addr) & 0xFFFF_FFFF)
    return addr.sixtofour  # 2002:aabb:ccdd::/48, or None


def _flags_say_global(addr: IPAddress) -> bool:
    # A second opinion from the standard library, whose tables follow the IANA registries.
    return addr.is_global and not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


# --- URL validation (no DNS) -------------------------------------------------------------------

_HOSTNAME_RE: Final = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_MAX_HOSTNAME_LENGTH: Final = 253
_IPV4_DIGITS: Final = {16: "0123456789abcdef", 10: "0123456789", 8: "01234567"}
# Characters left alone when re-encoding path and query: everything that is already legal in a
# URL, including "%" so existing escapes survive. Spaces and non-ASCII text get escaped.
_PATH_SAFE: Final = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE: Final = _PATH_SAFE + "?"


def validate_url(url: str, *, policy: FetchPolicy) -> ParsedTarget:
    """Check the shape of ``url`` and normalise it, without any DNS lookup.

    Refuses (``invalid_url``) anything but http/https, credentials, missing or malformed hosts,
    bad ports and overlong URLs. IP literals in any spelling are refused here already
    (``blocked_address``) when not public, as is ``localhost``; host names are checked by
    :func:`resolve_and_check`.
    """
    text = url.strip()
    if not text:
        raise FetchError("invalid_url")
    if len(text) > MAX_URL_LENGTH:
        raise FetchError("invalid_url", "That link is too long.")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        # urlsplit silently drops tabs and newlines; we would rather not guess what was meant.
        raise FetchError("invalid_url")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        raise FetchError("invalid_url") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError("invalid_url", "Only web links (http or https) can be imported.")
    if "@" in parts.netloc:
        # Credentials would be sent to the site, and user@host is a classic way to disguise
        # where a link really goes.
        raise FetchError("invalid_url", "Links with a user name or password can't be imported.")
    if "\\" in parts.netloc or not parts.hostname or port == 0:
        raise FetchError("invalid_url")

    host, literal = _canonical_host(parts.hostname)
    if literal is not None and not is_public_address(literal, allow_loopback=policy.allow_loopback):
        raise FetchError("blocked_address")
    if literal is None and not policy.allow_loopback and _is_localhost_name(host):
        raise FetchError("blocked_address")

    effective_port = port or _DEFAULT_PORTS[scheme]
    request_target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        request_target += "?" + quote(parts.query, safe=_QUERY_SAFE)
    host_for_url = f"[{host}]" if ":" in host else host
    host_header = host_for_url
    if effective_port != _DEFAULT_PORTS[scheme]:
        host_header += f":{effective_port}"
    normalised = f"{scheme}://{host_header}{request_target}"
    if len(normalised) > MAX_URL_LENGTH:
        raise FetchError("invalid_url", "That link is too long.")
    return ParsedTarget(
        url=normalised,
        scheme="https" if scheme == "https" else "http",
        host=host,
        port=effective_port,
        request_target=request_target,
        host_header=host_header,
        ip_literal=literal,
    )


def _canonical_host(raw: str) -> tuple[str, IPAddress | None]:
    """Normalise a URL host; return it with its address when it is an IP literal.

    The text of a host proves nothing: "2130706433", "0x7f.1" and "①②⑦.0.0.1" all mean
    127.0.0.1 to a browser or to the C resolver. So hosts are decoded the way the WHATWG URL
    standard does it, and numeric ones become addresses that are checked as such.
    """
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    if ":" in raw:  # only IPv6 literals can contain a colon once the port is split off
        try:
            ipv6 = ipaddress.IPv6Address(raw)
        except ValueError as exc:
            raise FetchError("invalid_url") from exc
        return str(ipv6), ipv6
    name = _ascii_hostname(raw)
    ipv4 = _parse_ipv4_host(name)
    if ipv4 is not None:
        return str(ipv4), ipv4
    return name, None


def _ascii_hostname(raw: str) -> str:
    try:
        # IDNA maps full-width digits and dots to ASCII too, which is why numeric parsing comes
        # after this step and not before.
        name = raw.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise FetchError("invalid_url") from exc
    name = name.removesuffix(".")  # "example.com." is the same host
    if len(name) > _MAX_HOSTNAME_LENGTH or not _HOSTNAME_RE.fullmatch(name):
        raise FetchError("invalid_url")
    return name


def _parse_ipv4_host(name: str) -> ipaddress.IPv4Address | None:
    """IPv4 parsing as in the WHATWG URL standard (and inet_aton): 1 to 4 parts in decimal,
    octal (leading 0) or hex (0x); the last part fills the remaining bytes. Returns None for
    ordinary host names; a host that ends in a number but is no valid address is refused."""
    labels = name.split(".")
    if not (labels[-1].isdigit() or _ipv4_number(labels[-1]) is not None):
        return None
    numbers = [_ipv4_number(label) for label in labels]
    if len(numbers) > 4 or any(number is None for number in numbers):
        raise FetchError("invalid_url")
    values = [number for number in numbers if number is not None]
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (5 - len(values)):
        raise FetchError("invalid_url")
    address = last
    for index, value in enumerate(head):
        address += value << (8 * (3 - index))
    return ipaddress.IPv4Address(address)


def _ipv4_number(label: str) -> int | None:
    if label.startswith("0x"):
        radix, digits = 16, label[2:]
    elif len(label) > 1 and label.startswith("0"):
        radix, digits = 8, label[1:]
    else:
        radix, digits = 10, label
    if not digits:
        return 0 if radix == 16 else None  # browsers read a bare "0x" as zero
    # Checked by hand: int() would also accept "1_000", signs and spaces.
    if any(char not in _IPV4_DIGITS[radix] for char in digits):
        return None
    return int(digits, radix)


def _is_localhost_name(name: str) -> bool:
    # RFC 6761: localhost and everything under it is the local machine, whatever DNS says.
    return name == "localhost" or name.endswith(".localhost")


# --- Resolution --------------------------------------------------------------------------------


def resolve_and_check(
    host: str, port: int, *, policy: FetchPolicy, timeout: float | None = None
) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, refusing if *any* of them is not public.

    One bad address is enough: a name with both a public and a private record could be
    connected to either. The caller must connect to one of the returned addresses and must
    not look the name up again. ``timeout`` bounds the lookup (default: the policy's budget).
    """
    if not 0 < port < 65536:
        raise FetchError("invalid_url")
    name, literal = _canonical_host(host)
    if literal is not None:
        addresses = [literal]
    else:
        if not policy.allow_loopback and _is_localhost_name(name):
            raise FetchError("blocked_address")
        budget = policy.timeout_seconds if timeout is None else timeout
        addresses = _lookup(name, port, timeout=budget)
    if not all(is_public_address(a, allow_loopback=policy.allow_loopback) for a in addresses):
        raise FetchError("blocked_address")
    return addresses


def _lookup(name: str, port: int, *, timeout: float) -> list[IPAddress]:
    """socket.getaddrinfo with a time limit.

    getaddrinfo has no timeout of its own, so it runs in a helper thread that we stop waiting
    for at the deadline. A stuck lookup then costs an idle daemon thread until the resolver
    gives up, instead of the caller's whole time budget.
    """
    outcome: list[list[IPAddress] | Exception] = []

    def run() -> None:
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
            outcome.append(_addresses_from(infos))
        except Exception as exc:  # handed over to the waiting thread below
            outcome.append(exc)

    worker = threading.Thread(target=run, name="safe-fetch-dns", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    if not outcome:
        raise FetchError("timeout")
    result = outcome[0]
    if isinstance(result, FetchError):
        raise result
    if isinstance(result, Exception):
        raise FetchError("connection_failed", _MSG_NOT_FOUND) from result
    if not result:
        raise FetchError("connection_failed", _MSG_NOT_FOUND)
    return result


def _addresses_from(
    infos: Iterable[tuple[object, object, object, object, tuple[object, ...]]],
) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        host = sockaddr[0] if sockaddr else None
        try:
            if not isinstance(host, str):
                raise ValueError("not an IP socket address")
            address = ipaddress.ip_address(host)  # keeps an IPv6 zone, which is then refused
        except ValueError as exc:
            raise FetchError("blocked_address") from exc  # unknown kinds of address: refuse
        if address not in addresses:
            addresses.append(address)
    return addresses


# --- Fetching ----------------------------------------------------------------------------------


def fetch_url(url: str, *, policy: FetchPolicy) -> FetchedPage:
    """Fetch ``url`` under ``policy``: validated, resolved, pinned, bounded in time and size.

    Raises :class:`FetchError` for every failure the user could cause or should hear about.
    """
    deadline = time.monotonic() + policy.timeout_seconds
    guard = _DeadlineGuard(deadline)
    try:
        current = url
        for _hop in range(policy.max_redirects + 1):
            # Every hop starts from scratch: a public page may redirect to 169.254.169.254.
            target = validate_url(current, policy=policy)
            addresses = resolve_and_check(
                target.host, target.port, policy=policy, timeout=_remaining(deadline)
            )
            outcome = _fetch_once(target, addresses, policy=policy, deadline=deadline, guard=guard)
            if isinstance(outcome, FetchedPage):
                return outcome
            current = urljoin(target.url, outcome)
        raise FetchError("too_many_redirects")
    finally:
        guard.close()


def _fetch_once(
    target: ParsedTarget,
    addresses: list[IPAddress],
    *,
    policy: FetchPolicy,
    deadline: float,
    guard: _DeadlineGuard,
) -> FetchedPage | str:
    """One request. Returns the page, or the raw Location of a redirect."""
    with _network_errors(deadline), contextlib.ExitStack() as cleanup:
        cleanup.callback(guard.release)
        conn = _connect(target, addresses, deadline=deadline, guard=guard)
        cleanup.callback(conn.close)
        response = _send_request(conn, target, policy=policy, deadline=deadline)
        cleanup.callback(response.close)  # it may hold the socket even after conn.close()
        # Once the guard has cut the connection, what we read may just end early and look
        # complete (headers ended by EOF, a close-delimited body), so it counts as a timeout.
        guard.raise_if_expired()
        location = _redirect_location(response)
        if location is not None:
            return location  # the body of a redirect is never read
        _check_status(response.status)
        media_type, charset = _check_content_type(response, policy=policy)
        body = _read_body(conn, response, policy=policy, deadline=deadline)
        guard.raise_if_expired()
    return FetchedPage(url=target.url, content_type=media_type, charset=charset, body=body)


def _connect(
    target: ParsedTarget, addresses: list[IPAddress], *, deadline: float, guard: _DeadlineGuard
) -> _GuardedHTTPConnection:
    """Connect to the first reachable checked address (never to the host name)."""
    for index, address in enumerate(addresses):
        # Share the time left between the addresses still to try, so one address that
        # swallows packets doesn't use up the budget of those after it.
        timeout = _remaining(deadline) / (len(addresses) - index)
        conn = _new_connection(target, address, timeout=timeout, guard=guard)
        try:
            conn.connect()
        except _NETWORK_ERRORS:
            conn.close()
            if index == len(addresses) - 1 or time.monotonic() >= deadline:
                raise
            continue
        return conn
    raise FetchError("connection_failed")  # not reached: resolution never returns no address


def _new_connection(
    target: ParsedTarget, address: IPAddress, *, timeout: float, guard: _DeadlineGuard
) -> _GuardedHTTPConnection:
    # Connection objects rather than pools: the deadline guard must get hold of the socket
    # before the TLS handshake and the response headers, and a one-shot fetch has no use for
    # pooling or urllib3's retries.
    conn: _GuardedHTTPConnection
    if target.scheme == "https":
        conn = _GuardedHTTPSConnection(
            str(address),
            target.port,
            timeout=timeout,
            server_hostname=target.host,  # SNI for the name, not the IP we dial
            assert_hostname=target.host,  # the certificate must match the name too
            ssl_context=_tls_context(),
            cert_reqs="CERT_REQUIRED",
        )
    else:
        conn = _GuardedHTTPConnection(str(address), target.port, timeout=timeout)
    conn.deadline_guard = guard
    return conn


def _tls_context() -> ssl.SSLContext:
    """A verifying TLS context: certifi's CA bundle when installed, else the system store.

    A fresh one per connection, because urllib3 adjusts ``check_hostname`` on the context it
    is given.
    """
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _send_request(
    conn: HTTPConnection, target: ParsedTarget, *, policy: FetchPolicy, deadline: float
) -> HTTPResponse:
    conn.timeout = _remaining(deadline)
    headers = {
        "Host": target.host_header,  # the name we checked, while the socket goes to its IP
        "User-Agent": policy.user_agent,
        "Accept": ", ".join(sorted(policy.allowed_content_types)),
        # No compression asked for: nothing to decompress, so no decompression bomb. Servers
        # that compress anyway are decoded under the same size cap (see _BodyDecoder).
        "Accept-Encoding": "identity",
        "Connection": "close",
    }
    conn.request(
        "GET",
        target.request_target,
        headers=headers,
        preload_content=False,
        decode_content=False,
    )
    conn.timeout = _remaining(deadline)
    return conn.getresponse()


def _redirect_location(response: HTTPResponse) -> str | None:
    if response.status not in _REDIRECT_STATUSES:
        return None
    locations = response.headers.getlist("Location")
    if len(locations) != 1 or not locations[0].strip():
        raise FetchError("http_error", "The site sent a redirect without a usable destination.")
    return locations[0].strip()


def _check_status(status: int) -> None:
    if 200 <= status < 300:
        return
    if status >= 400:
        raise FetchError("http_error", f"The site answered with an error ({status}).")
    raise FetchError("http_error", f"The site gave an answer we can't use ({status}).")


# --- Content type ------------------------------------------------------------------------------

_CHARSET_RE: Final = re.compile(r"[a-z0-9][a-z0-9._:+-]{0,39}")
_TYPE_NAMES: Final = {
    "application/pdf": "a PDF file",
    "application/epub+zip": "an e-book",
    "application/json": "JSON data",
    "application/zip": "a ZIP archive",
    "application/octet-stream": "a file download",
    "application/msword": "a Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "a Word document",
}
_TYPE_FAMILY_NAMES: Final = {"image": "an image", "audio": "an audio file", "video": "a video"}


def _check_content_type(response: HTTPResponse, *, policy: FetchPolicy) -> tuple[str, str | None]:
    media_type, charset = _parse_content_type(response.headers.get("Content-Type"))
    allowed = {allowed_type.lower() for allowed_type in policy.allowed_content_types}
    if media_type not in allowed:
        raise FetchError("unsupported_type", _unsupported_type_message(media_type))
    return media_type, charset


def _parse_content_type(value: str | None) -> tuple[str, str | None]:
    """Split "text/html; charset=UTF-8" into ("text/html", "utf-8")."""
    if not value:
        return "", None
    media_type, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, raw_value = param.partition("=")
        if name.strip().lower() == "charset":
            candidate = raw_value.strip().strip("\"'").strip().lower()
            # Only plausible charset names get through: callers hand this to codecs.lookup().
            charset = candidate if _CHARSET_RE.fullmatch(candidate) else None
    return media_type.strip().lower(), charset


def _unsupported_type_message(media_type: str) -> str:
    name = _TYPE_NAMES.get(media_type) or _TYPE_FAMILY_NAMES.get(media_type.partition("/")[0])
    if name is None:
        return _MESSAGES["unsupported_type"]
    return f"This link points to {name}, not a web page."


# --- Body --------------------------------------------------------------------------------------


def _read_body(
    conn: _GuardedHTTPConnection, response: HTTPResponse, *, policy: FetchPolicy, deadline: float
) -> bytes:
    """Stream the body under the size cap and the deadline."""
    declared = response.length_remaining  # from Content-Length; None when chunked or absent
    if declared is not None and declared > policy.max_bytes:
        raise _too_large(policy)  # refuse early; the length is still re-checked while reading
    decoder = _BodyDecoder(response.headers.get("Content-Encoding"), policy=policy)
    body = bytearray()
    while True:
        # A socket timeout bounds one recv(), not the response, so the budget is re-applied
        # before every read; _DeadlineGuard covers reads that block inside http.client.
        _set_read_timeout(conn.reading_socket, _remaining(deadline))
        # read1 returns after at most one recv(); read(n) would keep waiting for n bytes.
        chunk = response.read1(_READ_CHUNK, decode_content=False)
        if not chunk:
            break
        body += decoder.feed(chunk)
    body += decoder.finish()
    return bytes(body)


def _set_read_timeout(sock: socket.socket | None, seconds: float) -> None:
    # http.client closes the socket for good once it has read a whole body; then there is
    # nothing left to time out (and settimeout would fail on the closed descriptor).
    if sock is not None and sock.fileno() != -1:
        sock.settimeout(seconds)


class _BodyDecoder:
    """Counts the body and undoes gzip/deflate, both under ``max_bytes``.

    We ask for no compression, but a server may compress anyway. Decompressing with a
    ``max_length`` keeps a 50 kB gzip of 50 GB of zeros from ever existing in memory.
    """

    def __init__(self, content_encoding: str | None, *, policy: FetchPolicy) -> None:
        encoding = (content_encoding or "").strip().lower()
        self._policy = policy
        self._raw_size = 0
        self._size = 0
        self._inflater: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            # MAX_WBITS | 32 accepts both the gzip and the zlib header.
            self._inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)
        elif encoding not in ("", "identity"):
            raise FetchError(
                "unsupported_type", "The site sent the page in a compressed form we can't read."
            )

    def feed(self, data: bytes) -> bytes:
        self._raw_size += len(data)
        if self._raw_size > self._policy.max_bytes:
            raise _too_large(self._policy)
        if self._inflater is None:
            return self._count(data)
        room = self._policy.max_bytes - self._size + 1  # one byte over proves "too large"
        try:
            return self._count(self._inflater.decompress(data, room))
        except zlib.error as exc:
            raise FetchError(
                "unsupported_type", "The site sent a page we couldn't decode."
            ) from exc

    def finish(self) -> bytes:
        if self._inflater is None:
            return b""
        # Input left unconsumed would have meant output over the cap, already refused, so
        # flush() only empties the small internal buffer.
        return self._count(self._inflater.flush())

    def _count(self, data: bytes) -> bytes:
        self._size += len(data)
        if self._size > self._policy.max_bytes:
            raise _too_large(self._policy)
        return data


def _too_large(policy: FetchPolicy) -> FetchError:
    megabytes = policy.max_bytes / (1024 * 1024)
    limit = f"{megabytes:.3g} MB" if megabytes >= 1 else f"{policy.max_bytes // 1024} kB"
    return FetchError("too_large", f"The page is too large to import (the limit is {limit}).")


# --- Time and errors ---------------------------------------------------------------------------


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timeout")
    return left


class _DeadlineGuard:
    """Cuts the connection when the fetch deadline passes.

    Socket timeouts bound each recv(), not a whole response: http.client reads the status line
    and headers with readline(), which keeps calling recv() while bytes trickle in, so a server
    sending a byte a second could hold a worker for hours. A timer that shuts the socket down
    at the deadline makes any blocked read or TLS handshake return at once.

    It works on dup()s of the sockets, which it owns until :meth:`release`: shutdown() on a
    dup ends the shared connection, and no file descriptor number is touched after someone
    else may have closed and reused it.
    """

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._closed = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._closed:
                return
            dup = sock.dup()
            self._sockets.append(dup)
            if self._expired:
                _shutdown(dup)

    def raise_if_expired(self) -> None:
        with self._lock:
            if self._expired:
                raise FetchError("timeout")

    def release(self) -> None:
        """Forget the sockets of a finished request (closing our dups lets the connection end)."""
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
        self.release()

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer: nothing left to stop
        sock.shutdown(socket.SHUT_RDWR)


class _GuardedHTTPConnection(HTTPConnection):
    """urllib3's connection, with its socket handed to the deadline guard."""

    deadline_guard: _DeadlineGuard | None = None
    reading_socket: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # the TCP socket, before any TLS
        if self.deadline_guard is not None:
            self.deadline_guard.watch(sock)
        return sock

    def connect(self) -> None:
        super().connect()
        # http.client lets go of self.sock as soon as a "Connection: close" response arrives,
        # yet goes on reading the body from this same socket object: keep it to set timeouts.
        self.reading_socket = self.sock


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    """The same for HTTPS; the guard watches the TCP socket under the TLS layer."""


# Everything the network, TLS or HTTP parsing can throw at us. ValueError is included because
# urllib3's certificate-name mismatch and some closed-socket paths raise it.
_NETWORK_ERRORS: Final = (
    OSError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    ValueError,
)


@contextlib.contextmanager
def _network_errors(deadline: float) -> Iterator[None]:
    """Turn low-level failures into FetchError with a safe sentence, chaining the original."""
    try:
        yield
    except _NETWORK_ERRORS as exc:
        raise _failure_for(exc, deadline) from exc


def _failure_for(exc: BaseException, deadline: float) -> FetchError:
    # After the deadline every error is a timeout, whatever shape it took: the guard's
    # shutdown surfaces as "connection reset" or "remote end closed".
    if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
        return FetchError("timeout")
    if isinstance(exc, ssl.SSLError | CertificateError):
        return FetchError("connection_failed", _MSG_TLS)
    return FetchError("connection_failed")
