#!/usr/bin/env bash
# Runs every fuzz target (func FuzzXxx in a *_test.go file) for a short time,
# so a target that crashes on its seed corpus or on early mutations fails CI.
# FUZZTIME overrides the per-target duration (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"

targets="$(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . \
	| grep -v '/vendor/' | sed -E 's/^(.*)\/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($/\1 \2/' | sort -u)"

if [ -z "$targets" ]; then
	echo "fuzz-smoke: no fuzz targets found"
	exit 0
fi

count=0
while read -r dir name; do
	count=$((count + 1))
	echo "fuzz-smoke: $dir $name ($fuzztime)"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$dir"
done <<<"$targets"
echo "fuzz-smoke: $count targets passed"
