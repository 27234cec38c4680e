"""Event handlers: thin translations between Gradio values and the job service."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable
from pathlib import Path
from typing import Any

import gradio as gr

from kling_demo.catalogue import Model, get_model, models
from kling_demo.dedupe import DuplicateGuard
from kling_demo.errors import InputError, KlingError
from kling_demo.images import fit_preview, inspect_image
from kling_demo.jobs import JobRecord
from kling_demo.polling import format_seconds
from kling_demo.request import CreateRequest, Settings, precheck
from kling_demo.runtime import Backend
from kling_demo.service import JobEvent

from .access import Access, AccessPolicy, visitor_id
from .history import upsert

log = logging.getLogger("kling_ui")


def user_error(message: str, title: str = "Error") -> gr.Error:
    """A planned refusal: shown to the user, kept out of the server log as a traceback."""
    return gr.Error(message, title=title, print_exception=False)


def unexpected(exc: Exception, generation_id: str = "") -> gr.Error:
    """A message for a failure nobody planned for: no traceback for the user, one line in the log."""
    log.error("unexpected %s: %s (generation %s)", type(exc).__name__, exc, generation_id or "none")
    log.debug("details", exc_info=exc)
    where = (
        f" Your job {generation_id} may still finish: check it later with its id." if generation_id else ""
    )
    return user_error(f"Something unexpected went wrong ({type(exc).__name__}).{where}", "Sorry")


def shielded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn unplanned exceptions in a handler into a clear gr.Error that names the job, if any."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            generation_id = ""
            try:
                async for out in fn(*args, **kwargs):
                    if isinstance(out, tuple) and len(out) == 3 and isinstance(out[2], str) and out[2]:
                        generation_id = out[2]
                    yield out
            except gr.Error:
                raise
            except Exception as exc:
                raise unexpected(exc, generation_id) from None

        return stream

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise unexpected(exc) from None

    return call


AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
GenerateOut = tuple[str, Any, str]
ENDPOINT_ARGS = """
    Args:
        image: the start image (JPEG, PNG, WebP; at least 300 px a side, ratio 1:2.5 to 2.5:1)
        prompt: the motion to generate, e.g. "slow push-in, waves rolling"
        model: a Kling image-to-video model id (default kling-video/v1/pro/image-to-video)
        duration: clip length in seconds (5 or 10; 3 to 15 on v3 models)
        negative_prompt: what to avoid (models that support it)
        cfg_scale: 0 to 1, how closely to follow the prompt (models that support it)
        end_image: an optional end frame (models that support it)
        camera: none, simple, or a preset such as down_back (models with camera control)
        horizontal: camera move for camera=simple, -10 to 10 (exactly one axis non-zero)
        vertical: camera move for camera=simple
        pan: camera move for camera=simple
        tilt: camera move for camera=simple
        roll: camera move for camera=simple
        zoom: camera move for camera=simple
        generate_audio: generate a soundtrack (models that offer audio)
        fit: none (refuse out-of-range images), crop or pad to Kling's aspect-ratio range
"""


def endpoint_doc(returns: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give an endpoint the shared parameter docs that the API page and MCP tools show."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__doc__ = f"{(fn.__doc__ or '').strip()}\n\n{ENDPOINT_ARGS}\n    Returns:\n        {returns}\n"
        return fn

    return decorate


TICK = 2.0  # seconds between elapsed-time updates on the page; polls follow their own schedule


def settings_from(
    prompt: str | None,
    model: str | None,
    duration: Any,
    negative_prompt: str | None,
    cfg_scale: float | None,
    end_image: str | None,
    camera: str | None,
    axes: tuple[float, ...],
    generate_audio: bool | None,
    fit: str | None,
) -> Settings:
    """Gradio values to Settings; options the chosen model lacks are dropped, not sent."""
    model_id = model or models()[0].id
    try:
        spec: Model | None = get_model(model_id)
    except InputError:
        spec = None
    try:
        seconds = int(float(duration)) if duration not in (None, "") else None
    except (TypeError, ValueError):
        raise InputError(
            f"Duration must be a whole number of seconds, not {duration!r}.", "duration"
        ) from None
    has = lambda attr: spec is not None and bool(getattr(spec, attr))  # noqa: E731
    return Settings(
        prompt=prompt or "",
        model=model_id,
        duration=seconds,
        negative_prompt=(negative_prompt or "") if has("negative_prompt") else "",
        cfg_scale=cfg_scale if has("cfg_scale") else None,
        end_image=end_image or None,
        camera=(camera or "none") if has("camera_control") else "none",
        camera_config=dict(zip(AXES, [float(a or 0) for a in axes], strict=True)),
        generate_audio=generate_audio if spec is not None and spec.has_audio else None,
        fit=fit if fit in ("none", "crop", "pad") else "none",
    )


def status_markdown(text: str, *, state: str = "") -> str:
    """The status area's Markdown."""
    badge = {"queued": "⏳", "generating": "🎬", "completed": "✅", "failed": "❌"}.get(state, "ℹ️")
    return f"{badge} **{text}**"


