// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Completion notification: {@linkcode openCompletionPort} picks the backend.
 *
 * It owns the public entry of the completion model; it must not know an
 * engine or switch on the OS (`_platform.ts` does).
 *
 * @module
 */

import { openPortHere } from "./_platform.ts";
import { describe } from "./backends/shared/_describe.ts";
import type { CompletionBackend, CompletionPort } from "./types/completion_port.ts";
export type {
  Completion,
  CompletionBackend,
  CompletionPort,
  Handle,
  IoOptions,
} from "./types/completion_port.ts";

/** Options of {@linkcode openCompletionPort}. */
export interface OpenCompletionPortOptions {
  /**
   * IOCP's concurrency value: how many threads may run completions at once
   * (0, the default, means as many as there are processors). Other
   * backends ignore it.
   */
  concurrency?: number;
  /**
   * The engine: `"iocp"` on Windows (the default there); `"io_uring"` on
   * Linux (the default where the kernel allows it) or `"epoll"` (the
   * default where io_uring is missing, disabled or refused).
   */
  backend?: CompletionBackend;
}

/**
 * Opens a CompletionPort: completion notification for handles.
 *
 * Needs `--allow-ffi`. Close it (or declare it with `using` or
 * `await using`) to free it; an idle port keeps no process alive.
 *
 * @param options concurrency and backend
 * @returns a new port
 * @throws {TypeError} if an option has the wrong type
 * @throws {RangeError} if `concurrency` is not an integer from 0 to 2^32-1
 * @throws {Deno.errors.NotSupported} on an OS that has no CompletionPort yet, or with a backend of another OS
 * @throws {Error} with the errno `code` (`"EPERM"`, `"ENOSYS"`, …) if `backend: "io_uring"` is asked
 *   for and the kernel refuses it (without `backend`, Linux falls back to epoll then)
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Post a packet and take it back
 * ```ts
 * import { openCompletionPort } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * using port = openCompletionPort(); // iocp on Windows, io_uring (or epoll) on Linux
 * port.post(42, 5);
 * deepEqual(port.get(1_000).map(({ key, bytes }) => [key, bytes]), [[42, 5]]);
 * ```
 */
export function openCompletionPort(options: OpenCompletionPortOptions = {}): CompletionPort {
  const action = "Cannot open completion port";
  const { concurrency = 0, backend } = options;
  if (!Number.isInteger(concurrency) || concurrency < 0 || concurrency > 0xffffffff) {
    throw new RangeError(
      `${action}: concurrency must be an integer from 0 to 2^32-1, got ${describe(concurrency)}`,
    );
  }
  if (
    backend !== undefined && backend !== "iocp" && backend !== "io_uring" && backend !== "epoll"
  ) {
    throw new TypeError(
      `${action}: backend must be "iocp", "io_uring" or "epoll", got ${describe(backend)}`,
    );
  }
  return openPortHere(backend, concurrency);
}
