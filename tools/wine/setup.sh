#!/usr/bin/env bash
# Builds, once per machine, what tools/wine/run.sh needs to run the project's
# Windows tests under Wine 10 (see "Windows, tested for real on Linux" in
# DESIGN.md): a Debian trixie root with wine, deno.exe (@deno/win32-x64 at the
# version pinned in denow) and an initialised WINEPREFIX. Each step is skipped
# when done; a half-done step (no marker) is wiped and redone. Needs root.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
say() { echo "wine-setup: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap, chroot, mount)"; exit 1; }
mkdir -p "$WINE_CACHE"
exec 7>"$WINE_CACHE/setup.lock"
flock 7 # one setup at a time

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi

# 1. The trixie root, from the Debian mirror apt already uses.
if [ ! -e "$ROOT_DONE" ]; then
  if [ -e "$ROOT" ]; then
    say "removing half-built $ROOT"
    # Unmount anything left mounted inside it first, deepest first.
    awk -v r="$ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo |
      sort -r | xargs -r -n1 umount -l
    rm -rf --one-file-system "$ROOT"
  fi
  mirror=${WINE_MIRROR:-$(grep -rhsE '^[^#]*https?://[^ ]+/debian/?( |$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/ |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  say "debootstrap trixie (minbase + wine, wine64) into $ROOT from $mirror"
  log=$WINE_CACHE/debootstrap.log
  say "  (a few minutes; log: $log)"
  debootstrap --variant=minbase --include=wine,wine64 trixie "$ROOT" "$mirror" \
    >"$log" 2>&1 || { tail -n 20 "$log" >&2; say "debootstrap failed"; exit 1; }
  chroot "$ROOT" sh -c "command -v wine" >/dev/null || { say "no wine in $ROOT"; exit 1; }
  rm -f "$ROOT"/var/cache/apt/archives/*.deb # 200 MB of downloaded packages
  mkdir -p "$ROOT/var/cache/deno-dir"
  touch "$ROOT_DONE"
else
  say "trixie root ready: $ROOT"
fi

# 2. deno.exe for Windows at the pinned version (npm pack skips the os check
# that npm install would apply).
if [ ! -x "$ROOT$DENO_EXE" ]; then
  say "fetching @deno/win32-x64@$DENO_VERSION from npm"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@deno/win32-x64@$DENO_VERSION" >/dev/null &&
    tar -xzf ./*.tgz package/deno.exe)
  mkdir -p "$ROOT/opt"
  chmod +x "$tmp/package/deno.exe"
  rm -rf "$ROOT/opt/deno-$DENO_VERSION.tmp" "$ROOT/opt/deno-$DENO_VERSION"
  mkdir "$ROOT/opt/deno-$DENO_VERSION.tmp"
  mv "$tmp/package/deno.exe" "$ROOT/opt/deno-$DENO_VERSION.tmp/"
  mv -T "$ROOT/opt/deno-$DENO_VERSION.tmp" "$ROOT/opt/deno-$DENO_VERSION"
else
  say "deno.exe $DENO_VERSION ready: $ROOT$DENO_EXE"
fi

# 3. The WINEPREFIX. Headless: no DISPLAY or xvfb needed (see in_root's
# WINEDLLOVERRIDES). Without wine32, wineboot's "failed to open
# syswow64\rundll32.exe" is expected and harmless for 64-bit deno.exe.
if [ ! -e "$PREFIX_DONE" ]; then
  say "initialising WINEPREFIX /opt/wineprefix (wineboot -i)"
  rm -rf "$ROOT/opt/wineprefix"
  (in_root sh -c 'wineboot -i && wineserver -w')
  touch "$PREFIX_DONE"
else
  say "WINEPREFIX ready"
fi
say "done; try: tools/wine/run.sh --version"
