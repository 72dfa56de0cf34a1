#!/usr/bin/env bash
# Prepares the official JS SDK app of the conformance corpus (app.mjs, functions.mjs and the
# versions pinned in its package.json) in a work folder outside the clone, installing the npm
# packages once. Prints the folder. Used by the dev server's tests and the benchmarks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${INNGEST_CONFORMANCE_DIR:-$root/../shared/conformance/js}"
src="$(dirname "$corpus")"
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
