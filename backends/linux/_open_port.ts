// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Which CompletionPort engine runs on Linux: io_uring where the kernel
 * allows it, else completions emulated over epoll.
 *
 * It owns the choice and its probe; it must not know how either engine
 * works.
 *
 * @module
 */

import { openEpollPort } from "./epoll_port.ts";
import { openIoUringPort } from "./io_uring.ts";
import type { PosixSockets } from "../_port_sockets.ts";
import { errnoName } from "../../ffi/errors.ts";
import { EACCES, ENOMEM, ENOSYS, EPERM } from "../../ffi/libc.ts";
import type { CompletionPort } from "../../types/completion_port.ts";

/** errnos with which io_uring_setup says "not here": fall back to epoll. */
const REFUSALS = new Set([
  EPERM, // io_uring_disabled = 2, or a seccomp/LSM policy (containers)
  EACCES, // io_uring_disabled = 1 and not in io_uring_group
  ENOSYS, // a kernel without io_uring (or the features this port needs), an emulator, a seccomp filter
  ENOMEM, // before Linux 5.12 the rings count against RLIMIT_MEMLOCK
]);

/** The errno of `error` if it is io_uring_setup refusing io_uring here, else undefined. */
function refusal(error: unknown): number | undefined {
  const errno = (error as { errno?: unknown } | undefined)?.errno;
  return typeof errno === "number" && REFUSALS.has(errno) ? errno : undefined;
}

/**
 * What the kernel answered when asked for an io_uring: usable, or refused
 * with an errno (ENOSYS from a kernel or an emulator without it, EPERM or
 * EACCES where it is disabled or filtered, ENOMEM under an old memlock
 * limit).
 *
 * @internal
 */
export type IoUringSupport =
  | { readonly usable: true }
  | { readonly usable: false; readonly errno: number; readonly code: string };

/**
 * Asks the kernel whether io_uring is usable here, the way
 * `openCompletionPort()` learns it: by opening an io_uring port (so by
 * `io_uring_setup` and its errno), then closing it. Needs `--allow-ffi`.
 * Tests use it to decide what to expect, never a sysctl: an emulator or a
 * seccomp profile refuses io_uring whatever `/proc` says.
 *
 * @returns usable, or the errno of the refusal
 * @throws {Error} an error of io_uring_setup that is no refusal (EMFILE…)
 *
 * @internal
 */
export function probeIoUring(): IoUringSupport {
  try {
    openIoUringPort().close();
    return { usable: true };
  } catch (error) {
    const errno = refusal(error);
    if (errno === undefined) throw error;
    return { usable: false, errno, code: errnoName(errno) };
  }
}

/** Options of {@linkcode openLinuxPort}. */
export interface LinuxPortHooks {
  /** Makes io_uring_setup fail with this errno, as a refusing kernel would (tests). */
  setupErrno?: number;
  /** The socket layer, for accept and connect. */
  sockets?: PosixSockets;
}

/**
 * Opens a CompletionPort on Linux. Without `backend`, io_uring is tried
 * first and a refused io_uring_setup (EPERM, EACCES, ENOSYS, ENOMEM) falls back to
 * epoll; a named backend is used or its error thrown.
 *
 * @internal
 */
export function openLinuxPort(
  backend: "io_uring" | "epoll" | undefined,
  hooks: LinuxPortHooks = {},
): CompletionPort {
  const { setupErrno, sockets } = hooks;
  if (backend === "epoll") return openEpollPort(sockets);
  try {
    return openIoUringPort({ setupErrno, sockets });
  } catch (error) {
    if (backend === undefined && refusal(error) !== undefined) return openEpollPort(sockets);
    throw error;
  }
}
