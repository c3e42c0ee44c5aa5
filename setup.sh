#!/usr/bin/env bash
# Set up ale_gym on a fresh Debian/Ubuntu machine, then run the example episode or the test suite.
#
#   ./setup.sh example [TASK_ID]   install everything, then play the oracle of a real task
#   ./setup.sh test [PYTEST_ARGS]  install everything, then run the whole test suite
#   ./setup.sh install             install everything and stop
#
# It installs Debian packages (through sudo when not root), creates .venv beside this file and
# installs the project into it, editable, with every extra.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

DEBIAN_PACKAGES=(
  python3 python3-venv python3-dev build-essential git
  bubblewrap                                   # the jail for agent code
  xvfb openbox xterm x11-utils xdotool        # the episode desktop
  fonts-dejavu-core                            # terminal frames and desktop text
  iverilog verilator yosys gtkwave             # hardware verification
  librecad                                     # CNC drawings on the desktop
  gnumeric                                     # spreadsheets (ssconvert) on the desktop
  chromium                                     # opening HTML reports in tests
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "setup: Python 3.11 or newer is required" >&2; exit 1
}

install_python_environment() {
  local python; python=$(pick_python)
  if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $python"
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  echo "setup: installing ale_gym with all extras into .venv"
  .venv/bin/python -m pip install -q -e '.[all]'
}

install_debian_packages
install_python_environment

command=${1:-install}
[ $# -gt 0 ] && shift
case "$command" in
  install)
    echo "setup: done. Activate with: source .venv/bin/activate" ;;
  example)
    exec .venv/bin/python examples/run_episode.py "$@" ;;
  test)
    status=0
    .venv/bin/python -m pytest "$@" || status=$?
    if [ "$status" -eq 5 ]; then
      echo "setup: pytest collected no tests; that is a failure" >&2
      exit 1
    fi
    exit "$status" ;;
  *)
    echo "usage: ./setup.sh [install|example [TASK_ID]|test [PYTEST_ARGS]]" >&2; exit 2 ;;
esac
