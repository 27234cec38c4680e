"""Which key a request spends, who the visitor is, and whether public limits apply."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import gradio as gr

from kling_demo.client import KlingClient
from kling_demo.limits import VisitorLimits
from kling_demo.runtime import Backend

KEY_HEADER = "x-aimlapi-key"


@dataclass(frozen=True)
class Access:
    """The client to use for one call and how to describe it."""

    client: KlingClient
    source: str  # "visitor", "header", "server" or "simulator"
    limited: bool

    def label(self) -> str:
        """Which key is in use, in words."""
        return {
            "visitor": "your own key (kept only in this browser session)",
            "header": f"the key from the {KEY_HEADER} header",
            "server": "this app's key",
            "simulator": "the offline simulator (no key, nothing is billed)",
        }[self.source]


def visitor_id(request: gr.Request | None) -> str:
    """A stable, non-reversible id for rate limits: logged-in user, else forwarded IP, else client host."""
    if request is None:
        return "local"
    user = getattr(request, "username", None)
    raw = (
        user
        or (request.headers.get("x-forwarded-for", "").split(",")[0].strip())
        or (request.client.host if request.client else "unknown")
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class AccessPolicy:
    """Resolves keys per request; holds the per-visitor limits."""

    def __init__(self, backend: Backend, public: bool, limits: VisitorLimits | None = None) -> None:
        self.backend = backend
        self.public = public
        self.limits = limits or VisitorLimits(
            per_hour=int(os.environ.get("KLING_JOBS_PER_HOUR", "10")),
            at_once=int(os.environ.get("KLING_JOBS_AT_ONCE", "2")),
        )
        force = os.environ.get("KLING_LIMITS", "auto").lower()
        self.force = force if force in ("on", "off") else "auto"
        self._clients: dict[str, KlingClient] = {}

    def _visitor_client(self, key: str) -> KlingClient:
        digest = hashlib.sha256(key.encode()).hexdigest()
        client = self._clients.get(digest)
        if client is None:
            if len(self._clients) > 256:
                self._clients.clear()
            client = self._clients[digest] = self.backend.service.client.with_key(key)
        return client

    def resolve(self, visitor_key: str | None, request: gr.Request | None) -> Access:
        """Header key beats the visitor's pasted key, which beats the server's key."""
        header = request.headers.get(KEY_HEADER, "").strip() if request is not None else ""
        if header:
            return Access(self._visitor_client(header), "header", False)
        if visitor_key and visitor_key.strip():
            return Access(self._visitor_client(visitor_key.strip()), "visitor", False)
        source = "simulator" if self.backend.offline else "server"
        limited = self.force == "on" or (self.force == "auto" and self.public and source == "server")
        return Access(self.backend.service.client, source, limited)
