"""kling-demo: image + prompt to a Kling video. Run `python app.py --help`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from kling_demo.config import AppConfig
from kling_demo.runtime import start_backend
from kling_ui import build_demo
from kling_ui.access import AccessPolicy
from kling_ui.blocks import CSS

LOOPBACK = ("127.0.0.1", "localhost", "::1", "")


def is_public(host: str | None, share: bool) -> bool:
    """Reachable beyond this machine: a share link, a non-loopback host, or a Hugging Face Space."""
    return share or bool(os.environ.get("SPACE_ID")) or (host or "127.0.0.1") not in LOOPBACK


def share_warning(share: bool, server_key: bool, protected: bool) -> str:
    """The warning for a public link that spends the server's key without a password, else ''."""
    if not (share and server_key and not protected):
        return ""
    return (
        "WARNING: this share link spends the server's AIMLAPI_KEY and has no password. Anyone with the link "
        "can generate videos (per-visitor limits apply). Add --auth USER:PASSWORD to protect it."
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; Gradio's GRADIO_SERVER_NAME/PORT still apply when these are not given."""
    parser = argparse.ArgumentParser(description="Serve the kling-demo web UI.")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME"),
        help="interface to listen on (default 127.0.0.1; 0.0.0.0 for the network)",
    )
    parser.add_argument("--port", type=int, default=None, help="port (default GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live share link")
    parser.add_argument(
        "--auth",
        default=os.environ.get("KLING_AUTH"),
        metavar="USER:PASSWORD",
        help="require this username and password (or set KLING_AUTH)",
    )
    parser.add_argument(
        "--mcp",
        action="store_true",
        default=os.environ.get("GRADIO_MCP_SERVER", "").lower() in ("1", "true"),
        help="also serve the endpoints as MCP tools",
    )
    return parser.parse_args(argv)


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)
backend = start_backend(AppConfig.from_env())
policy = AccessPolicy(backend, public=is_public(os.environ.get("GRADIO_SERVER_NAME"), False))
demo = build_demo(backend, policy=policy)
demo.queue(default_concurrency_limit=None, max_size=2000)


def main(argv: list[str] | None = None) -> None:
    """Parse options, warn about unprotected public sharing, and serve."""
    args = parse_args(argv)
    policy.public = is_public(args.host, args.share)
    auth = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        if not user or not password:
            sys.exit("--auth needs USER:PASSWORD")
        auth = (user, password)
    if args.share and backend.server_key_set and auth is None:
        print(
            "WARNING: this share link spends the server's AIMLAPI_KEY and has no password. Anyone with the "
            "link can generate videos (per-visitor limits apply). Add --auth USER:PASSWORD to protect it.",
            file=sys.stderr,
            flush=True,
        )
    if backend.offline:
        print(
            "No AIMLAPI_KEY set: running on the built-in simulator (offline preview, nothing is billed).",
            flush=True,
        )
    try:
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            auth=auth,
            max_threads=400,
            max_file_size="25mb",
            run_history=False,
            mcp_server=args.mcp,
            css=CSS,
            footer_links=["api", "gradio", "settings"],
        )
    finally:
        backend.close()


if __name__ == "__main__":
    main()
