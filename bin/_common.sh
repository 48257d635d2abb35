# Shared by bin/demo and bin/test: a virtualenv with the pinned dependencies.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

ensure_venv() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$extras"
  local digest
  digest="$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "==> installing Python packages ($extras)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt -e ".[$extras]"
    echo "$digest" > "$stamp"
  fi
}

compile_messages() {
  "$VENV/bin/python" manage.py compilemessages --ignore=.venv --ignore=node_modules -v0
}
