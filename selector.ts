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
import { openAfdSelector, postWakeup } from "./backends/afd.ts";
import { openEpollSelector } from "./backends/epoll.ts";
import { openPollSelector } from "./backends/poll.ts";
import { acquireKernel32, releaseKernel32 } from "./ffi/kernel32.ts";
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
   * The engine: on Linux `"epoll"` (the default) or `"poll"` (poll(2),
   * O(n) per wait, for comparison and fallback); on Windows `"afd"` (the
   * default and only one: sockets, polled through `\Device\Afd`).
   */
  backend?: SelectorBackend;
}

/**
 * Opens a Selector: readiness notification for fds.
 *
 * On Linux it watches any fd epoll (or poll) can watch: pipes, sockets,
 * eventfds, terminals. On Windows the afd backend watches sockets (the
 * `fd` of this module's sockets is the SOCKET's value), level-triggered or
 * oneshot; other handles, and `edge` and `exclusive`, are
 * `Deno.errors.NotSupported` there.
 *
 * Needs `--allow-ffi`. The selector holds kernel objects until it is closed:
 * close it, or declare it with `using`.
 *
 * @typeParam T the type of the data registered with each fd
 * @param options the backend to use
 * @returns a new, empty selector
 * @throws {TypeError} if `options.backend` is not a backend name
 * @throws {Deno.errors.NotSupported} on an OS that has no Selector yet, or with a backend of
 *   another OS
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
 *
 * @example Wait for a connection on Windows
 * ```ts
 * import { connectTcp, Interest, listenTcp, openSelector } from "@evented/io";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "windows") {
 *   using selector = openSelector<string>();
 *   equal(selector.backend, "afd");
 *   using listener = listenTcp({ port: 0 });
 *   selector.register(listener.fd, Interest.READABLE, { data: "listener" });
 *   using client = connectTcp({ port: listener.addr.port });
 *   const events = await selector.wait({ timeout: 5_000 });
 *   deepEqual(events.map((event) => event.data), ["listener"]);
 *   using server = listener.accept()!;
 *   equal(server.remoteAddr.port, client.localAddr.port);
 *   selector.unregister(listener.fd);
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
  if (os === "windows") {
    if (backend !== undefined && backend !== "afd") {
      throw new Deno.errors.NotSupported(
        `Cannot open selector: the ${backend} backend is for Linux, not ${os}`,
      );
    }
    return openAfdSelector<T>();
  }
  if (os !== "linux") {
    throw new Deno.errors.NotSupported(
      `Cannot open selector on ${os}: no Selector backend exists for ${os} yet`,
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
   *   (Linux) or completion port (Windows)
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
 * Worker that wakes it more than once: it keeps libc (kernel32 on Windows)
 * bound in the Worker (binding it costs milliseconds), and each `wake()`
 * is one write(2) to the selector's eventfd (on Windows, one packet posted
 * to its completion port).
 *
 * The handle is valid only while the selector is open: after that, waking
 * writes to whatever fd (or completion port) has the number then. Close
 * the waker first.
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
 * if (Deno.build.os === "linux" || Deno.build.os === "windows") {
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
  const action = `Cannot wake selector handle ${handle}`;
  let signal: () => void;
  let release: () => void;
  if (Deno.build.os === "windows") {
    const k32 = acquireKernel32();
    const port = Deno.UnsafePointer.create(BigInt(handle));
    signal = () => postWakeup(k32, port, action);
    release = releaseKernel32;
  } else {
    const libc = acquireLibc();
    signal = () => signalEventFd(libc, handle, action);
    release = releaseLibc;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    release();
  };
  return {
    handle,
    get closed() {
      return closed;
    },
    wake() {
      if (closed) throw new Deno.errors.BadResource(`${action}: the waker is closed`);
      signal();
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
 * selector's handle writes to whatever fd (or completion port) now has
 * that number.
 *
 * @param handle a selector's `wakerHandle`
 * @throws {TypeError} if `handle` is not an integer
 * @throws {RangeError} if `handle` is negative
 * @throws {Deno.errors.BadResource} if `handle` is not an open fd (Linux) or completion
 *   port (Windows)
 *
 * @example A wakeup is kept until a select() takes it
 * ```ts
 * import { openSelector, wake } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux" || Deno.build.os === "windows") {
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
