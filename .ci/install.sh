#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, when it is missing: Node with npm (the
# official JS SDK app), curl, Python 3 with the official Python SDK, procps (pgrep), Chromium
# with chromium-driver (the dashboard's browser tests). The npm
# packages themselves are installed by .ci/js-sdk.sh.
set -euo pipefail
need_apt=()
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v curl >/dev/null || need_apt+=(curl)
command -v python3 >/dev/null || need_apt+=(python3)
command -v pgrep >/dev/null || need_apt+=(procps)
# Headless Chromium and its WebDriver, for the dashboard's browser tests.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

# The official Python SDK, for the dev server's test that drives a Python app.
python3 -c 'import inngest, flask' 2>/dev/null || python3 -m pip install -q inngest==0.5.19 flask==3.1.3

