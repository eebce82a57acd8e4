// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The Selector contract and the machinery every backend shares: argument
 * checks, the key table, timeouts, and the park-and-harvest `wait()`.
 * A backend supplies a {@linkcode Driver}: the kernel calls and nothing else.
 *
 * It must not know a kernel, a library or an OS: drivers bring those, and
 * it never switches on `Deno.build.os`.
 *
 * @module
 */

import { SPIN_MS, SPIN_WINDOW_MS, STARVATION_MS } from "./shared/_fairness.ts";
import { MAX_FD } from "./shared/_checks.ts";
import { setImmediate } from "node:timers";
import { acquireLibc, type Libc, releaseLibc } from "../ffi/libc.ts";
import { clearEvents, Interest, type SelectorEvent, SelectorEvents } from "../types/selector.ts";
import { describe } from "./shared/_describe.ts";
import type {
  RegisterOptions,
  Selector,
  SelectorBackend,
  SelectorKey,
  WaitOptions,
} from "../types/selector.ts";
import { normalizeTimeout } from "./shared/_timeouts.ts";
import { unwatchCloses, watchCloses } from "./shared/_close_hook.ts";
import type { Action } from "./shared/_describe.ts";

/** @internal A registration with the bookkeeping the backends need. */
export interface Registration<T> {
  /** The key handed to the user. */
  key: SelectorKey<T>;
  /** Tags the kernel's copy of this registration: its events carry it back. */
  gen: number;
  /** False once a oneshot registration has fired, until `modify()`. */
  armed: boolean;
  /** Where the backend keeps it (its slot in the backend's table). */
  slot: number;
}

/** @internal The kernel side of a Selector. */
export interface Driver<T> {
  readonly backend: SelectorBackend;
  /**
   * The number `wake()` takes: the waker's fd (an eventfd it writes to) on
   * Linux, the completion port's handle (it posts a packet to) on Windows.
   */
  readonly wakerFd: number;
  /** Whether a parked call sees registrations made while it is parked. */
  readonly seesChangesWhileParked: boolean;
  /** Set by `fill()`: whether the waker fired (and was drained). */
  woken: boolean;
  /** Whether `fd` is one of the driver's own. */
  owns(fd: number): boolean;
  /** Rejects options the backend cannot honour, before any syscall. */
  checkOptions(action: Action, fd: number, edge: boolean, exclusive: boolean): void;
  /** Adds a registration and sets its slot; on failure throws and changes nothing. */
  add(action: Action, reg: Registration<T>): void;
  /** Replaces `prev` by `next` (same fd, same slot); on failure throws and changes nothing. */
  modify(action: Action, prev: Registration<T>, next: Registration<T>): void;
  /** Removes a registration; a closed fd is not an error. */
  remove(action: Action, reg: Registration<T>): void;
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
/** The bits of {@linkcode Interest}, combined. */
const ALL_INTEREST = Interest.READABLE | Interest.PRIORITY | Interest.WRITABLE;

/**
 * Checks an fd argument.
 *
 * @internal
 */
export function checkFd(action: Action, fd: unknown): number {
  if (typeof fd !== "number" || !Number.isInteger(fd)) {
    throw new TypeError(`${action(fd)}: fd must be an integer, got ${describe(fd)}`);
  }
  if (fd < 0 || fd > MAX_FD) {
    throw new RangeError(`${action(fd)}: fd must be from 0 to ${MAX_FD}, got ${fd}`);
  }
  return fd;
}

/** Checks an interest mask: a non-empty combination of {@linkcode Interest} bits. */
function checkInterest(action: Action, fd: number, interest: unknown): number {
  if (typeof interest !== "number" || !Number.isInteger(interest)) {
    throw new TypeError(`${action(fd)}: interest must be an integer, got ${describe(interest)}`);
  }
  // `interest > ALL_INTEREST` also catches bits at 2^32 and above, which `&` cannot see.
  if (interest <= 0 || interest > ALL_INTEREST || (interest & ~ALL_INTEREST) !== 0) {
    throw new RangeError(
      `${
        action(fd)
      }: interest must combine Interest.READABLE, PRIORITY and WRITABLE, got ${interest}`,
    );
  }
  return interest;
}

function checkBoolean(
  action: Action,
  fd: number,
  name: string,
  value: unknown,
): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw new TypeError(`${action(fd)}: ${name} must be a boolean, got ${describe(value)}`);
}

