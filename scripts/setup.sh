#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine: ARM toolchain + QEMU + Fashion-MNIST (apt), a venv in .venv
# with sbtf installed editable. Used by `make demo`, `make test`, `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# dataset-fashion-mnist: the Fashion-MNIST IDX files for sbtf.data (/usr/share/datasets/fashion-mnist)
APT_PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm dataset-fashion-mnist"
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the package metadata or the C sources of the host delegate plugin
# (built by setup.py from micro/) changed since the last install.
stamp=.venv/.sbtf-installed
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ] ||
   [ -n "$(find micro/src micro/include micro/delegate -name '*.[ch]' -newer "$stamp" 2>/dev/null | head -1)" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
