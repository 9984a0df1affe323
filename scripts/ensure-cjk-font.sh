#!/usr/bin/env bash
# Make sure a CJK-capable font is installed, so plots can draw channel names such as 微信.
set -euo pipefail
if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null | head -n 1)" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: no CJK font found and no apt-get; install one (e.g. Noto Sans CJK SC) for Chinese labels" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "note: no CJK font found; run 'apt-get install fonts-wqy-microhei' as root for Chinese labels" >&2
    exit 0
  fi
fi
echo "installing a CJK font (fonts-wqy-microhei) for Chinese labels in plots" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends fonts-wqy-microhei fontconfig >/dev/null