class Handlers:
    """All callbacks, bound to one backend and access policy."""

    def __init__(self, backend: Backend, policy: AccessPolicy) -> None:
        self.backend = backend
        self.service = backend.service
        self.policy = policy
        self.guard: DuplicateGuard[JobRecord] = DuplicateGuard()

    # ---- pre-flight ---------------------------------------------------------------------------------
    def validate(
        self,
        image: Any,
        prompt: Any,
        model: Any,
        duration: Any,
        negative_prompt: Any,
        cfg_scale: Any,
        end_image: Any,
        camera: Any,
        horizontal: Any,
        vertical: Any,
        pan: Any,
        tilt: Any,
        roll: Any,
        zoom: Any,
        generate_audio: Any,
        fit: Any,
        *_: Any,
    ) -> list[dict[str, Any]]:
        """Gradio validator: refuse bad input before it takes a queue slot."""
        names = [
            "image",
            "prompt",
            "model",
            "duration",
            "negative_prompt",
            "cfg_scale",
            "end_image",
            "camera",
            *AXES,
            "generate_audio",
            "fit",
            "visitor_key",
        ]
        failed, message = "", ""
        try:
            settings = settings_from(
                prompt,
                model,
                duration,
                negative_prompt,
                cfg_scale,
                end_image,
                camera,
                (horizontal, vertical, pan, tilt, roll, zoom),
                generate_audio,
                fit,
            )
            precheck(image, settings)
        except InputError as exc:
            failed, message = exc.field or "image", exc.user_message()
        if failed and failed not in names:
            failed = "camera" if failed.startswith("camera") else "image"
        return [gr.validate(name != failed, message if name == failed else "") for name in names]

    # ---- the main loop ------------------------------------------------------------------------------
    @endpoint_doc("status text (streamed), the video file (last), and the generation id")
    @shielded
    async def generate(
        self,
        image: str | None,
        prompt: str,
        model: str | None = None,
        duration: Any = None,
        negative_prompt: str | None = None,
        cfg_scale: float | None = None,
        end_image: str | None = None,
        camera: str | None = None,
        horizontal: float = 0.0,
        vertical: float = 0.0,
        pan: float = 0.0,
        tilt: float = 0.0,
        roll: float = 0.0,
        zoom: float = 0.0,
        generate_audio: bool | None = None,
        fit: str | None = None,
        visitor_key: str | None = None,
        request: gr.Request | None = None,
    ) -> AsyncIterator[GenerateOut]:
        """Generate a Kling video from an image and a prompt, streaming status until the video is ready."""
        access = self.policy.resolve(visitor_key, request)
        yield status_markdown("Checking your image and settings…"), gr.skip(), gr.skip()
        values = (
            prompt,
            model,
            duration,
            negative_prompt,
            cfg_scale,
            end_image,
            camera,
            (horizontal, vertical, pan, tilt, roll, zoom),
            generate_audio,
            fit,
        )
        record, create, first, key = await self._launch(image, values, access, request)
        try:
            notes = f" · {'; '.join(create.notes)}" if create.notes else ""
            yield (
                status_markdown(f"Submitted · queued{notes}", state="queued"),
                None,
                record.id,
            )
            last = None
            async for last in self.service.follow(record.id, access.client, tick=TICK):
                yield self._event_out(last)
            if last is None or last.video is None:
                raise user_error(
                    last.summary() if last else f"Generation {record.id} ended without a video.", "No video"
                )
        finally:
            self._done_launching(access, request, first, key)

    async def _launch(
        self, image: str | None, values: tuple[Any, ...], access: Access, request: gr.Request | None
    ) -> tuple[JobRecord, CreateRequest, bool, Hashable]:
        """Check and prepare, then send one create request (a concurrent identical call shares it)."""
        try:
            settings = settings_from(*values)
            create = await self.service.client.run(self.service.prepare, image, settings)
        except InputError as exc:
            raise user_error(exc.user_message(), "Please fix the input") from None
        visitor = visitor_id(request)

        async def start() -> JobRecord:
            if access.limited:
                self.policy.limits.acquire(visitor)
            try:
                return await self.service.client.run(
                    self.service.submit, create, settings, access.client, access.source
                )
            except KlingError:
                if access.limited:
                    self.policy.limits.refund(visitor)
                raise

        key = (request.session_hash if request else "", repr(settings.to_dict()), str(image))
        try:
            record, first = await self.guard.once(key, start)
        except KlingError as exc:
            raise user_error(exc.user_message(), "The job was not started") from None
        return record, create, first, key

    def _done_launching(self, access: Access, request: gr.Request | None, first: bool, key: Hashable) -> None:
        """The launching call has stopped watching: free its duplicate key and its at-once slot."""
        if first:
            self.guard.forget(key)
            if access.limited:
                self.policy.limits.release(visitor_id(request))

    def _event_out(self, event: JobEvent) -> GenerateOut:
        record = event.record
        if event.video is not None:
            link = (
                f" · [provider link]({record.video_url})"
                if record.video_url and not self.backend.offline
                else ""
            )
            return (
                status_markdown(event.summary() + link, state="completed"),
                str(event.video),
                record.id,
            )
        if record.state == "failed" or (event.progress is None and event.message):
            return status_markdown(event.summary(), state="failed"), None, record.id
        # None, not gr.skip(): Gradio rebuilds a whole Video config for every skip (6x the cost per tick).
        return status_markdown(event.summary(), state=record.state), None, record.id

    @shielded
    async def follow(
        self, generation_id: str, visitor_key: str | None = None, request: gr.Request | None = None
    ) -> AsyncIterator[GenerateOut]:
        """Resume watching a job by id (reload, ?gen= link, history click)."""
        generation_id = (generation_id or "").strip()
        if not generation_id:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        access = self.policy.resolve(visitor_key, request)
        yield status_markdown("Reconnecting to your job…"), None, generation_id
        async for event in self.service.follow(generation_id, access.client, tick=TICK):
            yield self._event_out(event)

    @shielded
    async def resume(
        self,
        history: list[dict[str, Any]] | None,
        visitor_key: str | None = None,
        request: gr.Request | None = None,
    ) -> AsyncIterator[GenerateOut]:
        """On page load: the ?gen= job, else this browser's newest unfinished job."""
        wanted = request.query_params.get("gen", "") if request is not None else ""
        if not wanted:
            horizon = time.time() - self.service.deadline
            pending = [
                h
                for h in history or []
                if h.get("state") not in ("completed", "failed", "stopped")
                and h.get("created_at", 0) > horizon
            ]
            wanted = pending[0]["id"] if pending else ""
        if not wanted:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        async for out in self.follow(wanted, visitor_key, request):
            yield out

    # ---- API endpoints that never hold a worker -----------------------------------------------------
    @endpoint_doc("the generation id and its first status (usually queued)")
    @shielded
    async def submit(
        self,
        image: str | None,
        prompt: str,
        model: str | None = None,
        duration: Any = None,
        negative_prompt: str | None = None,
        cfg_scale: float | None = None,
        end_image: str | None = None,
        camera: str | None = None,
        horizontal: float = 0.0,
        vertical: float = 0.0,
        pan: float = 0.0,
        tilt: float = 0.0,
        roll: float = 0.0,
        zoom: float = 0.0,
        generate_audio: bool | None = None,
        fit: str | None = None,
        visitor_key: str | None = None,
        request: gr.Request | None = None,
    ) -> tuple[str, str]:
        """Start a Kling image-to-video job and return at once with its generation id; poll it with status."""
        access = self.policy.resolve(visitor_key, request)
        values = (
            prompt,
            model,
            duration,
            negative_prompt,
            cfg_scale,
            end_image,
            camera,
            (horizontal, vertical, pan, tilt, roll, zoom),
            generate_audio,
            fit,
        )
        record, _, first, key = await self._launch(image, values, access, request)
        self._done_launching(access, request, first, key)
        return record.id, record.state

    @shielded
    async def status(
        self, generation_id: str, visitor_key: str | None = None, request: gr.Request | None = None
    ) -> tuple[str, str | None]:
        """Check a job started with submit (or generate); once it has completed, return the video file.

        Args:
            generation_id: the id returned by submit or shown by generate

        Returns:
            the status (queued, generating, completed, failed with its reason) and the video file once done
        """
        generation_id = (generation_id or "").strip()
        if not generation_id:
            raise user_error("Give a generation id.")
        access = self.policy.resolve(visitor_key, request)
        try:
            event = await self.service.client.run(self.service.check, generation_id, access.client)
        except KlingError as exc:
            raise user_error(f"{exc.user_message()} (generation {generation_id})") from None
        video = str(event.video) if event.video else None
        return (f"{event.record.state}: {event.message}" if event.message else event.record.state), video

    # ---- small UI helpers ---------------------------------------------------------------------------
    def describe_image(self, image: str | None, fit: str) -> tuple[str, Any]:
        """Aspect ratio and orientation of the upload, with a fit preview when it is out of range."""
        if not image:
            return "", gr.update(visible=False, value=None)
        try:
            info = inspect_image(image)
        except InputError as exc:
            return f"⚠️ {exc.user_message()}", gr.update(visible=False, value=None)
        text = (
            f"**{info.width}×{info.height}** · ratio {info.ratio:.2f} · the video will be "
            f"**{info.orientation}**"
        )
        hidden = gr.update(visible=False, value=None)
        if info.fits_ratio:
            return text, hidden
        if fit not in ("crop", "pad"):
            return text + " · ⚠️ outside Kling's 1:2.5–2.5:1; choose **Fit: crop or pad**", hidden
        try:
            preview = fit_preview(image, fit)
        except InputError as exc:
            return f"{text} · ⚠️ {exc.user_message()}", hidden
        how = "cropped" if fit == "crop" else "padded"
        return f"{text} · will be sent **{how}** to fit 1:2.5–2.5:1 (preview below)", gr.update(
            visible=True, value=preview
        )

    def model_changed(self, model_id: str, duration: Any) -> tuple[Any, ...]:
        """Show only the controls the chosen model has, with its own ranges."""
        try:
            spec = get_model(model_id)
        except InputError:
            return (gr.skip(),) * 8
        choices = list(spec.durations)
        try:
            current = int(float(duration))
        except (TypeError, ValueError):
            current = spec.default_duration
        value = current if current in choices else spec.default_duration
        return (
            gr.update(choices=choices, value=value),
            gr.update(visible=spec.negative_prompt),
            gr.update(visible=spec.cfg_scale is not None),
            gr.update(visible=spec.end_frame_field is not None),
            gr.update(visible=spec.camera_control is not None),
            gr.update(visible=spec.has_audio, value=bool(spec.generate_audio_default)),
            f"<small>{spec.describe()} · `{spec.id}`</small>",
            self.eta_text(model_id, value),
        )

    def eta_text(self, model_id: str, duration: Any) -> str:
        """'Usually ~N min' before a run, learned from this app's own runs."""
        try:
            seconds = self.service.expected_seconds(model_id, int(float(duration)))
            runs = self.service.eta.samples(model_id, int(float(duration)))
        except (InputError, TypeError, ValueError):
            return ""
        basis = f"from {runs} recent run{'s' if runs != 1 else ''}" if runs else "typical time"
        return f"⏱️ Usually about **{format_seconds(seconds)}** ({basis})."

    def stopped(self, generation_id: str) -> str:
        """What 'Stop waiting' says."""
        if not generation_id:
            return status_markdown("Stopped.")
        return status_markdown(
            f"Stopped waiting for {generation_id}. The provider may still finish this job, and bill it; "
            "it stays in your history, where you can check it again later.",
            state="failed",
        )

    def remember(
        self, generation_id: str, history: list[dict[str, Any]] | None, state_override: str = ""
    ) -> list[dict[str, Any]]:
        """Put the job's latest record into this browser's history."""
        record = self.service.jobs.get(generation_id) if generation_id else None
        return upsert(history, record, state_override) if record else (history or [])

    def thumbnail(self, generation_id: str) -> str | None:
        """The stored input thumbnail for a job, if this server has it."""
        record = self.service.jobs.get(generation_id) if generation_id else None
        return record.thumbnail if record and record.thumbnail and Path(record.thumbnail).exists() else None

    def rerun_values(self, item: dict[str, Any] | None) -> tuple[Any, ...]:
        """Fill the form from a history item (the start image comes from this server's copy)."""
        if not item:
            return (gr.skip(),) * 15
        record = self.service.jobs.get(item.get("id", ""))
        s = item.get("settings") or {}
        cam = s.get("camera_config") or {}
        image = (
            record.input_image
            if record and record.input_image and Path(record.input_image).exists()
            else None
        )
        return (
            image if image else gr.skip(),
            s.get("prompt", item.get("prompt", "")),
            s.get("model", item.get("model")),
            s.get("duration") or item.get("duration"),
            s.get("negative_prompt", ""),
            s.get("cfg_scale") if s.get("cfg_scale") is not None else 0.5,
            s.get("camera", "none"),
            *[cam.get(a, 0) for a in AXES],
            bool(s.get("generate_audio")),
            s.get("fit", "none"),
        )

    def quota_text(self, visitor_key: str | None = None, request: gr.Request | None = None) -> str:
        """'N of M generations left this hour' when per-visitor limits apply to this visitor."""
        access = self.policy.resolve(visitor_key, request)
        if not access.limited:
            return ""
        return f"🎟️ {self.policy.limits.quota(visitor_id(request)).describe()} (on this app's key)."

    def key_label(self, key: str) -> str:
        """Which key the page will spend."""
        return f"Using {self.policy.resolve(key, None).label()}."

    async def test_key(self, key: str) -> str:
        """One cheap authenticated call with the visitor's key (or the server's)."""
        access = self.policy.resolve(key, None)
        try:
            await self.service.client.run(access.client.check_key)
        except KlingError as exc:
            return f"❌ {exc.user_message()}"
        return f"✅ The key works. Using {access.label()}."
