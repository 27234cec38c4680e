#!/usr/bin/env bash
# Run the app: creates .venv on first use, installs requirements.txt, serves on http://127.0.0.1:7860
source "$(dirname "$0")/scripts/venv.sh"
ensure_requirements requirements.txt
cd "$ROOT"
exec "$VENV/bin/python" app.py "$@"
