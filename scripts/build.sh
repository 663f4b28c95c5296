#!/usr/bin/env bash
# Emits the DTMA's JavaScript: packages/{domain,adapters,http}/dist, beside each src (the same depth,
# so paths such as packages/http/node-flags resolve alike), relative imports rewritten from .ts to .js.
# No type check here (`pnpm typecheck` is that); the output is what Node's type stripping would run,
# without the stripper in the process (about 30 MB of an idle DTMA's memory: docs/performance.md).
# The packages resolve to it under the `dtma-built` export condition.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/bin:$PATH
for package in domain adapters http; do
  rm -rf "packages/$package/dist"
  pnpm -s exec tsc -p "packages/$package/tsconfig.build.json"
done
