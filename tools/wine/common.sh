# shellcheck shell=bash disable=SC2034  # (variables used by the sourcing scripts)
# Shared by setup.sh and run.sh (sourced, not run): where the Wine root lives,
# and in_root, which runs a command chrooted in it.
#
# The root is a machine-wide cache outside any clone, so every clone on this
# machine reuses it. Inside it: /opt/wineprefix (WINEPREFIX),
# /opt/deno-VERSION/deno.exe, /var/cache/deno-dir (DENO_DIR), and each project
# bind-mounted at its own host path while a run needs it.
WINE_CACHE=${EVENTED_IO_WINE_CACHE:-/var/cache/evented-io}
ROOT=$WINE_CACHE/wine-trixie
PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# The Deno version is written only in denow; read it from there.
DENO_VERSION=$(sed -n 's/^DENO_VERSION=//p' "$PROJECT/denow")
[ -n "$DENO_VERSION" ] || { echo "wine: no DENO_VERSION= in $PROJECT/denow" >&2; exit 1; }
DENO_EXE=/opt/deno-$DENO_VERSION/deno.exe       # path inside the root
ROOT_DONE=$ROOT/.evented-io-root-done           # markers, each written last
PREFIX_DONE=$ROOT/opt/wineprefix/.evented-io-prefix-done

# in_root CMD...: run CMD inside the root, cwd = the project, with /proc, /dev
# and the project mounted. Concurrent runs share the mounts: a run holds a
# shared lock on users.lock while inside; mount.lock serialises mounting and
# unmounting; whoever leaves last unmounts. Mounts left by a killed run are
# reused, then removed by the next run to leave.
in_root() {
  exec 8>"$WINE_CACHE/mount.lock" 9>"$WINE_CACHE/users.lock"
  flock 8
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  if ! mountpoint -q "$ROOT/dev"; then
    mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev"
  fi
  mkdir -p "$ROOT$PROJECT"
  mountpoint -q "$ROOT$PROJECT" || mount --bind "$PROJECT" "$ROOT$PROJECT"
  flock -s 9
  flock -u 8
  trap release_root EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # A clean environment (Wine hands every variable to Windows programs); the
  # lock fds are closed so a lingering wineserver does not hold them.
  # WINEDLLOVERRIDES: no Mono/Gecko install prompts, and no display drivers
  # (headless: Wine falls back to its null driver instead of complaining
  # about XDG_RUNTIME_DIR / X11).
  chroot "$ROOT" /usr/bin/env -i -C "$PROJECT" \
    PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    TERM="${TERM:-dumb}" ${NO_COLOR+NO_COLOR="$NO_COLOR"} ${CI+CI="$CI"} \
    WINEPREFIX=/opt/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml,winewayland.drv,winex11.drv=' \
    'DENO_DIR=Z:\var\cache\deno-dir' DENO_NO_UPDATE_CHECK=1 \
    "$@" 8>&- 9>&-
}

# Exit trap of in_root: unmount if no other run is inside (the shared lock on
# users.lock turns exclusive only when nobody else holds it).
release_root() {
  flock 8
  if flock -xn 9; then
    umount -l "$ROOT$PROJECT" 2>/dev/null || true
    umount -Rl "$ROOT/dev" 2>/dev/null || true
    umount -l "$ROOT/proc" 2>/dev/null || true
  fi
  flock -u 8
}
