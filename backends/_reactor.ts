// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The reactor: what turns "wait until fd 7 is readable" into a promise, for
 * every awaitable object of the module (`watchFd()`, pipes, sockets). One
 * per thread (a Worker has its own module instance, so its own reactor),
 * over one Selector of the OS's default engine, opened on first use and
 * closed again when no fd is watched, so that a test that closes what it
 * opened passes Deno's sanitizers and a program with nothing pending exits.
 *
 * - An fd is registered on its first wait and stays registered until it
 *   is closed (the close hook) or forgotten. Where the engine takes
 *   edge-triggered registrations (epoll), it is registered once for both
 *   directions and never touched again: a waiter comes after its caller
 *   found the fd not ready (a call that would block, or a look), and any
 *   readiness after that raises an event, which wakes it; no system call
 *   per wait. Elsewhere (afd) it is registered oneshot for the directions
 *   its waiters want (level-triggered, which every engine honours), and
 *   re-armed after each event while waiters remain.
 * - In edge mode each readable event changes the fd's read mark
 *   ({@linkcode Reactor.readMark}): a stream whose read came back short
 *   waits at once on its next read while the mark is unchanged (no call
 *   that would only say EAGAIN), as tokio clears readiness.
 * - After waking waiters the loop lets a few microtask turns pass before
 *   it looks again, so that the look finds what their peers answered.
 * - One parked thread serves every waiter: many thousands of pending waits
 *   are one `waitInto()` on the Selector.
 * - A wait on an fd already ready resolves without a thread hop (one
 *   `poll()` of that fd, no timeout, skipped when the caller has just seen
 *   the fd would block); after ~5 ms of such waits without a turn of the
 *   event loop, the next one waits for a turn, so that timers and other
 *   I/O still run.
 * - A wait that ends by its timeout, its signal or a close, when it was
 *   the last one (so the parked call is being called back), settles only
 *   once that call has come back: Deno's sanitizers see nothing of ours in
 *   flight after a settled promise.
 *
 * It must not know an OS, a kernel or what an fd is: `_platform.ts` hands
 * it a {@linkcode ReactorPlatform}; the objects that read and write bring
 * their own calls (`net/_async_io.ts`).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { Interest, type Selector, SelectorEvents } from "../types/selector.ts";
import { STARVATION_MS } from "./shared/_fairness.ts";
import { unwatchCloses, watchCloses } from "./shared/_close_hook.ts";
import { normalizeTimeout } from "./shared/_timeouts.ts";
import { describe } from "./shared/_describe.ts";

/** The Selector the reactor waits on, and what closing it gives back. */
export interface ReactorBackend {
  readonly selector: Selector<Watch>;
  /**
   * Whether the Selector takes edge-triggered registrations (epoll): fds
   * are then registered once for both directions, with no re-arming.
   */
  readonly edge: boolean;
  /** Closes the Selector and gives back what the backend holds. */
  close(): void;
}

/** What the reactor needs of an OS (set once by `_platform.ts`). */
export interface ReactorPlatform {
  /** Opens the backend (on first use; closed again when nothing is watched). */
  open(): ReactorBackend;
  /**
   * Whether `fd` is ready now for `interest` (READABLE or WRITABLE; an error
   * or a hangup counts as ready), without blocking and without a backend.
   *
   * @throws {Deno.errors.BadResource} if `fd` is not open, under `action`
   */
  readyNow(action: string, fd: number, interest: number): boolean;
}

/**
 * Microtask turns the wait loop lets pass after waking waiters, before it
 * looks again: a woken `read()` → `write()` → `read()` chain takes about
 * four, so the look finds what their peers answered meanwhile.
 */
const YIELDS_AFTER_DISPATCH = 6;

/** How often (in calls, a power of two) `fast()` looks at the clock. */
const FAST_CHECK_EVERY = 64;

let platform: ReactorPlatform | undefined;

/**
 * Sets what the reactor uses on this OS.
 *
 * @internal
 */
export function setReactorPlatform(here: ReactorPlatform): void {
  platform = here;
}

/** What a wait may be given. */
export interface ReactorWaitOptions {
  signal?: AbortSignal;
  timeout?: number;
}

