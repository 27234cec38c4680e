"""This browser's job history: a capped list of plain dicts kept in BrowserState."""

from __future__ import annotations

import time
from typing import Any

from kling_demo.jobs import JobRecord
from kling_demo.storage import model_tag

MAX_ITEMS = 30
BADGES = {
    "queued": "⏳ queued",
    "generating": "🎬 generating",
    "completed": "✅ done",
    "failed": "❌ failed",
    "stopped": "⏸ stopped",
    "unknown": "❔",
}


def entry(record: JobRecord, state_override: str = "") -> dict[str, Any]:
    """What the history keeps for one job (no key, no image data)."""
    return {
        "id": record.id,
        "model": record.model,
        "prompt": record.prompt[:300],
        "duration": record.duration,
        "state": state_override or record.state,
        "created_at": record.created_at,
        "credits_used": record.credits_used,
        "settings": record.settings,
    }


def upsert(
    history: list[dict[str, Any]] | None, record: JobRecord, state_override: str = ""
) -> list[dict[str, Any]]:
    """Add or refresh a job, newest first, capped."""
    items = [h for h in (history or []) if isinstance(h, dict) and h.get("id") != record.id]
    return [entry(record, state_override), *items][:MAX_ITEMS]


def caption(item: dict[str, Any]) -> str:
    """A gallery caption: badge, duration, model, prompt start, credits."""
    when = time.strftime("%d %b %H:%M", time.localtime(item.get("created_at") or 0))
    credits = f" · {item['credits_used']:g} cr" if item.get("credits_used") is not None else ""
    model = model_tag(item.get("model") or "kling")
    prompt = (item.get("prompt") or "(no prompt)")[:40]
    badge = BADGES.get(item.get("state", ""), item.get("state", ""))
    return f"{badge} · {item.get('duration')}s · {model} · {when}{credits} · {prompt}"
