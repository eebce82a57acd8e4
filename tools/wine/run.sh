#!/usr/bin/env bash
# Runs the pinned Windows Deno under Wine 10 in the root setup.sh built:
#   tools/wine/run.sh test --allow-ffi tests/   ->  wine deno.exe test ...
# with the project as working directory (Z:\<its host path>). Exits with
# deno's exit code. Needs root (chroot, mount).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if [ ! -e "$ROOT_DONE" ] || [ ! -e "$PREFIX_DONE" ] || [ ! -x "$ROOT$DENO_EXE" ]; then
  echo "wine: not set up for Deno $DENO_VERSION; run tools/wine/setup.sh first" >&2
  exit 1
fi
# Under set -e a failing deno ends the script with its exit code; the EXIT
# trap set by in_root unmounts first.
in_root wine "$DENO_EXE" "$@"
