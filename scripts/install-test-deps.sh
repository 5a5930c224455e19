#!/usr/bin/env bash
# Installs the real programs the integration tests drive (Prometheus, HAProxy,
# an MIT Kerberos KDC, curl, jq, openssl, Chromium with Node) when they are missing, then
# downloads the Go modules. On a machine that has them it changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# binary:package pairs; the binary is what the tests look for on PATH.
deps=(
	prometheus:prometheus
	haproxy:haproxy
	curl:curl
	jq:jq
	openssl:openssl
	krb5kdc:krb5-kdc
	kadmin.local:krb5-admin-server
	kinit:krb5-user
	slapd:slapd
	ldapsearch:ldap-utils
)

missing=()
for d in "${deps[@]}"; do
	bin="${d%%:*}" pkg="${d#*:}"
	# krb5kdc and kadmin.local live in /usr/sbin, which is not on every PATH.
	if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-test-deps: missing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		sudo=""
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo="sudo"
		else
			echo "install-test-deps: not root and no passwordless sudo; install these packages first: ${missing[*]}" >&2
			exit 1
		fi
	else
		sudo=""
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "install-test-deps: no apt-get on this machine; install these packages first: ${missing[*]}" >&2
		exit 1
	fi
	# The KDC packages ask for a realm when installed interactively; env
	# passes the setting through sudo, which would otherwise drop it.
	# slapd: the tests run their own instances (ops/slapd), so the package
	# is told to create no directory of its own and then starts no system
	# daemon that could hold port 389.
	if [[ " ${missing[*]} " == *" slapd "* ]]; then
		echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
fi

# Chromium, Node and playwright-core for the passkey tests in a real browser.
scripts/install-browser-deps.sh

go mod download
echo "install-test-deps: ok"
