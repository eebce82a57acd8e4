#!/usr/bin/env bash
# Installs, once per machine, what tools/aarch64/run.sh needs to run the
# project's Linux suite on aarch64 under emulation: Debian's qemu-user-static
# and arm64 cross libc (the sysroot), Deno's aarch64 build from the npm
# registry (@deno/linux-arm64-glibc at the version pinned in denow), and,
# where the machine allows it, the binfmt_misc registration that lets the
# emulated Deno start aarch64 child processes. Each step is skipped when
# done; a half-done one is redone. Installing needs root; a machine that
# already has everything does not.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
say() { echo "aarch64-setup: $*" >&2; }
root() { [ "$(id -u)" = 0 ] || { say "must run as root to $*"; exit 1; }; }

# 1. The emulator and the sysroot, from Debian's packages.
missing=()
for package in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  root "install ${missing[*]}"
  say "installing ${missing[*]} (apt-get)"
  # Not qemu-user-binfmt nor binfmt-support: step 3 registers the one format needed.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
else
  say "qemu-user-static and the arm64 sysroot ready"
fi
if [ ! -x "$QEMU" ] || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
  say "no $QEMU or no $SYSROOT/lib/ld-linux-aarch64.so.1 after installing"
  exit 1
fi

mkdir -p "$AARCH64_CACHE"
exec 7>"$AARCH64_CACHE/setup.lock"
flock 7 # one setup at a time

# 2. Deno for aarch64 at the pinned version, unpacked beside the cache's
# others and moved into place whole (npm pack skips the cpu check that npm
# install would apply). A half-done download is a leftover .tmp: redone.
version=$("$QEMU" -L "$SYSROOT" "$DENO_AARCH64" --version 2>/dev/null || true)
if [[ "$version" != "deno $DENO_VERSION "* ]]; then
  say "fetching @deno/linux-arm64-glibc@$DENO_VERSION from npm"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@deno/linux-arm64-glibc@$DENO_VERSION" >/dev/null &&
    tar -xzf ./*.tgz package/deno)
  chmod +x "$tmp/package/deno"
  dir=$(dirname "$DENO_AARCH64")
  rm -rf "$dir.tmp" "$dir"
  mkdir "$dir.tmp"
  mv "$tmp/package/deno" "$dir.tmp/"
  mv -T "$dir.tmp" "$dir"
  "$QEMU" -L "$SYSROOT" "$DENO_AARCH64" --version | head -n1 >&2
else
  rm -rf "$(dirname "$DENO_AARCH64").tmp" # what a killed setup may have left
  say "deno $DENO_VERSION for aarch64 ready: $DENO_AARCH64"
fi
mkdir -p "$DENO_DIR_AARCH64"

# 3. binfmt_misc, where the machine allows it: without it the suite still
# runs (run.sh starts Deno through qemu itself), but the tests that start
# child processes say that they cannot.
binfmt_ready() { [ "$(head -n1 "$BINFMT_DIR/$BINFMT_NAME" 2>/dev/null)" = enabled ]; }
if binfmt_ready; then
  say "binfmt_misc runs aarch64 programs through $(sed -n 's/^interpreter //p' "$BINFMT_DIR/$BINFMT_NAME")"
elif [ "$(id -u)" != 0 ]; then
  say "binfmt_misc has no $BINFMT_NAME and registering one needs root: child processes cannot run"
else
  if [ ! -e "$BINFMT_DIR/register" ]; then
    mount -t binfmt_misc binfmt_misc "$BINFMT_DIR" 2>/dev/null || true
  fi
  if [ -e "$BINFMT_DIR/$BINFMT_NAME" ]; then
    echo 1 >"$BINFMT_DIR/$BINFMT_NAME" 2>/dev/null || true # registered but disabled
  elif [ -w "$BINFMT_DIR/register" ] && [ -e "$BINFMT_CONF" ]; then
    # Debian's line, with F: the interpreter is opened now, so it is found
    # whatever the child's root or mounts.
    grep -v '^#' "$BINFMT_CONF" | head -n1 >"$BINFMT_DIR/register" 2>/dev/null || true
  fi
  if binfmt_ready; then
    say "registered $BINFMT_NAME with binfmt_misc: aarch64 child processes run under qemu"
  else
    say "cannot register $BINFMT_NAME with binfmt_misc here: child processes cannot run"
  fi
fi
say "done; try: tools/aarch64/run.sh --version"
