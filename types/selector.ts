// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What a Selector is, for its users: the engines, the interest and ready
 * bits, the registration options and keys, the events and the reusable
 * event buffer ({@linkcode SelectorEvents}), and the `Selector` interface
 * itself. Public (through `selector.ts` and `mod.ts`); no I/O: engines
 * live in `backends/`.
 *
 * @module
 */

import { describe } from "../backends/shared/_describe.ts";

/**
 * The directions a Selector watches an fd for; combine them with `|`.
 *
 * @example Watch a pipe for reading and writing
 * ```ts
 * import { Interest } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * const both = Interest.READABLE | Interest.WRITABLE;
 * deepEqual(both, 5);
 * ```
 */
export const Interest = {
  /** The fd has data to read, a connection to accept, or an end of stream. */
  READABLE: 1,
  /** The fd has urgent (out-of-band) data: EPOLLPRI / POLLPRI. */
  PRIORITY: 2,
  /** The fd can take data without blocking. */
  WRITABLE: 4,
} as const;

/**
 * The bits of {@linkcode SelectorEvents.flags}: the {@linkcode Interest}
 * directions plus the conditions a kernel reports without being asked.
 *
 * @example Test one event's flags
 * ```ts
 * import { Ready } from "@evented/io";
 * import { ok } from "node:assert/strict";
 *
 * const flags = Ready.READABLE | Ready.READ_HANGUP;
 * ok(flags & Ready.READ_HANGUP);
 * ```
 */
export const Ready = {
  /** Same bit as {@linkcode Interest.READABLE}. */
  READABLE: 1,
  /** Same bit as {@linkcode Interest.PRIORITY}. */
  PRIORITY: 2,
  /** Same bit as {@linkcode Interest.WRITABLE}. */
  WRITABLE: 4,
  /** An error is pending on the fd (EPOLLERR / POLLERR; POLLNVAL on poll). */
  ERROR: 8,
  /** Both directions are shut down, or the peer is gone (EPOLLHUP / POLLHUP). */
  HANGUP: 16,
  /** The peer shut down its writing side (EPOLLRDHUP / POLLRDHUP). */
  READ_HANGUP: 32,
} as const;

/**
 * One readiness event, as returned by `Selector.select()` and
 * `Selector.wait()`.
 */
export interface SelectorEvent<T = unknown> {
  /** The fd that is ready. */
  readonly fd: number;
  /** The `data` the fd was registered with. */
  readonly data: T | undefined;
  /** Data can be read (also set by error or hangup when READABLE was asked for). */
  readonly readable: boolean;
  /** Data can be written (also set by error or hangup when WRITABLE was asked for). */
  readonly writable: boolean;
  /** Urgent data can be read. */
  readonly priority: boolean;
  /** An error is pending on the fd. */
  readonly error: boolean;
  /** The fd is hung up: no more data will come or go. */
  readonly hangup: boolean;
  /** The peer shut down its writing side: reads will reach end of stream. */
  readonly readHangup: boolean;
}

/** @internal The storage behind a {@linkcode SelectorEvents}, filled by backends. */
export interface EventStore<T> {
  fds: Int32Array;
  flags: Uint8Array;
  data: (T | undefined)[];
  length: number;
}

let storeOf: <T>(events: SelectorEvents<T>) => EventStore<T>;

/** The largest capacity an event buffer may be created with. */
const MAX_CAPACITY = 1 << 24;

/**
 * A reusable event buffer, like mio's `Events`: `Selector.selectInto()` and
 * `Selector.waitInto()` fill it, and event `i` is read without allocating.
 *
 * It grows by itself when a call has more events than it can hold (a
 * selector returns every ready fd in one call), so the capacity given is
 * only where it starts.
 *
 * @typeParam T the type of the data registered with each fd
 *
 * @example Read events without allocating
 * ```ts
 * import { openPipe, openSelector, Interest, SelectorEvents } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using selector = openSelector<string>();
 *   using pipe = openPipe();
 *   selector.register(pipe.reader.fd, Interest.READABLE, { data: "pipe" });
 *   pipe.writer.tryWrite(new Uint8Array([1]));
 *
 *   const events = new SelectorEvents<string>();
 *   const n = selector.selectInto(events, 0);
 *   for (let i = 0; i < n; i++) {
 *     deepEqual(events.data(i), "pipe");
 *     deepEqual(events.readable(i), true);
 *   }
 *   selector.unregister(pipe.reader.fd);
 * }
 * ```
 */
