#!/bin/sh
# deps.sh - install the Debian packages named on the command line.
#
# Quick when everything is present (one dpkg-query); otherwise runs
# `apt-get update` once and installs what is missing, as root or via sudo.
set -eu

missing=
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all $# packages present"
	exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "deps: need root or sudo to install:$missing" >&2
	exit 1
fi
echo "deps: installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
