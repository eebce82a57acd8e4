# shellcheck shell=bash disable=SC2034  # (variables used by the sourcing scripts)
# Shared by setup.sh and run.sh (sourced, not run): where the aarch64 Deno,
# its sysroot and the emulator live.
#
# Deno's own aarch64 build (npm package @deno/linux-arm64-glibc, at the
# version pinned in denow) runs under qemu-user (Debian's qemu-user-static)
# with Debian's arm64 cross libc as its sysroot. The Deno binary and its
# DENO_DIR are kept in a machine-wide cache outside any clone, so every
# clone on this machine reuses them.
AARCH64_CACHE=${EVENTED_IO_AARCH64_CACHE:-/var/cache/evented-io-aarch64}
PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# The Deno version is written only in denow; read it from there.
DENO_VERSION=$(sed -n 's/^DENO_VERSION=//p' "$PROJECT/denow")
[ -n "$DENO_VERSION" ] || { echo "aarch64: no DENO_VERSION= in $PROJECT/denow" >&2; exit 1; }
DENO_AARCH64=$AARCH64_CACHE/deno-$DENO_VERSION/deno
DENO_DIR_AARCH64=$AARCH64_CACHE/deno-dir
QEMU=/usr/bin/qemu-aarch64-static
# Where libc6-arm64-cross (and libgcc-s1-arm64-cross, which Deno links
# against) put the aarch64 loader and libraries: qemu's -L, QEMU_LD_PREFIX.
SYSROOT=/usr/aarch64-linux-gnu
# Debian's packages: the emulator, and the sysroot.
PACKAGES=(qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross)
# binfmt_misc: the kernel runs aarch64 ELF files through qemu, so that a
# child process the emulated Deno starts (Deno.execPath(), an example) is
# emulated too. Debian's own registration line for it is used.
BINFMT_DIR=/proc/sys/fs/binfmt_misc
BINFMT_NAME=qemu-aarch64
BINFMT_CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