export class SelectorEvents<T = unknown> {
  #store: EventStore<T>;

  static {
    storeOf = <T>(events: SelectorEvents<T>) => events.#store;
  }

  /**
   * Creates an empty event buffer.
   *
   * @param capacity how many events it holds before it first grows (default 64)
   * @throws {RangeError} if `capacity` is not an integer from 1 to 2^24
   */
  constructor(capacity = 64) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new RangeError(
        `Cannot create SelectorEvents: capacity must be an integer from 1 to ${MAX_CAPACITY}, got ${
          describe(capacity)
        }`,
      );
    }
    this.#store = {
      fds: new Int32Array(capacity),
      flags: new Uint8Array(capacity),
      data: new Array(capacity).fill(undefined),
      length: 0,
    };
  }

  /** How many events the buffer holds before it grows. */
  get capacity(): number {
    return this.#store.fds.length;
  }

  /** The number of events filled by the last call. */
  get length(): number {
    return this.#store.length;
  }

  /**
   * The fd of event `i`.
   *
   * @param i the event's index, from 0 to `length - 1`
   * @returns the fd, or -1 when `i` is out of range
   */
  fd(i: number): number {
    const store = this.#store;
    return typeof i === "number" && i >= 0 && i < store.length ? store.fds[i] : -1;
  }

  /**
   * The data registered with the fd of event `i`.
   *
   * @param i the event's index
   * @returns the data, or `undefined` when `i` is out of range
   */
  data(i: number): T | undefined {
    const store = this.#store;
    return typeof i === "number" && i >= 0 && i < store.length ? store.data[i] : undefined;
  }

  /**
   * All readiness bits of event `i`, as {@linkcode Ready} values.
   *
   * @param i the event's index
   * @returns the bits, or 0 when `i` is out of range
   */
  flags(i: number): number {
    const store = this.#store;
    return typeof i === "number" && i >= 0 && i < store.length ? store.flags[i] : 0;
  }

  /**
   * Whether event `i` is readable (error and hangup count when READABLE was asked for).
   *
   * @param i the event's index
   * @returns whether the bit is set
   */
  readable(i: number): boolean {
    return (this.flags(i) & Ready.READABLE) !== 0;
  }

  /**
   * Whether event `i` is writable (error and hangup count when WRITABLE was asked for).
   *
   * @param i the event's index
   * @returns whether the bit is set
   */
  writable(i: number): boolean {
    return (this.flags(i) & Ready.WRITABLE) !== 0;
  }

  /**
   * Whether event `i` has urgent data.
   *
   * @param i the event's index
   * @returns whether the bit is set
   */
  priority(i: number): boolean {
    return (this.flags(i) & Ready.PRIORITY) !== 0;
  }

  /**
   * Whether event `i` has an error pending.
   *
   * @param i the event's index
   * @returns whether the bit is set
   */
  error(i: number): boolean {
    return (this.flags(i) & Ready.ERROR) !== 0;
  }

  /**
   * Whether event `i` is hung up.
   *
   * @param i the event's index
   * @returns whether the bit is set
   */
  hangup(i: number): boolean {
    return (this.flags(i) & Ready.HANGUP) !== 0;
  }

  /**
   * Whether the peer of event `i` shut down its writing side.
   *
   * @param i the event's index
   * @returns whether the bit is set
   */
  readHangup(i: number): boolean {
    return (this.flags(i) & Ready.READ_HANGUP) !== 0;
  }

  /**
   * Copies the filled events into objects (this allocates).
   *
   * @returns one {@linkcode SelectorEvent} per filled event
   */
  toArray(): SelectorEvent<T>[] {
    const { fds, flags, data, length } = this.#store;
    const result: SelectorEvent<T>[] = new Array(length);
    for (let i = 0; i < length; i++) result[i] = toEvent(fds[i], flags[i], data[i]);
    return result;
  }

  /**
   * Iterates over the filled events as objects (this allocates).
   *
   * @returns an iterator of {@linkcode SelectorEvent}
   */
  [Symbol.iterator](): IterableIterator<SelectorEvent<T>> {
    return this.toArray()[Symbol.iterator]();
  }
}

function toEvent<T>(fd: number, flags: number, data: T | undefined): SelectorEvent<T> {
  return {
    fd,
    data,
    readable: (flags & Ready.READABLE) !== 0,
    writable: (flags & Ready.WRITABLE) !== 0,
    priority: (flags & Ready.PRIORITY) !== 0,
    error: (flags & Ready.ERROR) !== 0,
    hangup: (flags & Ready.HANGUP) !== 0,
    readHangup: (flags & Ready.READ_HANGUP) !== 0,
  };
}

