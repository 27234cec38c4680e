# Sourced by run.sh and test.sh: make .venv (once) and install the given requirements file when it changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KLING_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
ensure_requirements() {
  local req="$ROOT/$1" stamp="$VENV/.installed-$(basename "$1")"
  if [ ! -f "$stamp" ] || ! cmp -s <(cat "$ROOT"/requirements*.txt) "$stamp"; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cat "$ROOT"/requirements*.txt > "$stamp"
  fi
}
