#!/usr/bin/env bash
# Make sure the plots' fonts are installed: a CJK font, so they draw channel names such as 微信, and an
# outline emoji font, so they draw names such as "🎉新人礼包". matplotlib draws outline fonts only: the
# colour emoji of fonts-noto-color-emoji is a bitmap font it refuses, so the emoji font is Symbola
# (fonts-symbola). Without one, the plots drop the emoji they cannot draw (no warning).
set -euo pipefail
need=()
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh family 2>/dev/null | head -n 1)" ]; then
  need+=(fonts-wqy-microhei)
fi
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list ':charset=1f389:outline=true:color=false' family 2>/dev/null | head -n 1)" ]; then
  need+=(fonts-symbola)
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: no apt-get; install ${need[*]} (or a CJK font such as Noto Sans CJK SC and an outline emoji font) for Chinese and emoji labels" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "note: run 'apt-get install ${need[*]} fontconfig' as root for Chinese and emoji labels" >&2
    exit 0
  fi
fi
echo "installing fonts for the plots' Chinese and emoji labels (${need[*]})" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null
