#!/usr/bin/env bash
# Prepares the project's official-JS-SDK app (tests/conformance/js: the function contract on the
# pinned `inngest` package) and the serve benchmark's JS app in a work folder outside the clone,
# installing the npm packages once per pinned version. Prints the folder. Used by the tests that
# drive the official SDK, by `conformance-kit` and by the benchmarks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/tests/conformance/js"
dir="${INNGEST_JS_APP_DIR:-/var/tmp/cargo-inngest-js-sdk}"
mkdir -p "$dir"
for f in package.json functions.mjs app.mjs; do cp "$src/$f" "$dir/$f"; done
cp "$root/bench/serve/app.mjs" "$dir/bench-app.mjs"
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["inngest"])' "$dir/package.json")
have=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$dir/node_modules/inngest/package.json" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  (cd "$dir" && npm install --no-audit --no-fund --silent >&2)
fi
echo "$dir"
