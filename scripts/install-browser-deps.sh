#!/usr/bin/env bash
# Installs what the browser test (integration/browser_test.go) needs:
# Debian's Chromium (no browser download works in our build environments),
# Node.js and npm when missing, and the pinned playwright-core from
# integration/browser/package-lock.json (npm ci). On a machine that has
# them it changes nothing but re-running npm ci when node_modules is stale.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo"
	fi
fi

pkgs=()
[ -x /usr/bin/chromium ] || pkgs+=(chromium)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

if [ "${#pkgs[@]}" -gt 0 ]; then
	echo "install-browser-deps: installing ${pkgs[*]}"
	if [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
		echo "install-browser-deps: not root and no passwordless sudo; install these packages first: ${pkgs[*]}" >&2
		exit 1
	fi
	# Another installer may hold the dpkg lock: wait for it rather than fail.
	$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${pkgs[@]}"
fi

/usr/bin/chromium --version 2>/dev/null

# npm ci only when node_modules was not installed from this lock file.
dir=integration/browser
stamp="$dir/node_modules/.installed-from-lock"
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	cp "$dir/package-lock.json" "$stamp"
fi
echo "install-browser-deps: playwright-core $(node -p "require('./$dir/node_modules/playwright-core/package.json').version")"