/**
 * @internal Returns the storage of `events` with room for `capacity` events,
 * growing it (the only allocation) when it is too small.
 */
export function eventStore<T>(events: SelectorEvents<T>, capacity: number): EventStore<T> {
  const store = storeOf(events);
  if (store.fds.length < capacity) {
    let size = store.fds.length * 2;
    while (size < capacity) size *= 2;
    const fds = new Int32Array(size);
    fds.set(store.fds);
    const flags = new Uint8Array(size);
    flags.set(store.flags);
    store.fds = fds;
    store.flags = flags;
    const oldSize = store.data.length;
    store.data.length = size;
    store.data.fill(undefined, oldSize);
  }
  return store;
}

/**
 * @internal Sets how many events a backend filled, and drops the data
 * references of the events beyond them so that they can be collected.
 */
export function setEventCount<T>(store: EventStore<T>, length: number): void {
  const data = store.data;
  for (let i = length; i < store.length; i++) data[i] = undefined;
  store.length = length;
}

/**
 * @internal Empties `events` (a call that filled nothing) and returns 0.
 */
export function clearEvents<T>(events: SelectorEvents<T>): 0 {
  setEventCount(storeOf(events), 0);
  return 0;
}

/** The engines a Selector can run on. */
export type SelectorBackend = "epoll" | "poll" | "afd";

/** How an fd is registered with a Selector. */
export interface RegisterOptions<T = unknown> {
  /** A value handed back with every event for this fd. */
  data?: T;
  /** Edge-triggered: report a direction only when it becomes ready (default level-triggered). */
  edge?: boolean;
  /** Disarm the fd after one event until `modify()` re-arms it. */
  oneshot?: boolean;
  /**
   * EPOLLEXCLUSIVE (epoll only, `register()` only): when several selectors
   * watch one fd, wake only one of them. Only with READABLE/WRITABLE and
   * `edge`; not with `oneshot` or PRIORITY.
   */
  exclusive?: boolean;
}

/** A registration, as the Selector holds it. Keys are immutable: `modify()` returns a new one. */
export interface SelectorKey<T = unknown> {
  /** The registered fd. */
  readonly fd: number;
  /** The {@linkcode Interest} bits watched. */
  readonly interest: number;
  /** The data handed back with the fd's events. */
  readonly data: T | undefined;
  /** Whether the fd is edge-triggered. */
  readonly edge: boolean;
  /** Whether the fd is disarmed after one event. */
  readonly oneshot: boolean;
  /** Whether the fd was registered with EPOLLEXCLUSIVE. */
  readonly exclusive: boolean;
}

/** Options of the asynchronous waits. */
export interface WaitOptions {
  /**
   * Milliseconds to wait at most: `undefined` or `Infinity` waits until an
   * event or a wakeup, `0` or less returns at once, fractions round up.
   */
  timeout?: number;
  /** Aborts the wait: it rejects with the signal's reason, and no thread stays parked. */
  signal?: AbortSignal;
}

/**
 * Readiness notification over one kernel facility: register fds with the
 * directions to watch, then ask which are ready.
 *
 * Closing one of this module's fds (a pipe, a socket, an owned watched
 * fd) removes its key first. A foreign fd must be unregistered before it
 * is closed: the kernel tracks open file descriptions, not numbers, so a
 * closed fd whose description lives on (a dup, a child process) would keep
 * reporting, and its number may be reused by an unrelated file.
 * `unregister()` still works after such a close, and events of a
 * registration that no longer exists are dropped.
 *
 * @typeParam T the type of the data registered with each fd
 */
