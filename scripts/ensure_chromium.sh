#!/usr/bin/env bash
# Install Debian's chromium for the report's browser test, once (idempotent).
# Uses apt-get only when `chromium` is not on PATH; where apt-get is missing or cannot
# install (no root, no registry), it says so and exits 0: that test then skips with a reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium is not on PATH and apt-get is not available; the Chromium test will skip" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "ensure_chromium: chromium is not on PATH and apt-get needs root; the Chromium test will skip" >&2
    exit 0
  fi
fi
echo "ensure_chromium: installing Debian's chromium" >&2
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
  echo "ensure_chromium: apt-get could not install chromium; the Chromium test will skip" >&2
fi
exit 0