function checkOptionsObject(action: Action, fd: number | undefined, options: unknown): void {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${action(fd)}: options must be an object, got ${describe(options)}`);
  }
}

function checkEvents(action: Action, events: unknown): void {
  if (!(events instanceof SelectorEvents)) {
    throw new TypeError(`${action()}: events must be a SelectorEvents, got ${describe(events)}`);
  }
}

/** The kernel's slice of a wait that ends at `deadline`: -1 for none, whole ms rounded up. */
function sliceUntil(deadline: number): number {
  if (deadline === Infinity) return -1;
  const left = deadline - performance.now();
  return left <= 0 ? 0 : Math.min(Math.ceil(left), MAX_SLICE_MS);
}

/**
 * An immutable SelectorKey: read-only accessors over private fields, which
 * costs less to make than a frozen object literal (measured: about 8% of a
 * register + modify + unregister).
 */
class Key<T> implements SelectorKey<T> {
  readonly #fd: number;
  readonly #interest: number;
  readonly #data: T | undefined;
  readonly #edge: boolean;
  readonly #oneshot: boolean;
  readonly #exclusive: boolean;

  constructor(
    fd: number,
    interest: number,
    data: T | undefined,
    edge: boolean,
    oneshot: boolean,
    exclusive: boolean,
  ) {
    this.#fd = fd;
    this.#interest = interest;
    this.#data = data;
    this.#edge = edge;
    this.#oneshot = oneshot;
    this.#exclusive = exclusive;
  }

  get fd(): number {
    return this.#fd;
  }
  get interest(): number {
    return this.#interest;
  }
  get data(): T | undefined {
    return this.#data;
  }
  get edge(): boolean {
    return this.#edge;
  }
  get oneshot(): boolean {
    return this.#oneshot;
  }
  get exclusive(): boolean {
    return this.#exclusive;
  }

  /** The fields as a plain object (for JSON and for printing). */
  toJSON(): {
    fd: number;
    interest: number;
    data: T | undefined;
    edge: boolean;
    oneshot: boolean;
    exclusive: boolean;
  } {
    const { fd, interest, data, edge, oneshot, exclusive } = this;
    return { fd, interest, data, edge, oneshot, exclusive };
  }

  [Symbol.for("Deno.customInspect")](
    inspect: (value: unknown, options: unknown) => string,
    options: unknown,
  ): string {
    return `SelectorKey ${inspect(this.toJSON(), options)}`;
  }
}

/** The Selector shared by every backend. */
export class SelectorImpl<T> implements Selector<T> {
  #driver: Driver<T>;
  /** Registrations by fd (an array: fds are small integers, and it beats a Map on the ctl path). */
  #keys: (Registration<T> | undefined)[] = [];
  #size = 0;
  #events = new SelectorEvents<T>();
  #nextGen = 1;
  #closed = false;
  #released = false;
  #waiting = false;
  #parked = false;
  /** When the event loop last turned during a wait (a park, or a yield). */
  #lastTurn = performance.now();
  /** When a wait last found events ready. */
  #lastReady = -Infinity;
  #onAbort = (): void => {
    if (this.#parked) this.#driver.interrupt();
  };
  #register: Action;
  #modify: Action;
  #unregister: Action;
  #lookUp: Action;
  #select: Action;
  #wait: Action;
  #wakeUp: Action;

  /** @param driver the kernel side */
  constructor(driver: Driver<T>) {
    this.#driver = driver;
    const backend = driver.backend;
    this.#register = (fd) => `Cannot register fd ${describe(fd)} with ${backend}`;
    this.#modify = (fd) => `Cannot modify fd ${describe(fd)} with ${backend}`;
    this.#unregister = (fd) => `Cannot unregister fd ${describe(fd)} from ${backend}`;
    this.#lookUp = (fd) => `Cannot look up fd ${describe(fd)} in ${backend}`;
    this.#select = () => `Cannot select on ${backend}`;
    this.#wait = () => `Cannot wait on ${backend}`;
    this.#wakeUp = () => `Cannot wake up ${backend}`;
    watchCloses(this.#onFdClose);
  }

  /**
   * One of this module's fds is about to be closed: its key goes now, while
   * the number still names it, so that no event of it is delivered after
   * the close and the number can be registered afresh.
   */
  #onFdClose = (fd: number): void => {
    const reg = this.#keys[fd];
    if (reg === undefined || this.#closed) return;
    try {
      this.#driver.remove(this.#unregister, reg);
    } catch {
      // The kernel drops a closed fd's registration anyway.
    }
    this.#keys[fd] = undefined;
    this.#size--;
    this.#changed();
  };

  get backend(): SelectorBackend {
    return this.#driver.backend;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#size;
  }

  get wakerHandle(): number {
    return this.#closed ? -1 : this.#driver.wakerFd;
  }

  #checkOpen(action: Action, fd?: number): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`${action(fd)}: the ${this.backend} selector is closed`);
    }
  }

  #checkNotWaiting(action: Action): void {
    if (this.#waiting) {
      throw new Deno.errors.Busy(`${action()}: a wait() is pending on this selector`);
    }
  }

  #gen(): number {
    const gen = this.#nextGen;
    // Generation 0 is never used, so that no registration matches a zeroed tag.
    this.#nextGen = gen === 0xffffffff ? 1 : gen + 1;
    return gen;
  }

  #checkRegisterOptions(
    action: Action,
    fd: number,
    interest: number,
    edge: boolean,
    oneshot: boolean,
    exclusive: boolean,
  ): void {
    if (exclusive) {
      if (oneshot) {
        throw new RangeError(`${action(fd)}: exclusive cannot be combined with oneshot`);
      }
      if (interest & Interest.PRIORITY) {
        throw new RangeError(`${action(fd)}: exclusive cannot be combined with Interest.PRIORITY`);
      }
    }
    this.#driver.checkOptions(action, fd, edge, exclusive);
    if (this.#driver.owns(fd)) {
      throw new Deno.errors.AlreadyExists(`${action(fd)}: fd ${fd} is the selector's own`);
    }
  }

  register(fd: number, interest: number, options?: RegisterOptions<T>): SelectorKey<T> {
    const action = this.#register;
    checkFd(action, fd);
    checkInterest(action, fd, interest);
    checkOptionsObject(action, fd, options);
    const edge = checkBoolean(action, fd, "edge", options?.edge) ?? false;
    const oneshot = checkBoolean(action, fd, "oneshot", options?.oneshot) ?? false;
    const exclusive = checkBoolean(action, fd, "exclusive", options?.exclusive) ?? false;
    this.#checkOpen(action, fd);
    this.#checkRegisterOptions(action, fd, interest, edge, oneshot, exclusive);
    if (this.#keys[fd] !== undefined) {
      throw new Deno.errors.AlreadyExists(`${action(fd)}: fd ${fd} is registered already`);
    }
    const key = new Key(fd, interest, options?.data, edge, oneshot, exclusive);
    const reg: Registration<T> = { key, gen: this.#gen(), armed: true, slot: -1 };
    this.#driver.add(action, reg);
    this.#keys[fd] = reg;
    this.#size++;
    this.#changed();
    return key;
  }

  modify(fd: number, interest: number, options?: RegisterOptions<T>): SelectorKey<T> {
    const action = this.#modify;
    checkFd(action, fd);
    checkInterest(action, fd, interest);
    checkOptionsObject(action, fd, options);
    const edgeOption = checkBoolean(action, fd, "edge", options?.edge);
    const oneshotOption = checkBoolean(action, fd, "oneshot", options?.oneshot);
    const exclusiveOption = checkBoolean(action, fd, "exclusive", options?.exclusive);
    this.#checkOpen(action, fd);
    const prev = this.#keys[fd];
    if (prev === undefined) {
      throw new Deno.errors.NotFound(`${action(fd)}: fd ${fd} is not registered`);
    }
    const edge = edgeOption ?? prev.key.edge;
    const oneshot = oneshotOption ?? prev.key.oneshot;
    const exclusive = prev.key.exclusive;
    if (exclusiveOption !== undefined && exclusiveOption !== exclusive) {
      throw new RangeError(`${action(fd)}: exclusive can only be set by register()`);
    }
    this.#checkRegisterOptions(action, fd, interest, edge, oneshot, exclusive);
    const data = options !== undefined && "data" in options ? options.data : prev.key.data;
    const key = new Key(fd, interest, data, edge, oneshot, exclusive);
    const next: Registration<T> = { key, gen: this.#gen(), armed: true, slot: prev.slot };
    this.#driver.modify(action, prev, next);
    this.#keys[fd] = next;
    this.#changed();
    return key;
  }

  unregister(fd: number): SelectorKey<T> {
    const action = this.#unregister;
    checkFd(action, fd);
    this.#checkOpen(action, fd);
    const reg = this.#keys[fd];
    if (reg === undefined) {
      throw new Deno.errors.NotFound(`${action(fd)}: fd ${fd} is not registered`);
    }
    this.#driver.remove(action, reg);
    this.#keys[fd] = undefined;
    this.#size--;
    this.#changed();
    return reg.key;
  }

  getKey(fd: number): SelectorKey<T> | undefined {
    checkFd(this.#lookUp, fd);
    this.#checkOpen(this.#lookUp, fd);
    return this.#keys[fd]?.key;
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
    const action = this.#select;
    checkEvents(action, events);
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
        slice = sliceUntil(deadline);
        if (slice === 0) return 0;
      }
    }
  }

  async wait(options?: WaitOptions): Promise<SelectorEvent<T>[]> {
    await this.waitInto(this.#events, options);
    return this.#events.toArray();
  }

  waitInto(events: SelectorEvents<T>, options?: WaitOptions): Promise<number> {
    // Not async: ready events resolve it without a thread hop, and with no
    // more than one promise.
    const action = this.#wait;
    let ms: number;
    let signal: AbortSignal | undefined;
    let n: number;
    try {
      checkEvents(action, events);
      checkOptionsObject(action, undefined, options);
      ms = normalizeTimeout(action, options?.timeout);
      signal = options?.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new TypeError(`${action()}: signal must be an AbortSignal, got ${describe(signal)}`);
      }
      this.#checkOpen(action);
      this.#checkNotWaiting(action);
      signal?.throwIfAborted();
      // Ready work is harvested on this thread.
      n = this.#driver.fill(events, 0);
    } catch (error) {
      return Promise.reject(error);
    }
    const ready = n > 0 || this.#driver.woken;
    if (ready) {
      const now = performance.now();
      this.#lastReady = now;
      if (now - this.#lastTurn < STARVATION_MS) return Promise.resolve(n);
    }
    if (!ready && ms === 0) return Promise.resolve(0);
    return this.#waitSlowly(events, ms, signal, ready ? n : -1);
  }

  /**
   * The rest of a wait: a yield to the event loop, or parking until
   * something is ready. `found` is what the first look harvested (-1:
   * nothing, not even a wakeup).
   */
  async #waitSlowly(
    events: SelectorEvents<T>,
    ms: number,
    signal: AbortSignal | undefined,
    found: number,
  ): Promise<number> {
    const driver = this.#driver;
    const deadline = ms === Infinity ? Infinity : performance.now() + ms;
    this.#waiting = true;
    signal?.addEventListener("abort", this.#onAbort);
    try {
      if (found >= 0) {
        // Constant readiness: let timers, signal listeners and other I/O run
        // first, then hand out what was harvested, whatever happened
        // meanwhile (an abort included: the events came first). Looking
        // again instead would lose them: a oneshot or edge-triggered event
        // taken from the kernel is not reported twice.
        await new Promise((resolve) => setImmediate(resolve));
        this.#lastTurn = performance.now();
        if (this.#closed) return clearEvents(events);
        return found;
      }
      // Busy a moment ago: look again on the next turns before paying a park.
      const spinEnd = Math.min(this.#lastReady + SPIN_WINDOW_MS, performance.now() + SPIN_MS);
      while (performance.now() < spinEnd && performance.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
        this.#lastTurn = performance.now();
        if (this.#closed) return clearEvents(events);
        signal?.throwIfAborted();
        const n = driver.fill(events, 0);
        if (n > 0 || driver.woken) {
          this.#lastReady = performance.now();
          return n;
        }
      }
      for (;;) {
        const slice = sliceUntil(deadline);
        if (slice === 0) return clearEvents(events);
        this.#parked = true;
        try {
          await driver.park(slice);
        } finally {
          this.#parked = false;
        }
        this.#lastTurn = performance.now();
        if (this.#closed) return clearEvents(events);
        if (signal?.aborted) {
          clearEvents(events);
          throw signal.reason;
        }
        const n = driver.fill(events, 0);
        if (n > 0 || driver.woken) {
          this.#lastReady = performance.now();
          return n;
        }
      }
    } finally {
      signal?.removeEventListener("abort", this.#onAbort);
      this.#waiting = false;
      if (this.#closed) this.#release();
    }
  }

  wakeup(): void {
    this.#checkOpen(this.#wakeUp);
    this.#driver.wake();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unwatchCloses(this.#onFdClose);
    this.#keys = [];
    this.#size = 0;
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

/**
 * Opens a Selector on the driver `open` makes from libc (the Linux
 * backends); libc is released again if that fails, and by the driver's
 * `close()` otherwise. A driver that binds other libraries (afd) is handed
 * to `new SelectorImpl(driver)` directly.
 *
 * @internal
 */
export function openSelectorWith<T>(open: (libc: Libc) => Driver<T>): Selector<T> {
  const libc = acquireLibc();
  try {
    return new SelectorImpl(open(libc));
  } catch (error) {
    releaseLibc();
    throw error;
  }
}
