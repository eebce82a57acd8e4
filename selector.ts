// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Readiness notification: {@linkcode openSelector} picks the backend, and
 * {@linkcode wake} ends a blocked `select()` from another thread.
 *
 * @module
 */

import { describe } from "./backends/_events.ts";
import type { Selector, SelectorBackend } from "./backends/_selector.ts";
import { signalEventFd } from "./backends/_linux.ts";
import { openEpollSelector } from "./backends/epoll.ts";
import { openPollSelector } from "./backends/poll.ts";
import { acquireLibc, releaseLibc } from "./ffi/libc.ts";

export type {
  RegisterOptions,
  Selector,
  SelectorBackend,
  SelectorKey,
  WaitOptions,
} from "./backends/_selector.ts";
export { Interest, Ready, type SelectorEvent, SelectorEvents } from "./backends/_events.ts";

/** Options of {@linkcode openSelector}. */
export interface OpenSelectorOptions {
  /**
   * The engine: `"epoll"` (the default on Linux), `"poll"` (poll(2), O(n)
   * per wait, for comparison and fallback), or `"afd"` (Windows, not yet).
   */
  backend?: SelectorBackend;
}

/**
 * Opens a Selector: readiness notification for fds.
 *
 * Needs `--allow-ffi`. The selector holds kernel objects until it is closed:
 * close it, or declare it with `using`.
 *
 * @typeParam T the type of the data registered with each fd
 * @param options the backend to use
 * @returns a new, empty selector
 * @throws {TypeError} if `options.backend` is not a backend name
 * @throws {Deno.errors.NotSupported} on an OS, or with a backend, that has no Selector yet
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Wait for a pipe to turn readable
 * ```ts
 * import { Interest, openPipe, openSelector } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using selector = openSelector<string>();
 *   using pipe = openPipe();
 *   selector.register(pipe.reader.fd, Interest.READABLE, { data: "pipe" });
 *
 *   setTimeout(() => pipe.writer.tryWrite(new TextEncoder().encode("hi")), 10);
 *   const events = await selector.wait({ timeout: 5_000 });
 *   deepEqual(events.map((event) => event.data), ["pipe"]);
 *   selector.unregister(pipe.reader.fd);
 * }
 * ```
 */
export function openSelector<T = unknown>(options: OpenSelectorOptions = {}): Selector<T> {
  const backend = options.backend;
  if (backend !== undefined && backend !== "epoll" && backend !== "poll" && backend !== "afd") {
    throw new TypeError(
      `Cannot open selector: backend must be "epoll", "poll" or "afd", got ${describe(backend)}`,
    );
  }
  const os = Deno.build.os;
  if (os !== "linux") {
    throw new Deno.errors.NotSupported(
      `Cannot open selector on ${os}: no Selector backend exists for ${os} yet` +
        (os === "windows" ? " (the afd backend is planned)" : ""),
    );
  }
  switch (backend ?? "epoll") {
    case "epoll":
      return openEpollSelector<T>();
    case "poll":
      return openPollSelector<T>();
    default:
      throw new Deno.errors.NotSupported(
        `Cannot open selector: the afd backend is for Windows, not ${os}`,
      );
  }
}

/** Wakes one selector from another thread; from {@linkcode openWaker}. */
export interface Waker extends Disposable {
  /** The handle this waker wakes. */
  readonly handle: number;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Makes the selector's blocked `select()`, or pending `wait()`, return;
   * with none blocked, its next call returns at once.
   *
   * @throws {Deno.errors.BadResource} if the waker is closed, or the handle is no open fd
   */
  wake(): void;
  /** Releases the waker (not the selector); idempotent. */
  close(): void;
}

function checkHandle(action: string, handle: unknown): number {
  if (typeof handle !== "number" || !Number.isInteger(handle)) {
    throw new TypeError(`${action}: handle must be an integer, got ${describe(handle)}`);
  }
  if (handle < 0 || handle > 0x7fffffff) {
    throw new RangeError(`${action}: handle must be from 0 to 2147483647, got ${handle}`);
  }
  return handle;
}

/**
 * Opens a waker for the selector whose `wakerHandle` is `handle`, for a
 * Worker that wakes it more than once: it keeps libc bound in the Worker
 * (binding it costs milliseconds), and each `wake()` is one write(2).
 *
 * The handle is valid only while the selector is open: after that, waking
 * writes to whatever fd has the number then. Close the waker first.
 *
 * @param handle a selector's `wakerHandle`
 * @returns the waker; close it when done
 * @throws {TypeError} if `handle` is not an integer
 * @throws {RangeError} if `handle` is negative
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Wake a selector twice
 * ```ts
 * import { openSelector, openWaker } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using selector = openSelector();
 *   // In a Worker, given selector.wakerHandle by postMessage:
 *   using waker = openWaker(selector.wakerHandle);
 *   waker.wake();
 *   deepEqual(selector.select(), []); // returns at once
 *   waker.wake();
 *   deepEqual(selector.select(), []);
 * }
 * ```
 */
export function openWaker(handle: number): Waker {
  checkHandle(`Cannot open waker for handle ${describe(handle)}`, handle);
  const libc = acquireLibc();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    releaseLibc();
  };
  return {
    handle,
    get closed() {
      return closed;
    },
    wake() {
      if (closed) {
        throw new Deno.errors.BadResource(
          `Cannot wake selector handle ${handle}: the waker is closed`,
        );
      }
      signalEventFd(libc, handle, `Cannot wake selector handle ${handle}`);
    },
    close,
    [Symbol.dispose]: close,
  };
}

/**
 * Wakes the selector whose `wakerHandle` is `handle`: its blocked
 * `select()`, or pending `wait()`, returns. Meant for a Worker, since a
 * thread blocked in `select()` cannot call anything itself. Where no
 * selector or fd of this module is open on the calling thread, each call
 * binds libc anew (milliseconds): to wake repeatedly, use
 * {@linkcode openWaker}.
 *
 * The handle is only valid while the selector is open: waking a closed
 * selector's handle writes to whatever fd now has that number.
 *
 * @param handle a selector's `wakerHandle`
 * @throws {TypeError} if `handle` is not an integer
 * @throws {RangeError} if `handle` is negative
 * @throws {Deno.errors.BadResource} if `handle` is not an open fd
 *
 * @example A wakeup is kept until a select() takes it
 * ```ts
 * import { openSelector, wake } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using selector = openSelector();
 *   // A Worker given selector.wakerHandle would call this while select() blocks.
 *   wake(selector.wakerHandle);
 *   deepEqual(selector.select(), []); // returns at once, with no events
 * }
 * ```
 */
export function wake(handle: number): void {
  checkHandle(`Cannot wake selector handle ${describe(handle)}`, handle);
  using waker = openWaker(handle);
  waker.wake();
}
