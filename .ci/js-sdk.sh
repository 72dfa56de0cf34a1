#!/usr/bin/env bash
# Prepares the project's official-JS-SDK app (tests/conformance/js: the function contract on the
# pinned `inngest` package, its transitive versions locked in package-lock.json) and the serve
# benchmark's JS app in a work folder outside the clone, and prints the folder. The folder is
# named by a hash of those files, so checkouts with different contracts never share one, and
# `npm ci` runs once per folder. INNGEST_JS_APP_DIR names a folder to use instead.
# Used by the tests that drive the official SDK, by `conformance-kit` and by the benchmarks; its
# axe-core (a dev dependency) checks the dashboard's accessibility in the browser tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/tests/conformance/js"
files=("$src/package.json" "$src/package-lock.json" "$src/functions.mjs" "$src/app.mjs" "$src/connect.mjs" "$root/bench/serve/app.mjs")
key=$(cat "${files[@]}" | sha256sum | cut -c1-16)
dir="${INNGEST_JS_APP_DIR:-/var/tmp/cargo-inngest-js-sdk-$key}"
mkdir -p "$dir"
for f in package.json package-lock.json functions.mjs app.mjs connect.mjs; do cp "$src/$f" "$dir/$f"; done
cp "$root/bench/serve/app.mjs" "$dir/bench-app.mjs"
if [ ! -f "$dir/node_modules/.installed-$key" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --silent >&2 && touch "node_modules/.installed-$key")
fi
echo "$dir"
