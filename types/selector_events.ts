// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Interest and readiness bits, and the reusable event buffer shared by all
 * Selector backends.
 *
 * @module
 */

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
          String(capacity)
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
    return i >= 0 && i < store.length ? store.fds[i] : -1;
  }

  /**
   * The data registered with the fd of event `i`.
   *
   * @param i the event's index
   * @returns the data, or `undefined` when `i` is out of range
   */
  data(i: number): T | undefined {
    const store = this.#store;
    return i >= 0 && i < store.length ? store.data[i] : undefined;
  }

  /**
   * All readiness bits of event `i`, as {@linkcode Ready} values.
   *
   * @param i the event's index
   * @returns the bits, or 0 when `i` is out of range
   */
  flags(i: number): number {
    const store = this.#store;
    return i >= 0 && i < store.length ? store.flags[i] : 0;
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

/** @internal A short description of a bad argument for an error message. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  return typeof value;
}
