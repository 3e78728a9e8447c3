#!/usr/bin/env bash
# CI: build the documentation site with warnings as errors (needs the `docs` extra: pip install -e '.[docs]'),
# then check that no Sphinx role of a docstring was left unrendered (docs/griffe_roles.py turns them into links).
# Usage: .ci/docs.sh [PYTHON]   (default: python3 on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
NO_MKDOCS_2_WARNING=1 "$python" -m mkdocs build --strict --config-file mkdocs.yml -d "$out/site"
left=$(grep -rhoE ':(class|meth|func|attr|data|mod|exc|obj|const):(<code>[^<]*</code>|`[^`]*`)' "$out/site" --include=*.html | sort -u | head -n 20 || true)
if [ -n "$left" ]; then
  echo "docs: Sphinx roles rendered as literal text:" >&2
  echo "$left" >&2
  exit 1
fi
echo "docs: mkdocs build --strict passed; no literal Sphinx role in the site"
