// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The eventfds a selector uses to end a wait: written to wake, drained
 * after. Shared by the Linux backends and by the exported `wake()`.
 *
 * @module
 */

import { osError } from "../ffi/errors.ts";
import { EAGAIN, EFD_CLOEXEC, EFD_NONBLOCK, errno, type Libc } from "../ffi/libc.ts";

/** One 8-byte counter value, as eventfd reads and writes it. */
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);
/** Where drained counter values go. */
const SINK = new Uint8Array(8);

/**
 * Opens a nonblocking, close-on-exec eventfd.
 *
 * @internal
 */
export function openEventFd(libc: Libc, action: string, initial = 0, flags = 0): number {
  const fd = libc.eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC | flags);
  if (fd < 0) throw osError(`${action}: cannot open an eventfd`, errno());
  return fd;
}

/**
 * Adds one to an eventfd's counter. A counter at its maximum (EAGAIN) is
 * readable already, which is all a waker needs.
 *
 * @internal
 */
export function signalEventFd(libc: Libc, fd: number, action: string): void {
  if (libc.write(fd, ONE, 8n) < 0) {
    const e = errno();
    if (e !== EAGAIN) throw osError(action, e);
  }
}

/**
 * Resets an eventfd's counter to zero; an empty one is left as it is.
 *
 * @internal
 */
export function drainEventFd(libc: Libc, fd: number): void {
  libc.read(fd, SINK, 8n);
}
