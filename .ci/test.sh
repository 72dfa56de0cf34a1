#!/usr/bin/env bash
# All tests. Installs what they need when it is missing (.ci/install.sh: Node with npm, Python
# with the official Python SDK; .ci/js-sdk.sh: the pinned official JS SDK for the project's
# contract app in tests/conformance/js), then runs the workspace's tests: unit and doc tests,
# the corpus (tests/conformance/recordings) replayed in process and over HTTP to our runtime and
# checked against the official JS SDK it was recorded from, the dev server driving the official
# JS and Python apps, the CLI's scaffolding compiled with cargo check, and the dev loop.
# Everything it reads is in this repository.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/install.sh

INNGEST_JS_APP_DIR="$(bash .ci/js-sdk.sh)"
export INNGEST_JS_APP_DIR

cargo test --workspace
