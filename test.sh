#!/usr/bin/env bash
# Run every check: ruff, then the whole pytest suite (unit, simulator, app end to end, real browser).
source "$(dirname "$0")/scripts/venv.sh"
ensure_requirements requirements-dev.txt
cd "$ROOT"
if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..." >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null) \
    || echo "Could not install chromium; browser tests will say so." >&2
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
exec "$VENV/bin/python" -m pytest "$@"
