"""HTTP plumbing: routing, faults on the wire, video streaming with Range, and the /_sim control routes."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .api import STATUS_MESSAGES, VIDEO_ROUTE, Reply, error_reply
from .faults import Fault
from .recording import Headers, RecordedRequest, shorten

if TYPE_CHECKING:
    from .server import Simulator

GENERATION_PATHS = ("/v2/video/generations", "/v2/generate/video/kling/generation")
CONTROL_PREFIXES = ("/_sim/", "/v2/_sim/")
MAX_BODY = 100 * 1024 * 1024  # a 50 MB image is ~67 MB of base64
CHUNK = 64 * 1024
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
QUIET_ERRORS = (ConnectionError, TimeoutError, socket.timeout)


class SimServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its Simulator."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 resets connections when hundreds of jobs start at once

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SimHandler)
        self.sim = sim

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up; print real bugs."""
        if isinstance(sys.exc_info()[1], QUIET_ERRORS) and not self.sim.config.verbose:
            return
        super().handle_error(request, client_address)


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(start, end) for a single 'bytes=' range, None to ignore the header, 'unsatisfiable' for 416."""
    match = RANGE.fullmatch(header.strip())
    if not match or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        return (max(0, size - suffix), size - 1) if suffix and size else "unsatisfiable"
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if end >= start else None


class SimHandler(BaseHTTPRequestHandler):
    """Routes one request to the simulator's API, control surface or video files."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait ~40 ms per answer.
    disable_nagle_algorithm = True
    server_version = "kling-sim/1.0"
    server: SimServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent unless the simulator is verbose."""
        if self.server.sim.config.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        """GET: poll, download, control."""
        self._dispatch()

    def do_HEAD(self) -> None:
        """HEAD: like GET without a body."""
        self._dispatch()

    def do_POST(self) -> None:
        """POST: create, control."""
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_POST

    # --- plumbing -------------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._reply(error_reply(413, "Payload Too Large", self.path))
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reply(self, reply: Reply) -> None:
        headers = dict(reply.headers)
        client_id = self.headers.get("X-Client-Request-Id", "")
        if CLIENT_REQUEST_ID.fullmatch(client_id):
            headers["x-client-request-id"] = client_id
        self._send(reply.status, json.dumps(reply.body).encode(), "application/json; charset=utf-8", headers)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _host(self) -> str:
        host = self.headers.get("Host")
        if host:
            return host
        addr, port = self.server.server_address[:2]
        return f"{addr}:{port}"

    # --- routing --------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        raw = self._read_body()
        if raw is None:
            return
        try:
            if path.startswith(CONTROL_PREFIXES) and not path.startswith(VIDEO_ROUTE):
                self._control(path.split("/_sim/", 1)[1], raw)
                return
            body, body_error = self._parse(raw)
            sim = self.server.sim
            sim.record(
                RecordedRequest(
                    self.command,
                    path,
                    query,
                    Headers(self.headers.items()),
                    body if sim.config.record_full_bodies else shorten(body),
                    time.time(),
                )
            )
            if path in GENERATION_PATHS and self.command == "POST":
                self._create(path, body, body_error)
            elif path in GENERATION_PATHS and self.command in ("GET", "HEAD"):
                self._poll(path, query.get("generation_id"))
            elif path.startswith(VIDEO_ROUTE) and self.command in ("GET", "HEAD"):
                self._download(path)
            else:
                self._reply(error_reply(404, f"Cannot {self.command} {path}", path))
        except QUIET_ERRORS:
            self.close_connection = True
        except Exception:
            self.server.handle_error(self.request, self.client_address)
            self._reply(error_reply(500, STATUS_MESSAGES[500], path))

    @staticmethod
    def _parse(raw: bytes) -> tuple[Any, str | None]:
        if not raw:
            return None, "Expected object, received nothing (the body is empty)"
        try:
            return json.loads(raw), None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, f"Invalid JSON ({exc})"

    def _fault(self, fault: Fault, path: str, generation_id: str | None = None) -> bool:
        """Apply a wire fault; True when it has already answered (or hung up)."""
        kind, params = fault.kind, fault.params
        if kind == "slow":
            time.sleep(float(params.get("seconds", 2)))
            return False
        if kind == "drop":
            self._drop()
            return True
        if kind == "malformed":
            if self.server.sim.faults.next_malformed_is_text() or path.startswith(VIDEO_ROUTE):
                page = b"<html><body><h1>502 Bad Gateway</h1><p>upstream sent garbage</p></body></html>"
                self._send(200, page, "text/html; charset=utf-8")
            else:
                missing_status = {"id": generation_id or "unknown", "meta": None}
                self._send(200, json.dumps(missing_status).encode(), "application/json; charset=utf-8")
            return True
        status = int(kind)
        headers = {"Retry-After": str(params.get("retry_after", 1))} if status == 429 else {}
        self._reply(error_reply(status, str(params.get("message", STATUS_MESSAGES[status])), path, headers))
        return True

    def _create(self, path: str, body: Any, body_error: str | None) -> None:
        sim = self.server.sim
        sim.count("create")
        fault = sim.faults.take("create")
        force_error = fault is not None and fault.kind == "task_error"
        if fault and not force_error and self._fault(fault, path):
            return
        self._reply(sim.api.create(body, body_error, self.headers.get("Authorization"), path, force_error))

    def _poll(self, path: str, generation_id: str | None) -> None:
        sim = self.server.sim
        sim.count("poll")
        fault = sim.faults.take("poll", sim.config.fault_rate)
        if fault and self._fault(fault, path, generation_id):
            return
        self._reply(sim.api.poll(generation_id, self.headers.get("Authorization"), path, self._host()))

    def _download(self, path: str) -> None:
        sim = self.server.sim
        sim.count("download")
        fault = sim.faults.take("download")
        if fault and self._fault(fault, path):
            return
        file = sim.api.video_file(path[len(VIDEO_ROUTE) :])
        if file is None:
            self._reply(error_reply(404, "Video not found", path))
            return
        self._stream(file)

    def _stream(self, file: Path) -> None:
        size = file.stat().st_size
        start, end, status = 0, size - 1, 200
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "public, max-age=3600"}
        wanted = parse_range(self.headers["Range"], size) if self.headers.get("Range") else None
        if wanted == "unsatisfiable":
            self._send(416, b"", "video/mp4", {**headers, "Content-Range": f"bytes */{size}"})
            return
        if isinstance(wanted, tuple):
            start, end, status = wanted[0], wanted[1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(end - start + 1))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        with file.open("rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    # --- control surface ------------------------------------------------------------------------------

    def _control(self, name: str, raw: bytes) -> None:
        sim = self.server.sim
        try:
            params = json.loads(raw) if raw else {}
            if not isinstance(params, dict):
                raise ValueError("the body must be a JSON object")
            if name == "stats" and self.command in ("GET", "HEAD"):
                answer: dict[str, Any] = sim.stats()
            elif name == "faults" and self.command == "POST":
                sim.inject(**params)
                answer = {"ok": True, "pending": sim.faults.pending()}
            elif name == "config" and self.command == "POST":
                answer = {"ok": True, "config": sim.update_config(**params)}
            elif name == "config" and self.command in ("GET", "HEAD"):
                answer = {"ok": True, "config": sim.update_config()}
            else:
                self._reply(error_reply(404, f"Cannot {self.command} {self.path}", self.path))
                return
        except (TypeError, ValueError) as exc:
            self._reply(Reply(400, {"ok": False, "error": str(exc)}))
            return
        self._reply(Reply(200, answer))
