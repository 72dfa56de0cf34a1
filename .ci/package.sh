#!/usr/bin/env bash
# Packages the three publishable crates in dependency order, as `cargo publish` would, and
# builds each from its .crate (the unpublished ones resolve from a local overlay of the others).
# Nothing is uploaded.
set -euo pipefail
cd "$(dirname "$0")/.."
# Cargo treats registry crates as immutable: the overlay's copies of our crates, unpacked
# (`registry/src/-<hash>`) and built in an earlier run, would be reused by name and version
# instead of this run's. Remove both; the third-party dependencies stay built.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/inngest-{runtime,devserver}-*
target="${CARGO_TARGET_DIR:-target}/package-check"
rm -rf "$target"/debug/.fingerprint/{inngest-runtime,inngest-devserver,cargo-inngest}-* \
  "$target"/debug/deps/{libinngest_runtime,libinngest_devserver,inngest_runtime,inngest_devserver,cargo_inngest}-*
CARGO_TARGET_DIR="$target" cargo package -p inngest-runtime -p inngest-devserver -p cargo-inngest
