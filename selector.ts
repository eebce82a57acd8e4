// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Readiness notification: {@linkcode openSelector} picks the backend, and
 * {@linkcode wake} ends a blocked `select()` from another thread.
 *
 * It owns the public entry of the readiness model; it must not know an
 * engine or switch on the OS (`_platform.ts` does).
 *
 * @module
 */

import { openSelectorHere, wakerHere } from "./_platform.ts";
import { describe } from "./backends/shared/_describe.ts";
import type { Selector, SelectorBackend } from "./types/selector.ts";
export type {
  RegisterOptions,
  Selector,
  SelectorBackend,
  SelectorKey,
  WaitOptions,
} from "./types/selector.ts";
export { Interest, Ready, type SelectorEvent, SelectorEvents } from "./types/selector.ts";

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
 * import { startConnectTcp, Interest, listenTcp, openSelector } from "@evented/io";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "windows") {
 *   using selector = openSelector<string>();
 *   equal(selector.backend, "afd");
 *   using listener = listenTcp({ port: 0 });
 *   selector.register(listener.fd, Interest.READABLE, { data: "listener" });
 *   using client = startConnectTcp({ port: listener.addr.port });
 *   const events = await selector.wait({ timeout: 5_000 });
 *   deepEqual(events.map((event) => event.data), ["listener"]);
 *   using server = listener.tryAccept()!;
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
  return openSelectorHere<T>(backend);
}

/** Wakes one selector from another thread; from {@linkcode openWaker}. */
export interface Waker extends Disposable {
  /** The handle this waker was opened for (the selector's `wakerHandle`). */
  readonly handle: number;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Makes the selector's blocked `select()`, or pending `wait()`, return;
   * with none blocked, its next call returns at once. After the selector
   * has closed it wakes nothing and touches no other fd or port.
   *
   * @throws {Deno.errors.BadResource} if the waker is closed, or (Windows) the handle it was
   *   opened for is no completion port
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
 * The waker owns a duplicate of the selector's eventfd (on Windows, of its
 * completion port's handle), made here: a waker that outlives its selector
 * wakes nothing, and never writes to a file (or posts to a port) that has
 * the handle's number later. Open it while the selector is open: the
 * handle is looked up now, and a number that has changed hands is what
 * {@linkcode wake} warns about. On Linux an fd that is not an eventfd is
 * refused (where /proc is mounted to tell).
 *
 * @param handle a selector's `wakerHandle`
 * @returns the waker; close it when done
 * @throws {TypeError} if `handle` is not an integer
 * @throws {RangeError} if `handle` is negative
 * @throws {Deno.errors.BadResource} if `handle` is not an open fd (Linux; or an fd that is
 *   not an eventfd) or handle (Windows)
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
  return openWakerFor(handle, `Cannot open waker for handle ${handle}`);
}

/** A waker of `handle`, checked already; `openAction` names a failure to open it. */
function openWakerFor(handle: number, openAction: string): Waker {
  const action = `Cannot wake selector handle ${handle}`;
  const { signal, release } = wakerHere(handle, openAction, action);
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
 * **The one-shot race.** A handle is a number, looked up when this is
 * called. If the selector has closed by then, the number may already
 * name something else, and that is what is signalled: on Linux only
 * another eventfd can be (another selector's waker, a port's, or one of
 * your own, whose counter then gains 1); any other fd is refused with
 * `BadResource` and left untouched (where /proc is mounted to tell). On
 * Windows another I/O completion port can be (it receives a packet with
 * key 1, which a port of your own would return from `get()`); a handle
 * that is no port is refused. So call it only while the selector is known
 * to be open, for instance before the thread that owns it is told it may
 * close it; a {@linkcode Waker}, opened while the selector is open, has no
 * such race afterwards.
 *
 * @param handle a selector's `wakerHandle`
 * @throws {TypeError} if `handle` is not an integer
 * @throws {RangeError} if `handle` is negative
 * @throws {Deno.errors.BadResource} if `handle` is not an open fd (Linux; or an fd that is
 *   not an eventfd) or completion port (Windows)
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
  using waker = openWakerFor(handle, `Cannot wake selector handle ${handle}`);
  waker.wake();
}
