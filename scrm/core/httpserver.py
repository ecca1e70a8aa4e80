"""A threaded HTTP server that runs in a thread of its own or in the foreground: what
the sandboxes (WeCom's, WeChat Pay's) share. A pytest fixture starts one in-process on
a free port; a management command serves one until interrupted."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        # A client that went away (a timeout it asked for, a killed worker) is not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class BackgroundHttpServer:
    """Serves ``handler`` (a ``BaseHTTPRequestHandler`` subclass; each instance reaches
    this object as ``self.server_ref``)."""

    thread_name = "http-server"

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, host: str = "127.0.0.1", port: int = 0
    ):
        bound = type("Handler", (handler,), {"server_ref": self})
        self.httpd = _Server((host, port), bound)
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self):
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name=self.thread_name, daemon=True
        )
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
