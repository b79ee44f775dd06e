#!/usr/bin/env bash
# Debian packages some tests use (chromium + chromium-driver for the web-demo test, espeak-ng for speech input).
# Skipped quietly where apt-get is unavailable or we are not root; those tests then skip.
set -uo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") \
    >/tmp/plait-system-deps.log 2>&1 || echo "system-deps: could not install ${need[*]} (see /tmp/plait-system-deps.log)"
fi
exit 0
