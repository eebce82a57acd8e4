// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The argument checks that the Selector, the fds and the sockets of both
 * OSes share: a buffer is a Uint8Array, an fd is a C int. A bad argument is
 * a TypeError naming the action, before any system call.
 *
 * It must not know a call, a kernel or an OS.
 *
 * @module
 */

import { describe } from "./_describe.ts";

/** The largest fd (fds are C ints; Windows handle values used as fds fit too). */
export const MAX_FD = 0x7fffffff;

/**
 * Throws unless `buffer` is a Uint8Array.
 *
 * @param action what was being done ("Cannot read fd 5")
 * @param buffer the argument
 * @throws {TypeError} naming the action and what was given
 */
export function checkBuffer(action: string, buffer: unknown): void {
  if (!(buffer instanceof Uint8Array)) {
    throw new TypeError(`${action}: buffer must be a Uint8Array, got ${describe(buffer)}`);
  }
}
