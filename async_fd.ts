// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Any fd a program holds, awaited: {@linkcode watchFd} turns the fd of a
 * native library (libpq's `PQsocket()`, an inotify or timerfd fd, a serial
 * tty, a child's pipe) into an {@linkcode AsyncFd} with readiness waits,
 * `read()`/`write()` and web streams, as tokio's `AsyncFd`, libuv's
 * `uv_poll` and Python's `add_reader` do.
 *
 * It owns the checks of `watchFd()`'s arguments; it must not know the
 * reactor or an OS (`_platform.ts` picks the code for each).
 *
 * @module
 */

import { watchFdHere } from "./_platform.ts";
import { MAX_FD } from "./backends/shared/_checks.ts";
import { describe } from "./backends/shared/_describe.ts";
import type { AsyncFd, WatchFdOptions } from "./types/async_fd.ts";

export type { AsyncFd, AsyncStream, ReadyOptions, WatchFdOptions } from "./types/async_fd.ts";

/**
 * Watches an fd the program holds, so that it can be awaited. The fd's mode
 * is left alone unless `nonblocking` is set; reads and writes need it
 * nonblocking (a read that blocks would block the event loop), while
 * readiness waits work on any pollable fd. Unregister a foreign fd from
 * your own selectors before closing it; `close()` stops watching it (and
 * closes it only if `owned`).
 *
 * @param fd the fd (Linux: any pollable fd; Windows: a SOCKET's value)
 * @param options whether the object owns the fd, and whether to make it nonblocking
 * @returns the watched fd; close it when done
 * @throws {TypeError} if `fd` is not an integer, or an option has the wrong type
 * @throws {RangeError} if `fd` is negative or above 2^31-1
 * @throws {Deno.errors.BadResource} if `fd` is not open (not a socket, on Windows)
 * @throws {Deno.errors.NotSupported} for a regular file or a directory (always ready), or on an OS without a reactor
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Await an fd a native library hands over
 * ```ts
 * import { openPipe, watchFd } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using pipe = openPipe(); // stands for the fd of a native library
 *   using watched = watchFd(pipe.reader.fd); // not owned: close() leaves the fd open
 *   setTimeout(() => pipe.writer.tryWrite(new Uint8Array([1, 2, 3])), 10);
 *   await watched.waitReadable({ timeout: 5_000 });
 *   const buffer = new Uint8Array(8);
 *   deepEqual(await watched.read(buffer), 3);
 * }
 * ```
 */
export function watchFd(fd: number, options: WatchFdOptions = {}): AsyncFd {
  if (typeof fd !== "number" || !Number.isInteger(fd)) {
    throw new TypeError(`Cannot watch fd ${describe(fd)}: fd must be an integer`);
  }
  if (fd < 0 || fd > MAX_FD) {
    throw new RangeError(`Cannot watch fd ${fd}: fd must be from 0 to ${MAX_FD}`);
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot watch fd ${fd}: options must be an object, got ${describe(options)}`,
    );
  }
  const owned = options.owned ?? false;
  if (typeof owned !== "boolean") {
    throw new TypeError(`Cannot watch fd ${fd}: owned must be a boolean, got ${describe(owned)}`);
  }
  const nonblocking = options.nonblocking ?? false;
  if (typeof nonblocking !== "boolean") {
    throw new TypeError(
      `Cannot watch fd ${fd}: nonblocking must be a boolean, got ${describe(nonblocking)}`,
    );
  }
  return watchFdHere(fd, owned, nonblocking);
}
