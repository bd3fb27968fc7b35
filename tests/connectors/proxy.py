"""A real TCP proxy that forwards N server responses, then drops both connections
(optionally slowing every response down).

Put in front of a real source (e.g. a pymodbus server) to make it "drop the connection
after N records" without mocking the protocol.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from connectors.simulators.base import free_port


class DroppingProxy:
    def __init__(self, upstream_port: int, *, drop_after: int | None, delay: float = 0.0):
        self.upstream_port = upstream_port
        self.drop_after = drop_after
        self.delay = delay  # seconds added to every response (a slow source)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        responses = 0
        try:
            while True:
                request = client.recv(65536)
                if not request:
                    break
                upstream.sendall(request)
                if self.delay:
                    time.sleep(self.delay)
                response = upstream.recv(65536)
                if not response:
                    break
                client.sendall(response)
                responses += 1
                if self.drop_after is not None and responses >= self.drop_after:
                    break
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
