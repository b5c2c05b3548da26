#!/usr/bin/env bash
# The project's test command (the README names it; .ci/run calls it).
# Release mode: the model-checking and conformance tests explore large state
# spaces and send real packets, and are several times faster optimised.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --release "$@"
