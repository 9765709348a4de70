#!/bin/sh
# Install Debian's chromium for the report browser test when it is missing (idempotent; needs root).
set -e
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
# Test workers may get here together: one apt-get at a time.
exec 9>/tmp/arcpolicy-apt.lock
flock 9
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