/**
 * One pending wait: what the reactor keeps of it (set when it is queued),
 * and what it does when its fd turns ready or the wait ends otherwise. A
 * waiter may be queued again once it has been woken.
 *
 * An interface, not a base class: a waiter is made per wait, and a class
 * that extends another is constructed through a generic stub that V8 does
 * not inline (~30 ns a read that waits, by `perf`); each implementation
 * declares the fields itself, set to `undefined`, `false` and `""` at first.
 *
 * @internal
 */
export interface Waiter {
  watch: Watch | undefined;
  write: boolean;
  action: string;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** The fd turned ready, hung up or failed: called from the wait loop itself. */
  ready(): void;
  /** The wait ended otherwise: `reason` is what a promise of it would reject with. */
  fail(reason: unknown): void;
}

/** A wait that settles a promise. */
class PromiseWaiter implements Waiter {
  watch: Watch | undefined = undefined;
  write = false;
  action = "";
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  readonly #resolve: () => void;
  readonly #reject: (reason: unknown) => void;

  constructor(resolve: () => void, reject: (reason: unknown) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  ready(): void {
    this.#resolve();
  }

  fail(reason: unknown): void {
    this.#reject(reason);
  }
}

/** An fd the reactor watches, and its waiters. */
export class Watch {
  readonly fd: number;
  readers: Waiter[] = [];
  writers: Waiter[] = [];
  /** Whether the reactor still watches the fd (false once it is forgotten). */
  live = true;
  /** Whether the fd is in the Selector. */
  registered = false;
  /** Level mode: the directions armed in the Selector (0 once its oneshot event came). */
  armed = 0;
  /**
   * Edge mode: a number that changes with each readable event of the fd
   * (see {@linkcode Reactor.readMark}), unique across watches; -1 once an
   * event said the peer ended, hung up or failed.
   */
  readMark: number;

  constructor(fd: number, readMark: number) {
    this.fd = fd;
    this.readMark = readMark;
  }
}

/** The reactor of this thread. */
export class Reactor {
  #backend: ReactorBackend | undefined;
  /** Whether the open backend is edge-triggered (see {@linkcode ReactorBackend.edge}). */
  #edge = false;
  /**
   * The watches by fd: an array, not a Map (fds are small integers, and a
   * read that waits looks its fd up three times: a Map lookup was ~3% of
   * the user time of an echo through `read()`/`write()`, by `perf`).
   */
  #byFd: (Watch | undefined)[] = [];
  /** How many fds are watched. */
  #count = 0;
  /** Waiters pending, over every fd. */
  #waiting = 0;
  /** Whether the wait loop runs. */
  #running = false;
  #abort: AbortController | undefined;
  /** Waiters that left while the parked call was being called back, with their reasons. */
  #left: [Waiter, unknown][] = [];
  #events = new SelectorEvents<Watch>(256);
  #lastTurn = 0;
  /** Calls of {@linkcode Reactor.fast}, which reads the clock on every FAST_CHECK_EVERY-th. */
  #fastCalls = 0;
  /** The last read mark handed out (see {@linkcode Watch.readMark}). */
  #marks = 0;
  #onClose = (fd: number): void => this.forget(fd);
  #loop = (): Promise<void> => this.#run();

  /** Whether the backend is open (an fd is watched, or the loop is still finishing). */
  get open(): boolean {
    return this.#backend !== undefined;
  }

  /** How many fds are watched. */
  get watched(): number {
    return this.#count;
  }

