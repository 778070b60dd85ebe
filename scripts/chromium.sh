#!/usr/bin/env bash
# ensure_chromium: Debian's chromium and its driver (/usr/bin/chromedriver) for the tests that
# load report.html in a real browser (tests marked `chromium`). Installed with apt-get when
# missing and we are root, as scripts/nginx.sh does for nginx.

ensure_chromium() {
  if [ -x /usr/bin/chromedriver ] && command -v chromium >/dev/null 2>&1; then return 0; fi
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then return 1; fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
    >/dev/null 2>&1 || true
  [ -x /usr/bin/chromedriver ] && command -v chromium >/dev/null 2>&1
}
