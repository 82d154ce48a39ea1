"""A small web site on 127.0.0.1 for tests that add pages from the web, counting connections.

The count is how tests prove that a web request never fetches: the server sees every connection
made to it, whoever makes it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from socket import socket
from typing import Any

from document_processing.tests.test_url_import import Handler


class _CountingServer(ThreadingHTTPServer):
    connections = 0

    def verify_request(self, request: socket | tuple[bytes, socket], client_address: Any) -> bool:
        self.connections += 1
        return True


@dataclass(frozen=True)
class Site:
    url: str
    server: _CountingServer

    @property
    def connections(self) -> int:
        return self.server.connections


@contextmanager
def running_site(settings: Any) -> Iterator[Site]:
    """Serve the pages of test_url_import's Handler (/article, /paper.pdf, /huge, /missing…)."""
    settings.URL_IMPORT_ALLOW_LOOPBACK = True
    settings.URL_IMPORT_TIMEOUT_SECONDS = 1.5
    settings.URL_IMPORT_MAX_BYTES = 100_000
    server = _CountingServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(url=f"http://127.0.0.1:{server.server_address[1]}", server=server)
    finally:
        server.shutdown()
        server.server_close()
