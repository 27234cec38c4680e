"""The Gradio web UI for kling-demo (the only package that imports gradio)."""

from .blocks import build_demo

__all__ = ["build_demo"]
