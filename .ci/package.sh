#!/usr/bin/env bash
# Packages the three publishable crates in dependency order, as `cargo publish` would, and
# builds each from its .crate (the unpublished ones resolve from a local overlay of the others).
# Nothing is uploaded.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo package -p inngest-runtime -p inngest-devserver -p cargo-inngest
