#!/usr/bin/env bash
# CI: build the documentation site with warnings as errors (needs the `docs` extra: pip install -e '.[docs]').
# Usage: .ci/docs.sh [PYTHON]   (default: python3 on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
NO_MKDOCS_2_WARNING=1 "$python" -m mkdocs build --strict --config-file mkdocs.yml -d "$out/site"
echo "docs: mkdocs build --strict passed"
