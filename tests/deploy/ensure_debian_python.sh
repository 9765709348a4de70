#!/bin/sh
# Install Debian's python3.11-venv for the image test when it is missing (idempotent; needs root): Debian 12's
# Python 3.11 stands in for the base image's, which cannot be pulled here (tests/deploy/test_image.py).
set -e
if /usr/bin/python3.11 -c "import ensurepip, venv" >/dev/null 2>&1; then
    exit 0
fi
exec 9>/tmp/arcpolicy-apt.lock
flock 9
if /usr/bin/python3.11 -c "import ensurepip, venv" >/dev/null 2>&1; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11-venv >/dev/null
/usr/bin/python3.11 -c "import ensurepip, venv"
