// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Which CompletionPort engine runs on Linux: io_uring where the kernel
 * allows it, else completions emulated over epoll.
 *
 * @module
 */

import type { CompletionPort } from "./_completion.ts";
import { openEpollPort } from "./epoll_port.ts";
import { openIoUringPort } from "./io_uring.ts";
import { EPERM } from "../ffi/libc.ts";

/** errnos with which io_uring_setup says "not here": fall back to epoll. */
const REFUSALS = new Set([
  EPERM, // io_uring_disabled = 2, or a seccomp/LSM policy (containers)
  13, // EACCES: io_uring_disabled = 1 and not in io_uring_group
  38, // ENOSYS: a kernel without io_uring (or the features this port needs), or a seccomp filter
  12, // ENOMEM: before Linux 5.12 the rings count against RLIMIT_MEMLOCK
]);

/** Test hooks of {@linkcode openLinuxPort}. */
export interface LinuxPortHooks {
  /** Makes io_uring_setup fail with this errno, as a refusing kernel would. */
  setupErrno?: number;
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
  if (backend === "epoll") return openEpollPort();
  try {
    return openIoUringPort({ setupErrno: hooks.setupErrno });
  } catch (error) {
    const errno = (error as { errno?: unknown }).errno;
    if (backend === undefined && typeof errno === "number" && REFUSALS.has(errno)) {
      return openEpollPort();
    }
    throw error;
  }
}
