// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The eventfds the Linux engines use to end a wait (written to wake,
 * drained after; the exported `wake()` and a `Waker` write them too, each
 * through a duplicate of its own).
 *
 * It must not know a Selector's key table or a port's operations: it only
 * opens, duplicates, writes and drains eventfds.
 *
 * @module
 */

import { osError } from "../../ffi/errors.ts";
import {
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  errno,
  F_DUPFD_CLOEXEC,
  type Libc,
} from "../../ffi/libc.ts";

/** One 8-byte counter value, as eventfd reads and writes it. */
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);
/** Where drained counter values go. */
const SINK = new Uint8Array(8);

/**
 * Opens a nonblocking, close-on-exec eventfd.
 *
 * @internal
 */
export function createEventFd(libc: Libc, action: string, initial = 0, flags = 0): number {
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

/** What `/proc/self/fd/N` links to for an eventfd. */
const EVENTFD_LINK = "anon_inode:[eventfd]";
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LINK_SIZE = 256;

/**
 * What an fd is, as `/proc/self/fd/<fd>` names it (`"pipe:[1234]"`,
 * `"anon_inode:[eventfd]"`, a path), or `undefined` where /proc cannot
 * tell (not mounted).
 */
function fdLink(libc: Libc, fd: number): string | undefined {
  const link = new Uint8Array(LINK_SIZE);
  const n = libc.readlink(encoder.encode(`/proc/self/fd/${fd}\0`), link, BigInt(LINK_SIZE));
  return n < 0 ? undefined : decoder.decode(link.subarray(0, n));
}

/**
 * Duplicates a selector's waker eventfd (close-on-exec), for a waker to
 * own: what it writes then reaches that eventfd or nothing, never a file
 * that has the number later. An fd that is not an eventfd is refused and
 * left untouched (where /proc is mounted to tell).
 *
 * @throws {Deno.errors.BadResource} if `fd` is not open (EBADF) or is no eventfd
 * @internal
 */
export function duplicateEventFd(libc: Libc, fd: number, action: string): number {
  const copy = libc.fcntl_arg(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw osError(action, errno());
  // Looked at through the copy: the number may change hands meanwhile, the copy cannot.
  const link = fdLink(libc, copy);
  if (link !== undefined && link !== EVENTFD_LINK) {
    libc.close(copy);
    throw new Deno.errors.BadResource(
      `${action}: fd ${fd} is not a selector's waker (an eventfd), it is ${link}`,
    );
  }
  return copy;
}
