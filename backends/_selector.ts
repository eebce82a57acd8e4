// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The Selector contract and the machinery every backend shares: argument
 * checks, the key table, timeouts, and the park-and-harvest `wait()`.
 * A backend supplies a {@linkcode Driver}: the kernel calls and nothing else.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  checkInterest,
  describe,
  eventStore,
  Interest,
  type SelectorEvent,
  SelectorEvents,
  setEventCount,
} from "./_events.ts";

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
 * An fd must be unregistered before it is closed: the kernel tracks open
 * file descriptions, not numbers, so a closed fd whose description lives on
 * (a dup, a child process) would keep reporting, and its number may be
 * reused by an unrelated file. `unregister()` still works after the close,
 * and events of a registration that no longer exists are dropped.
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

/** @internal A registration with the bookkeeping the backends need. */
export interface Registration<T> {
  /** The key handed to the user. */
  key: SelectorKey<T>;
  /** Tags the kernel's copy of this registration: its events carry it back. */
  gen: number;
  /** False once a oneshot registration has fired, until `modify()`. */
  armed: boolean;
  /** Where a backend keeps it (the pollfd slot); -1 where unused. */
  slot: number;
}

/** @internal The kernel side of a Selector. */
export interface Driver<T> {
  readonly backend: "epoll" | "poll";
  /** The fd `wake()` writes to. */
  readonly wakerFd: number;
  /** Whether a parked call sees registrations made while it is parked. */
  readonly seesChangesWhileParked: boolean;
  /** Set by `fill()`: whether the waker fired (and was drained). */
  woken: boolean;
  /** Whether `fd` is one of the driver's own. */
  owns(fd: number): boolean;
  /** Rejects options the backend cannot honour, before any syscall. */
  checkOptions(
    action: string,
    fd: number,
    options: Required<Omit<RegisterOptions<T>, "data">>,
  ): void;
  /** Adds a registration; on failure throws and changes nothing. */
  add(reg: Registration<T>): void;
  /** Replaces `prev` by `next` (same fd); on failure throws and changes nothing. */
  modify(prev: Registration<T>, next: Registration<T>): void;
  /** Removes a registration; a closed fd is not an error. */
  remove(reg: Registration<T>): void;
  /** One kernel wait of at most `timeoutMs` (-1: no limit); fills `events`; EINTR gives 0. */
  fill(events: SelectorEvents<T>, timeoutMs: number): number;
  /** Parks a thread until something may be ready, `interrupt()`, or `timeoutMs`. */
  park(timeoutMs: number): Promise<void>;
  /** Ends a parked call without it counting as a wakeup. */
  interrupt(): void;
  /** Sets the waker. */
  wake(): void;
  /** Releases every kernel object; called once, with nothing parked. */
  close(): void;
}

/** The largest timeout one kernel call takes; longer ones are waited in slices. */
const MAX_SLICE_MS = 0x7fffffff;
/** Under constant readiness, `wait()` lets the event loop turn at least this often. */
const STARVATION_MS = 5;
/** fds are C ints. */
const MAX_FD = 0x7fffffff;

/**
 * Checks an fd argument.
 *
 * @internal
 */
export function checkFd(action: string, fd: unknown): number {
  if (typeof fd !== "number" || !Number.isInteger(fd)) {
    throw new TypeError(`${action}: fd must be an integer, got ${describe(fd)}`);
  }
  if (fd < 0 || fd > MAX_FD) {
    throw new RangeError(`${action}: fd must be from 0 to ${MAX_FD}, got ${fd}`);
  }
  return fd;
}

/**
 * Normalises a timeout: `Infinity` for none, `0` for at once, else whole
 * milliseconds rounded up.
 *
 * @internal
 */
export function normalizeTimeout(action: string, timeout: unknown): number {
  if (timeout === undefined) return Infinity;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(
      `${action}: timeout must be a number of milliseconds, got ${describe(timeout)}`,
    );
  }
  if (timeout <= 0) return 0;
  return Math.ceil(timeout);
}

function checkBoolean(action: string, name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw new TypeError(`${action}: ${name} must be a boolean, got ${describe(value)}`);
}

function checkOptionsObject(action: string, options: unknown): void {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
  }
}

/** The Selector shared by every backend. */
export class SelectorImpl<T> implements Selector<T> {
  #driver: Driver<T>;
  #keys: Map<number, Registration<T>>;
  #events = new SelectorEvents<T>();
  #nextGen = 1;
  #closed = false;
  #released = false;
  #waiting = false;
  #parked = false;
  /** When the event loop last turned during a wait (a park, or a yield). */
  #lastTurn = performance.now();