  /** How many waits are pending. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Waits until `fd` is ready to read (`write` false) or to write; an error
   * or a hangup counts as ready. May resolve spuriously (the readiness was
   * taken by another reader meanwhile): try the call again.
   *
   * @param action what the caller is doing ("Cannot wait for fd 7"), for errors
   * @param wouldBlock whether the caller has just seen a call on the fd in
   *   this direction would block (EAGAIN): the fd is then not looked at
   *   first
   * @returns a promise that rejects with `Deno.errors.TimedOut` after `timeout` ms,
   *   the signal's reason on abort, `Deno.errors.Interrupted` if the fd is closed or forgotten
   */
  wait(
    action: string,
    fd: number,
    write: boolean,
    options?: ReactorWaitOptions,
    wouldBlock = false,
  ): Promise<void> {
    let ms: number;
    let signal: AbortSignal | undefined;
    let watch: Watch;
    try {
      if (options === undefined) {
        ms = Infinity; // the common case: nothing to check, no closure made
      } else {
        if (typeof options !== "object" || options === null) {
          throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
        }
        ms = normalizeTimeout(() => action, options.timeout);
        signal = options.signal;
        if (signal !== undefined && !(signal instanceof AbortSignal)) {
          throw new TypeError(`${action}: signal must be an AbortSignal, got ${describe(signal)}`);
        }
        signal?.throwIfAborted();
      }
      if (platform === undefined) {
        throw new Deno.errors.NotSupported(`${action}: no reactor exists on ${Deno.build.os}`);
      }
      const direction = write ? Interest.WRITABLE : Interest.READABLE;
      if (!wouldBlock && platform.readyNow(action, fd, direction)) return this.fast(undefined);
      if (ms === 0) throw new Deno.errors.TimedOut(`${action}: not ready (timeout 0)`);
      this.#open();
      watch = this.#watchOf(fd);
    } catch (error) {
      this.#releaseIfIdle();
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.#enqueue(new PromiseWaiter(resolve, reject), watch, write, action, ms, signal);
    });
  }

  /**
   * As {@linkcode Reactor.wait} after a call said EAGAIN (no look first, no
   * timeout), with a waiter of the caller's instead of a promise: its
   * `ready()` runs when the fd turns ready (from the wait loop itself, so a
   * read made there is not a microtask later), its `fail()` with what a
   * promise would reject with. The caller's object is the waiter: nothing
   * is allocated per wait.
   */
  waitThen(
    action: string,
    fd: number,
    write: boolean,
    signal: AbortSignal | undefined,
    waiter: Waiter,
  ): void {
    let watch: Watch;
    try {
      signal?.throwIfAborted();
      if (platform === undefined) {
        throw new Deno.errors.NotSupported(`${action}: no reactor exists on ${Deno.build.os}`);
      }
      this.#open();
      watch = this.#watchOf(fd);
    } catch (error) {
      this.#releaseIfIdle();
      waiter.fail(error);
      return;
    }
    this.#enqueue(waiter, watch, write, action, Infinity, signal);
  }