export interface Selector<T = unknown> extends Disposable {
  /** The engine this selector runs on. */
  readonly backend: SelectorBackend;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /** The number of registered fds (the selector's own waker not counted). */
  readonly size: number;
  /**
   * A number a Worker passes to `wake()` to make this selector's blocked
   * `select()` (or pending `wait()`) return; -1 once the selector is closed.
   */
  readonly wakerHandle: number;
  /**
   * Starts watching `fd`.
   *
   * @param fd an open fd, not registered yet
   * @param interest {@linkcode Interest} bits, combined with `|`
   * @param options data and trigger mode
   * @returns the new key
   * @throws {TypeError} if `fd` or `interest` is not an integer, or an option has the wrong type
   * @throws {RangeError} if `fd` is negative, `interest` has no or unknown bits, or the options cannot be combined
   * @throws {Deno.errors.AlreadyExists} if `fd` is registered already
   * @throws {Deno.errors.BadResource} if `fd` is not open, or the selector is closed
   * @throws {Deno.errors.NotSupported} if the backend cannot watch `fd` or honour an option
   */
  register(fd: number, interest: number, options?: RegisterOptions<T>): SelectorKey<T>;
  /**
   * Changes what `fd` is watched for; options that are absent keep their
   * values (pass `data: undefined` to clear the data). Re-arms a oneshot fd.
   *
   * @param fd a registered fd
   * @param interest the new {@linkcode Interest} bits
   * @param options the options to change
   * @returns the new key
   * @throws {TypeError} if an argument has the wrong type
   * @throws {RangeError} if an argument is out of range, or `exclusive` would change
   * @throws {Deno.errors.NotFound} if `fd` is not registered
   * @throws {Deno.errors.BadResource} if `fd` is not open, or the selector is closed
   * @throws {Deno.errors.NotSupported} if the backend cannot honour an option
   */
  modify(fd: number, interest: number, options?: RegisterOptions<T>): SelectorKey<T>;
  /**
   * Stops watching `fd`; works also when `fd` was closed first.
   *
   * @param fd a registered fd
   * @returns the key that was removed
   * @throws {TypeError} if `fd` is not an integer
   * @throws {RangeError} if `fd` is negative
   * @throws {Deno.errors.NotFound} if `fd` is not registered
   * @throws {Deno.errors.BadResource} if the selector is closed
   */
  unregister(fd: number): SelectorKey<T>;
  /**
   * Looks up the registration of `fd`.
   *
   * @param fd the fd
   * @returns its key, or `undefined` when it is not registered
   * @throws {TypeError} if `fd` is not an integer
   * @throws {RangeError} if `fd` is negative
   * @throws {Deno.errors.BadResource} if the selector is closed
   */
  getKey(fd: number): SelectorKey<T> | undefined;
  /**
   * Waits synchronously (this thread blocks) for events.
   *
   * @param timeout milliseconds at most (see {@linkcode WaitOptions.timeout})
   * @returns the events, `[]` on timeout or wakeup
   * @throws {TypeError} if `timeout` is not a number or is NaN
   * @throws {Deno.errors.Busy} if a `wait()` is pending
   * @throws {Deno.errors.BadResource} if the selector is closed
   */
  select(timeout?: number): SelectorEvent<T>[];
  /**
   * Waits without blocking the event loop: resolves at once when events
   * are ready, else parks a thread in the kernel.
   *
   * @param options timeout and abort signal
   * @returns the events; `[]` on timeout, wakeup, or `close()`
   * @throws {TypeError} if the timeout is not a number or is NaN
   * @throws {Deno.errors.Busy} if another `wait()` is pending
   * @throws {Deno.errors.BadResource} if the selector is closed
   */
  wait(options?: WaitOptions): Promise<SelectorEvent<T>[]>;
  /**
   * {@linkcode Selector.select} without allocating: fills `events`.
   *
   * @param events the buffer to fill
   * @param timeout milliseconds at most
   * @returns the number of events filled
   * @throws {TypeError} if `events` is not a SelectorEvents or `timeout` is not a number
   * @throws {Deno.errors.Busy} if a `wait()` is pending
   * @throws {Deno.errors.BadResource} if the selector is closed
   */
  selectInto(events: SelectorEvents<T>, timeout?: number): number;
  /**
   * {@linkcode Selector.wait} without allocating per event: fills `events`.
   *
   * @param events the buffer to fill
   * @param options timeout and abort signal
   * @returns the number of events filled
   * @throws {TypeError} if an argument has the wrong type
   * @throws {Deno.errors.Busy} if another `wait()` is pending
   * @throws {Deno.errors.BadResource} if the selector is closed
   */
  waitInto(events: SelectorEvents<T>, options?: WaitOptions): Promise<number>;
  /**
   * Makes a pending `wait()` return early; with none pending, the next
   * `select()` or `wait()` returns at once (a wakeup is never lost).
   *
   * @throws {Deno.errors.BadResource} if the selector is closed
   */
  wakeup(): void;
  /**
   * Closes the selector: a pending `wait()` resolves with `[]`, and the
   * kernel objects are released once no thread uses them. Idempotent.
   */
  close(): void;
}