  /**
   * @param driver the kernel side
   * @param keys the key table the driver reads when it fills events
   */
  constructor(driver: Driver<T>, keys: Map<number, Registration<T>>) {
    this.#driver = driver;
    this.#keys = keys;
  }

  get backend(): SelectorBackend {
    return this.#driver.backend;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#keys.size;
  }

  get wakerHandle(): number {
    return this.#closed ? -1 : this.#driver.wakerFd;
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`${action}: the ${this.backend} selector is closed`);
    }
  }

  #checkNotWaiting(action: string): void {
    if (this.#waiting) {
      throw new Deno.errors.Busy(`${action}: a wait() is pending on this selector`);
    }
  }

  #gen(): number {
    const gen = this.#nextGen;
    // Generation 0 is never used, so that no registration matches a zeroed tag.
    this.#nextGen = gen === 0xffffffff ? 1 : gen + 1;
    return gen;
  }

  #checkRegisterOptions(
    action: string,
    fd: number,
    interest: number,
    edge: boolean,
    oneshot: boolean,
    exclusive: boolean,
  ): void {
    if (exclusive) {
      if (oneshot) {
        throw new RangeError(`${action}: exclusive cannot be combined with oneshot`);
      }
      if (interest & Interest.PRIORITY) {
        throw new RangeError(`${action}: exclusive cannot be combined with Interest.PRIORITY`);
      }
    }
    this.#driver.checkOptions(action, fd, { edge, oneshot, exclusive });
    if (this.#driver.owns(fd)) {
      throw new Deno.errors.AlreadyExists(`${action}: fd ${fd} is the selector's own`);
    }
  }

  register(fd: number, interest: number, options?: RegisterOptions<T>): SelectorKey<T> {
    const action = `Cannot register fd ${describe(fd)} with ${this.backend}`;
    checkFd(action, fd);
    checkInterest(action, interest);
    checkOptionsObject(action, options);
    const edge = checkBoolean(action, "edge", options?.edge) ?? false;
    const oneshot = checkBoolean(action, "oneshot", options?.oneshot) ?? false;
    const exclusive = checkBoolean(action, "exclusive", options?.exclusive) ?? false;
    this.#checkOpen(action);
    this.#checkRegisterOptions(action, fd, interest, edge, oneshot, exclusive);
    if (this.#keys.has(fd)) {
      throw new Deno.errors.AlreadyExists(`${action}: fd ${fd} is registered already`);
    }
    const key: SelectorKey<T> = Object.freeze({
      fd,
      interest,
      data: options?.data,
      edge,
      oneshot,
      exclusive,
    });
    const reg: Registration<T> = { key, gen: this.#gen(), armed: true, slot: -1 };
    this.#driver.add(reg);
    this.#keys.set(fd, reg);
    this.#changed();
    return key;
  }

  modify(fd: number, interest: number, options?: RegisterOptions<T>): SelectorKey<T> {
    const action = `Cannot modify fd ${describe(fd)} with ${this.backend}`;
    checkFd(action, fd);
    checkInterest(action, interest);
    checkOptionsObject(action, options);
    const edgeOption = checkBoolean(action, "edge", options?.edge);
    const oneshotOption = checkBoolean(action, "oneshot", options?.oneshot);
    const exclusiveOption = checkBoolean(action, "exclusive", options?.exclusive);
    this.#checkOpen(action);
    const prev = this.#keys.get(fd);
    if (prev === undefined) {
      throw new Deno.errors.NotFound(`${action}: fd ${fd} is not registered`);
    }
    const edge = edgeOption ?? prev.key.edge;
    const oneshot = oneshotOption ?? prev.key.oneshot;
    const exclusive = prev.key.exclusive;
    if (exclusiveOption !== undefined && exclusiveOption !== exclusive) {
      throw new RangeError(`${action}: exclusive can only be set by register()`);
    }
    this.#checkRegisterOptions(action, fd, interest, edge, oneshot, exclusive);
    const data = options !== undefined && "data" in options ? options.data : prev.key.data;
    const key: SelectorKey<T> = Object.freeze({ fd, interest, data, edge, oneshot, exclusive });
    const next: Registration<T> = { key, gen: this.#gen(), armed: true, slot: prev.slot };
    this.#driver.modify(prev, next);
    this.#keys.set(fd, next);
    this.#changed();
    return key;
  }

  unregister(fd: number): SelectorKey<T> {
    const action = `Cannot unregister fd ${describe(fd)} from ${this.backend}`;
    checkFd(action, fd);
    this.#checkOpen(action);
    const reg = this.#keys.get(fd);
    if (reg === undefined) {
      throw new Deno.errors.NotFound(`${action}: fd ${fd} is not registered`);
    }
    this.#driver.remove(reg);
    this.#keys.delete(fd);
    this.#changed();
    return reg.key;
  }

  getKey(fd: number): SelectorKey<T> | undefined {
    const action = `Cannot look up fd ${describe(fd)} in ${this.backend}`;
    checkFd(action, fd);
    this.#checkOpen(action);
    return this.#keys.get(fd)?.key;
  }

  /** A parked call that cannot see registration changes is woken to park again. */
  #changed(): void {
    if (this.#parked && !this.#driver.seesChangesWhileParked) this.#driver.interrupt();
  }

  select(timeout?: number): SelectorEvent<T>[] {
    this.selectInto(this.#events, timeout);
    return this.#events.toArray();
  }

  selectInto(events: SelectorEvents<T>, timeout?: number): number {
    const action = `Cannot select on ${this.backend}`;
    if (!(events instanceof SelectorEvents)) {
      throw new TypeError(`${action}: events must be a SelectorEvents, got ${describe(events)}`);
    }
    const ms = normalizeTimeout(action, timeout);
    this.#checkOpen(action);
    this.#checkNotWaiting(action);
    const driver = this.#driver;
    if (ms === 0) return driver.fill(events, 0);
    const deadline = ms === Infinity ? Infinity : performance.now() + ms;
    let slice = ms === Infinity ? -1 : Math.min(ms, MAX_SLICE_MS);
    for (;;) {
      const n = driver.fill(events, slice);
      if (n > 0 || driver.woken) return n;
      if (deadline !== Infinity) {
        const left = deadline - performance.now();
        if (left <= 0) return 0;
        slice = Math.min(Math.ceil(left), MAX_SLICE_MS);
      }
    }
  }

  async wait(options?: WaitOptions): Promise<SelectorEvent<T>[]> {
    await this.waitInto(this.#events, options);
    return this.#events.toArray();
  }

  async waitInto(events: SelectorEvents<T>, options?: WaitOptions): Promise<number> {
    const action = `Cannot wait on ${this.backend}`;
    if (!(events instanceof SelectorEvents)) {
      throw new TypeError(`${action}: events must be a SelectorEvents, got ${describe(events)}`);
    }
    checkOptionsObject(action, options);
    const ms = normalizeTimeout(action, options?.timeout);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`${action}: signal must be an AbortSignal, got ${describe(signal)}`);
    }
    this.#checkOpen(action);
    this.#checkNotWaiting(action);
    signal?.throwIfAborted();
    const driver = this.#driver;
    const deadline = ms === Infinity ? Infinity : performance.now() + ms;
    const onAbort = () => {
      if (this.#parked) driver.interrupt();
    };
    this.#waiting = true;
    signal?.addEventListener("abort", onAbort);
    try {
      // Ready work is harvested on this thread: no thread hop.
      let n = driver.fill(events, 0);
      if ((n > 0 || driver.woken) && performance.now() - this.#lastTurn >= STARVATION_MS) {
        // Constant readiness: let timers, signal listeners and other I/O run first.
        await new Promise((resolve) => setImmediate(resolve));
        this.#lastTurn = performance.now();
        if (this.#closed) return empty(events);
        signal?.throwIfAborted();
        n = driver.fill(events, 0);
      }
      if (n > 0 || driver.woken) return n;
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return n;
        this.#parked = true;
        try {
          await driver.park(left === Infinity ? -1 : Math.min(Math.ceil(left), MAX_SLICE_MS));
        } finally {
          this.#parked = false;
        }
        this.#lastTurn = performance.now();
        if (this.#closed) return empty(events);
        if (signal?.aborted) {
          empty(events);
          throw signal.reason;
        }
        n = driver.fill(events, 0);
        if (n > 0 || driver.woken) return n;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#waiting = false;
      if (this.#closed) this.#release();
    }
  }

  wakeup(): void {
    this.#checkOpen(`Cannot wake up ${this.backend}`);
    this.#driver.wake();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#keys.clear();
    if (!this.#waiting) this.#release();
    else if (this.#parked) this.#driver.interrupt();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#driver.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function empty<T>(events: SelectorEvents<T>): number {
  setEventCount(eventStore(events, 0), 0);
  return 0;
}