  /** Queues `waiter` on `watch`, arms it and starts the wait loop if it is not running. */
  #enqueue(
    waiter: Waiter,
    watch: Watch,
    write: boolean,
    action: string,
    ms: number,
    signal: AbortSignal | undefined,
  ): void {
    waiter.watch = watch;
    waiter.write = write;
    waiter.action = action;
    waiter.timer = undefined;
    waiter.signal = signal;
    waiter.onAbort = undefined;
    (write ? watch.writers : watch.readers).push(waiter);
    try {
      this.#arm(watch);
    } catch (error) {
      this.#remove(waiter);
      waiter.fail(error);
      this.#releaseIfIdle();
      return;
    }
    this.#waiting++;
    if (ms !== Infinity) {
      waiter.timer = setTimeout(
        () => this.#leave(waiter, new Deno.errors.TimedOut(`${action}: timed out after ${ms} ms`)),
        ms,
      );
    }
    if (signal !== undefined) {
      waiter.onAbort = () => this.#leave(waiter, signal.reason);
      signal.addEventListener("abort", waiter.onAbort, { once: true });
    }
    if (!this.#running) {
      this.#running = true;
      queueMicrotask(this.#loop);
    }
  }

  /**
   * A value for a call that completed at once: resolved now, or after a
   * turn of the event loop when such calls have gone on for ~5 ms without
   * one.
   */
  fast<T>(value: T): Promise<T> {
    // The clock is read every FAST_CHECK_EVERY calls only: performance.now()
    // is an op call (0.1 to 0.25 µs with its wrapper, by `perf`), and 64
    // calls that completed at once (a system call each, a few µs at most)
    // keep the 5 ms budget to within a fraction of a millisecond.
    if ((++this.#fastCalls & (FAST_CHECK_EVERY - 1)) !== 0) return Promise.resolve(value);
    if (performance.now() - this.#lastTurn < STARVATION_MS) return Promise.resolve(value);
    return new Promise<T>((resolve) =>
      setImmediate(() => {
        this.#lastTurn = performance.now();
        resolve(value);
      })
    );
  }

  /**
   * Where the reactor takes edge-triggered registrations and `fd` is
   * registered: a number that changes each time a readable event of `fd`
   * comes, else -1. A reader that has just found a stream drained (a
   * short read) keeps it; while it is unchanged no data has come since
   * (any that came raised an event not yet handed out, which will wake a
   * waiter), so the next read may wait at once, with no call that would
   * only say EAGAIN. tokio clears its readiness after a short read alike.
   * Once an event said the peer ended, hung up or failed, -1 for good: that
   * state raises no second event.
   */
  readMark(fd: number): number {
    if (!this.#edge) return -1;
    const watch = this.#find(fd);
    return watch === undefined || !watch.registered ? -1 : watch.readMark;
  }

  /** The watch of `fd`, if it is watched. */
  #find(fd: number): Watch | undefined {
    return this.#byFd[fd];
  }

  /**
   * Stops watching `fd` (it is being closed, or its owner lets it go): its
   * waiters reject with `Deno.errors.Interrupted`.
   */
  forget(fd: number): void {
    const watch = this.#byFd[fd];
    if (watch === undefined) return;
    this.#byFd[fd] = undefined;
    this.#count--;
    watch.live = false;
    for (const waiter of [...watch.readers, ...watch.writers]) {
      this.#leave(waiter, new Deno.errors.Interrupted(`${waiter.action}: the fd was closed`));
    }
    const selector = this.#backend?.selector;
    if (watch.registered && selector !== undefined && !selector.closed) {
      // The Selector may have let it go already (it hears the close hook too).
      if (selector.getKey(fd)?.data === watch) selector.unregister(fd);
    }
    this.#releaseIfIdle();
  }

  #open(): ReactorBackend {
    let backend = this.#backend;
    if (backend === undefined) {
      backend = this.#backend = platform!.open();
      this.#edge = backend.edge;
      watchCloses(this.#onClose);
    }
    return backend;
  }

  #watchOf(fd: number): Watch {
    let watch = this.#find(fd);
    if (watch === undefined) {
      watch = new Watch(fd, ++this.#marks);
      this.#byFd[fd] = watch;
      this.#count++;
    }
    return watch;
  }

  /** Arms `watch` in the Selector for the directions its waiters want. */
  #arm(watch: Watch): void {
    if (this.#edge) {
      // Once, for both directions: each event says which is ready.
      if (!watch.registered) {
        this.#backend!.selector.register(watch.fd, Interest.READABLE | Interest.WRITABLE, {
          edge: true,
          data: watch,
        });
        watch.registered = true;
      }
      return;
    }
    let want = 0;
    if (watch.readers.length > 0) want |= Interest.READABLE;
    if (watch.writers.length > 0) want |= Interest.WRITABLE;
    if (want === 0 || (want & ~watch.armed) === 0) return;
    want |= watch.armed;
    const selector = this.#backend!.selector;
    if (watch.registered) {
      selector.modify(watch.fd, want, { oneshot: true, data: watch });
    } else {
      selector.register(watch.fd, want, { oneshot: true, data: watch });
      watch.registered = true;
    }
    watch.armed = want;
  }

  /** Takes `waiter` out of its fd's list. */
  #remove(waiter: Waiter): boolean {
    const list = waiter.write ? waiter.watch!.writers : waiter.watch!.readers;
    const at = list.indexOf(waiter);
    if (at < 0) return false;
    list.splice(at, 1);
    return true;
  }

  #unhook(waiter: Waiter): void {
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
  }

  /** A waiter that leaves before its fd is ready. */
  #leave(waiter: Waiter, reason: unknown): void {
    if (!this.#remove(waiter)) return;
    this.#unhook(waiter);
    this.#waiting--;
    if (this.#waiting === 0 && this.#running) {
      // The parked call is being called back: settle once it is.
      this.#left.push([waiter, reason]);
      this.#abort?.abort();
    } else {
      waiter.fail(reason);
    }
  }

  async #run(): Promise<void> {
    const events = this.#events;
    try {
      while (this.#waiting > 0) {
        const selector = this.#backend!.selector;
        let abort = this.#abort;
        if (abort === undefined || abort.signal.aborted) {
          abort = this.#abort = new AbortController();
        }
        let n = 0;
        try {
          n = await selector.waitInto(events, { signal: abort.signal });
        } catch (error) {
          if (!abort.signal.aborted) {
            this.#failAll(error);
            break;
          }
        }
        this.#lastTurn = performance.now();
        this.#settleLeft();
        if (n > 0) {
          this.#dispatch(n);
          // Let the waiters just woken do their work (a read, a write, the
          // next wait) before the next look: it then finds what their peers
          // answered, rather than nothing, as a readiness loop would.
          if (this.#waiting > 0) {
            for (let i = 0; i < YIELDS_AFTER_DISPATCH; i++) await undefined;
          }
        }
      }
    } finally {
      this.#running = false;
      this.#settleLeft();
      this.#releaseIfIdle();
    }
  }

  #dispatch(n: number): void {
    const events = this.#events;
    for (let i = 0; i < n; i++) {
      const watch = events.data(i);
      if (watch === undefined || !watch.live) continue; // forgotten since
      if (this.#edge) {
        if (events.readable(i)) {
          // An end, a hangup or an error stays: it raises no second event.
          const ended = events.readHangup(i) || events.hangup(i) || events.error(i);
          watch.readMark = ended ? -1 : ++this.#marks;
          if (watch.readers.length > 0) this.#wakeAll(watch.readers);
        }
        if (watch.writers.length > 0 && events.writable(i)) this.#wakeAll(watch.writers);
        continue;
      }
      watch.armed = 0; // oneshot: disarmed until armed again
      if (watch.readers.length > 0 && events.readable(i)) this.#wakeAll(watch.readers);
      if (watch.writers.length > 0 && events.writable(i)) this.#wakeAll(watch.writers);
      if (watch.readers.length > 0 || watch.writers.length > 0) {
        try {
          this.#arm(watch);
        } catch (error) {
          this.#failWatch(watch, error);
        }
      }
    }
  }

  /**
   * Wakes every waiter of `list`, which is emptied first (a waiter woken may
   * wait again at once). One waiter, the usual case, is taken by pop(): an
   * array emptied by splice() gives its room back, and the next wait's
   * push() would allocate it again.
   */
  #wakeAll(list: Waiter[]): void {
    if (list.length === 1) return this.#wake(list.pop()!);
    for (const waiter of list.splice(0)) this.#wake(waiter);
  }

  #wake(waiter: Waiter): void {
    this.#unhook(waiter);
    this.#waiting--;
    waiter.ready();
  }

  #failWatch(watch: Watch, error: unknown): void {
    for (const waiter of [...watch.readers, ...watch.writers]) this.#leave(waiter, error);
  }

  #failAll(error: unknown): void {
    for (const watch of this.#byFd) {
      if (watch === undefined) continue;
      for (const waiter of [...watch.readers, ...watch.writers]) {
        this.#remove(waiter);
        this.#unhook(waiter);
        this.#waiting--;
        waiter.fail(error);
      }
    }
  }

  #settleLeft(): void {
    const left = this.#left;
    if (left.length === 0) return;
    this.#left = [];
    for (const [waiter, reason] of left) waiter.fail(reason);
  }

  /** Closes the backend once nothing is watched and the loop is done. */
  #releaseIfIdle(): void {
    const backend = this.#backend;
    if (backend === undefined || this.#running || this.#count > 0) return;
    this.#backend = undefined;
    this.#abort = undefined;
    unwatchCloses(this.#onClose);
    backend.close();
  }
}

let current: Reactor | undefined;

/**
 * The reactor of this thread, made on first use.
 *
 * @internal
 */
export function reactor(): Reactor {
  return current ??= new Reactor();
}
