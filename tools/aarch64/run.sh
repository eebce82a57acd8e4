#!/usr/bin/env bash
# Runs the pinned Deno's aarch64 build under qemu-user, with the project as
# working directory:
#   tools/aarch64/run.sh test --allow-ffi tests/  ->  (aarch64) deno test ...
# Exits with deno's exit code. Child processes it starts (Deno.execPath(),
# examples) run under qemu too where tools/aarch64/setup.sh could register
# binfmt_misc; QEMU_LD_PREFIX, which they inherit, names their sysroot.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if [ ! -x "$DENO_AARCH64" ] || [ ! -x "$QEMU" ]; then
  echo "aarch64: not set up for Deno $DENO_VERSION; run tools/aarch64/setup.sh first" >&2
  exit 1
fi
cd "$PROJECT"
export QEMU_LD_PREFIX=$SYSROOT DENO_DIR=$DENO_DIR_AARCH64 DENO_NO_UPDATE_CHECK=1
# Started by the kernel, as a child process would be: through binfmt_misc.
if ! "$DENO_AARCH64" --version >/dev/null 2>&1; then
  echo "aarch64: this machine cannot start aarch64 programs (no binfmt_misc registration):" \
    "tests that start Deno.execPath() or the examples will fail" >&2
fi
exec "$QEMU" "$DENO_AARCH64" "$@"
