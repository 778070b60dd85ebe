#!/usr/bin/env bash
# ensure_nginx: Debian's nginx for the tests that run the WebDAV target and the http source
# against a real nginx (tests marked `nginx`). Installed with apt-get when missing and we are
# root, as scripts/postgres.sh does for PostgreSQL; the tests start and stop their own server
# on free loopback ports, so the package's own service is kept from starting. The dav-ext
# module answers PROPFIND (the WebDAV target lists folders with it; rclone's WebDAV needs it).

ensure_nginx() {
  local module=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
  if { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } && [ -e "$module" ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then return 1; fi
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-http-dav-ext) \
    >/dev/null 2>&1 || true
  [ -n "$added" ] && rm -f "$policy"
  { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } && [ -e "$module" ]
}
