// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The one core of the completion model: everything a CompletionPort does
 * that does not depend on the kernel facility under it. An engine
 * (io_uring, epoll, iocp) implements {@linkcode Engine} — start an
 * operation, cancel it, harvest completions, park a thread, unpark it,
 * forget a handle, close — and reports each operation's outcome back
 * through the core's `transferred()`, `succeeded()`, `cancelled()` and
 * `failed()`. The core owns every rule a user sees:
 *
 * - **Arguments** of `read()`/`write()` (the buffer, the offset rule, the
 *   signal) are checked here, before any syscall; the engine only says what
 *   a handle is.
 * - **Operations in flight and their outcomes** (the slot table, port
 *   memory, the end of a stream, partial writes, one write of a stream at
 *   a time, cancellation) live in the base class, `_port_slots.ts`.
 * - **Posted packets**, `get()` and `wait()`: timeouts (never early),
 *   abort, `Busy`, close.
 * - **The pump**: one thread at most is parked, and only while an operation
 *   needs one, or a `wait()` does on an engine where completions can come
 *   from outside (IOCP). After completions, the next turns of the event loop
 *   look again for up to 50 µs before a thread is parked (a request-response
 *   peer usually answers sooner than a park's thread hop). While looks keep
 *   finding many completions at once (a busy port), the next look comes
 *   after a few microtasks instead of a turn of the event loop (the code the
 *   completions woke has started its next operations by then), and a turn
 *   still comes at least every 5 ms.
 * - **A settled wait leaves nothing in flight**: a `wait()` ended by its
 *   timeout, its signal, `close()` or a packet while a thread is parked for
 *   it alone settles only once that thread has come back, so that a
 *   synchronous `close()` right after it leaves nothing for Deno's
 *   sanitizers.
 * - **close()** cancels what is in flight; the engine is closed (its kernel
 *   objects released) only once no thread is parked and every operation has
 *   come back; `[Symbol.asyncDispose]` awaits that.
 *
 * The core knows no kernel, no library and no socket type: engines bring
 * those.
 *
 * @module
 */

import type { UnixConn, UnixListener } from "../types/unix.ts";
import { SPIN_MS, SPIN_WINDOW_MS, STARVATION_MS } from "./shared/_fairness.ts";
import { setImmediate } from "node:timers";
import {
  checkCancelOptions,
  checkConnectAddress,
  checkIoBuffer,
  checkKey,
  checkOffset,
  checkPost,
  checkWaitOptions,
} from "./_port_checks.ts";
import type { CancelOptions, TcpAddress, TcpConn, TcpListener } from "../types/net.ts";
import { formatAddress } from "./shared/_address.ts";
import { describe } from "./shared/_describe.ts";
import type {
  Completion,
  CompletionBackend,
  CompletionPort,
  Handle,
  IoOptions,
} from "../types/completion_port.ts";
import { normalizeTimeout } from "./shared/_timeouts.ts";
import type { WaitOptions } from "../types/selector.ts";
import {
  actionFor,
  ASSOCIATE,
  type Engine,
  FILE,
  type Operation,
  READ,
  WRITE,
} from "./_port_engine.ts";
import { PortSlots } from "./_port_slots.ts";
import { newPromise, settlers } from "./shared/_promises.ts";

/** The longest timer one setTimeout takes; longer waits re-arm it. */
const MAX_TIMER_MS = 0x7fffffff;
/** The largest offset (off_t is signed 64-bit). */
const MAX_OFFSET = (1n << 63n) - 1n;
/** Completions a look must find for the next look to come after microtasks. */
const BUSY_LOOK = 8;
/**
 * Microtask turns before such a look: a woken `read()` → `write()` →
 * `read()` chain takes about four, so the look finds what their peers
 * answered meanwhile (as the Selector's reactor does).
 */
const LOOK_YIELDS = 6;

/** A pending `wait()`. */
interface Waiter {
  resolve: (completions: Completion[]) => void;
  reject: (reason: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Once ended while a thread was parked for it alone: its outcome, given when it is back. */
  completions: Completion[] | undefined;
  reason: unknown;
}

/** Counters for tests and benchmarks. */
export interface CoreStats {
  /** Times a thread was parked. */
  parks: number;
  /** Looks made after microtasks rather than a turn of the event loop (a busy port). */
  busyLooks: number;
}

/**
 * The CompletionPort of every engine.
 *
 * @internal
 */
export class PortCore<O extends Operation = Operation> extends PortSlots<O>
  implements CompletionPort {
  #whenReleased: Promise<void>;
  #onReleased!: () => void;
  /** Packets not yet returned. */
  #queue: Completion[] = [];
  #waiter: Waiter | undefined;
  /** Waits ended while a thread was parked for them alone: settled when it is back. */
  #ending: Waiter[] = [];
  #delivering = false;
  #pumping = false;
  #parked = false;
  /**
   * When completions last came; while `#found`, they came on a turn of the
   * spin since, and the clock is read only once a look finds nothing (a
   * clock read is ~0.1 µs: a busy pump read it three times a turn).
   */
  #lastReady = -Infinity;
  #found = false;
  /**
   * The last look found BUSY_LOOK completions or more: the next one comes
   * after LOOK_YIELDS microtasks rather than a turn of the event loop (a
   * turn is ~1.5 µs of the runtime's own work: 30 ns a message of an echo at
   * 64 connections), while the event loop turned less than STARVATION_MS
   * ago (`#lastTurn`, stamped when a look right after a turn is busy).
   */
  #busy = false;
  #lastTurn = -Infinity;
  #stats: CoreStats = { parks: 0, busyLooks: 0 };
  /**
   * @param engine the kernel side; the core closes it once released
   */
  constructor(engine: Engine<O>) {
    super(engine);
    this.#whenReleased = new Promise((resolve) => this.#onReleased = resolve);
  }

  get backend(): CompletionBackend {
    return this.engine.backend;
  }

  /**
   * Counters of what the core has done (a copy).
   *
   * @internal
   */
  get coreStats(): CoreStats {
    return { ...this.#stats };
  }

  /**
   * Whether a thread is parked right now.
   *
   * @internal
   */
  get parked(): boolean {
    return this.#parked;
  }

  /**
   * After an engine's own work on this thread (a flush of its submissions):
   * packets go to a pending wait, and a thread is parked or sent home as
   * needed.
   *
   * @internal
   */
  poke(): void {
    this.#afterWork();
  }

  protected afterWork(): void {
    this.#afterWork();
  }

  protected releaseIfDone(): void {
    this.#release();
  }

  /**
   * Queues a packet for `get()`/`wait()`.
   *
   * @internal
   */
  packet(key: number, bytes: number, error: number, overlapped: Deno.PointerValue): void {
    if (!this.isClosed) this.#queue.push({ key, bytes, error, overlapped });
  }

  // ---------------------------------------------------------------------------
  // Reads and writes

  read(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number | null> {
    return this.#transfer(READ, handle, buffer, options);
  }

  write(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number> {
    return this.#transfer(WRITE, handle, buffer, options) as Promise<number>;
  }

  /** "Cannot read from fd 7": built only when something fails. */
  #transferAction(kind: number, key: number): string {
    return actionFor(kind, this.engine.nameOf(key));
  }

  /** A read or a write. The usual arguments pass without a message being built. */
  #transfer(
    kind: number,
    handle: Handle,
    buffer: Uint8Array,
    options: IoOptions | undefined,
  ): Promise<number | null> {
    const engine = this.engine;
    let op: O | undefined;
    let signal: AbortSignal | undefined;
    try {
      const key = engine.handleOf(handle, kind);
      if (!isPlainBuffer(buffer)) checkIoBuffer(this.#transferAction(kind, key), buffer);
      let offset: number | bigint | undefined;
      if (options !== undefined) {
        if (typeof options !== "object" || options === null) {
          throw new TypeError(
            `${this.#transferAction(kind, key)}: options must be an object, got ${
              describe(options)
            }`,
          );
        }
        const at = options.offset;
        if (at !== undefined) {
          if (typeof at === "number" && at >= 0 && Number.isSafeInteger(at)) {
            offset = at;
          } else if (typeof at === "bigint" && at >= 0n && at <= MAX_OFFSET) {
            offset = at <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(at) : at;
          } else {
            offset = checkOffset(this.#transferAction(kind, key), at);
          }
        }
        signal = options.signal;
        if (signal !== undefined && !(signal instanceof AbortSignal)) {
          throw new TypeError(
            `${this.#transferAction(kind, key)}: signal must be an AbortSignal, got ${
              describe(signal)
            }`,
          );
        }
      }
      if (this.isClosed) this.checkOpen(this.#transferAction(kind, key));
      let handleKind = engine.kindOf(key, kind);
      if ((handleKind === FILE) !== (offset !== undefined)) {
        handleKind = engine.kindOf(key, kind, true);
      }
      if ((handleKind === FILE) !== (offset !== undefined)) {
        throw new TypeError(
          handleKind === FILE
            ? `${
              this.#transferAction(kind, key)
            }: offset is required on a file (it has no position here)`
            : `${this.#transferAction(kind, key)}: offset must be omitted on a stream`,
        );
      }
      signal?.throwIfAborted();
      const length = buffer.length < engine.maxIo ? buffer.length : engine.maxIo;
      if (length === 0) return Promise.resolve(0);
      // A stream write the kernel takes at once needs no operation.
      const done = kind === WRITE && signal === undefined
        ? this.writeAtOnce(
          key,
          handleKind,
          length < buffer.length ? buffer.subarray(0, length) : buffer,
        )
        : 0;
      if (done === length) return Promise.resolve(done);
      op = this.allocateOp(kind, key, handleKind);
      op.buffer = buffer;
      op.length = length;
      op.done = done;
      if (offset !== undefined) op.offset = offset;
    } catch (error) {
      if (op !== undefined) this.free(op);
      return Promise.reject(error);
    }
    return this.launch(op, signal);
  }

  // ---------------------------------------------------------------------------
  // Sockets

  accept(listener: TcpListener, options?: CancelOptions): Promise<TcpConn>;
  accept(listener: UnixListener, options?: CancelOptions): Promise<UnixConn>;
  accept(
    listener: TcpListener | UnixListener,
    options?: CancelOptions,
  ): Promise<TcpConn | UnixConn> {
    try {
      // The engine knows its listeners; it checks them, then asks checkStart().
      return this.engine.accept(listener, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  connect(address: TcpAddress, options?: CancelOptions): Promise<TcpConn> {
    try {
      const target = checkConnectAddress(address);
      const where = formatAddress(target);
      const signal = this.checkStart(`Cannot connect to ${where}`, options);
      return this.engine.connect(where, target, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The checks of a socket operation once its target is known: its
   * options, the port open, the signal not aborted; returns the signal.
   *
   * @internal
   */
  checkStart(action: string, options: unknown): AbortSignal | undefined {
    const signal = checkCancelOptions(action, options);
    this.checkOpen(action);
    signal?.throwIfAborted();
    return signal;
  }

  // ---------------------------------------------------------------------------
  // Packets

  associate(handle: Handle, key: number): void {
    const checked = this.engine.handleOf(handle, ASSOCIATE);
    const action = actionFor(ASSOCIATE, this.engine.nameOf(checked));
    checkKey(action, key);
    this.checkOpen(action);
    this.engine.associate(checked, key);
  }

  post(key: number, bytes = 0, overlapped: Deno.PointerValue = null): void {
    const action = "Cannot post to the completion port";
    checkPost(action, key, bytes, overlapped);
    this.checkOpen(action);
    if (this.engine.post(key, bytes, overlapped)) return;
    this.#queue.push({ key, bytes, error: 0, overlapped });
    // A pending wait gets the packets posted in this run of JavaScript together.
    if (this.#waiter !== undefined && !this.#delivering) {
      this.#delivering = true;
      queueMicrotask(() => {
        this.#delivering = false;
        this.#deliver();
      });
    }
  }

  #take(): Completion[] {
    const taken = this.#queue;
    this.#queue = [];
    return taken;
  }

  get(timeout?: number): Completion[] {
    const action = "Cannot get from the completion port";
    const ms = normalizeTimeout(() => action, timeout);
    this.checkOpen(action);
    if (this.#waiter !== undefined) {
      throw new Deno.errors.Busy(`${action}: a wait() is pending on this port`);
    }
    // A thread blocked here could not settle the operations in flight.
    if (ms !== 0 && this.inflight > 0) {
      throw new Deno.errors.Busy(
        `${action}: operations started through the port are in flight; use wait()`,
      );
    }
    try {
      if (this.#queue.length === 0) this.#harvest(0);
      if (this.#queue.length > 0 || ms === 0) return this.#take();
      const deadline = ms === Infinity ? Infinity : performance.now() + ms;
      for (;;) {
        let slice = -1;
        if (deadline !== Infinity) {
          const left = deadline - performance.now();
          if (left <= 0) return [];
          slice = Math.min(Math.ceil(left), MAX_TIMER_MS);
        }
        this.#harvest(slice);
        if (this.#queue.length > 0) return this.#take();
      }
    } finally {
      this.#afterWork();
    }
  }

  wait(options?: WaitOptions): Promise<Completion[]> {
    const action = "Cannot wait on the completion port";
    let ms: number;
    let signal: AbortSignal | undefined;
    try {
      ({ ms, signal } = checkWaitOptions(action, options));
      this.checkOpen(action);
      if (this.#waiter !== undefined) {
        throw new Deno.errors.Busy(`${action}: another wait() is pending on this port`);
      }
      signal?.throwIfAborted();
      // Packets already there are taken on this thread: no thread hop.
      if (this.#queue.length === 0) this.#harvest(0);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#queue.length > 0 || ms === 0) {
      this.#afterWork();
      return Promise.resolve(this.#take());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: undefined,
        signal,
        onAbort: undefined,
        completions: undefined,
        reason: undefined,
      };
      this.#waiter = waiter;
      if (ms !== Infinity) {
        const deadline = performance.now() + ms;
        const arm = () => {
          const left = deadline - performance.now();
          if (left > 0) waiter.timer = setTimeout(arm, Math.min(Math.ceil(left), MAX_TIMER_MS));
          else this.#endWait(waiter, []);
        };
        // Always a timer first, never an end from here: a deadline already past
        // (a slow or paused process) ends the wait on that timer.
        waiter.timer = setTimeout(arm, Math.min(Math.ceil(ms), MAX_TIMER_MS));
      }
      if (signal !== undefined) {
        waiter.onAbort = () => this.#endWait(waiter, undefined, signal.reason);
        signal.addEventListener("abort", waiter.onAbort);
      }
      this.#pump();
    });
  }

  /**
   * Ends a pending wait with packets, or with a reason. While a thread is
   * parked for it alone, the thread is called back first, and the wait
   * settles when it is back.
   */
  #endWait(waiter: Waiter, completions?: Completion[], reason?: unknown): void {
    if (this.#waiter !== waiter) return;
    this.#waiter = undefined;
    clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    if (this.#parked && !this.engine.needsPark()) {
      waiter.completions = completions;
      waiter.reason = reason;
      this.#ending.push(waiter);
      this.engine.unpark();
      return;
    }
    if (completions !== undefined) waiter.resolve(completions);
    else waiter.reject(reason);
  }

  /** Settles the waits that ended while their thread was out. */
  #settleEnding(): void {
    if (this.#ending.length === 0) return;
    const ending = this.#ending;
    this.#ending = [];
    for (const waiter of ending) {
      if (waiter.completions !== undefined) waiter.resolve(waiter.completions);
      else waiter.reject(waiter.reason);
    }
  }

  /** Gives queued packets to a pending wait. */
  #deliver(): void {
    const waiter = this.#waiter;
    if (waiter !== undefined && this.#queue.length > 0) this.#endWait(waiter, this.#take());
  }

  // ---------------------------------------------------------------------------
  // The pump

  /** Harvests on this thread; returns what the engine found. */
  #harvest(timeoutMs: number): number {
    const found = this.engine.harvest(timeoutMs);
    if (found > 0) this.#lastReady = performance.now();
    return found;
  }

  /** After work on this thread: packets to a wait, a thread parked if needed, or one sent home. */
  #afterWork(): void {
    this.#deliver();
    if (this.isReleased) return;
    if (this.#needsPump()) {
      if (!this.#pumping) this.#pump();
    } else if (this.#parked) {
      this.engine.unpark(); // parked for nothing now
    }
  }

  #needsPump(): boolean {
    if (this.isReleased) return false;
    if (this.engine.needsPark()) return true;
    return this.#waiter !== undefined && this.engine.parksForWait;
  }

  /** Parks a thread while something needs one; harvests on this thread when it is back. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const engine = this.engine;
    try {
      // The rest of this turn first: a burst of operations started in it goes
      // to the kernel together (an engine's flush is queued already).
      await null;
      while (this.#needsPump()) {
        // Busy a moment ago: look again on the next turns of the event loop
        // before paying a park.
        if (
          (this.#found || performance.now() - this.#lastReady < SPIN_WINDOW_MS) &&
          await this.#spin()
        ) {
          continue;
        }
        if (!this.#needsPump()) break;
        const parked = engine.park();
        if (parked === undefined) {
          // Found work while getting ready to park: nothing was parked.
          this.#lastReady = performance.now();
          this.#deliver();
          continue;
        }
        this.#parked = true;
        this.#stats.parks++;
        try {
          await parked;
        } finally {
          this.#parked = false;
        }
        this.turned(); // the event loop has turned
        this.#harvest(0);
        this.#settleEnding();
        this.#deliver();
      }
    } catch (error) {
      const waiter = this.#waiter;
      if (waiter !== undefined) this.#endWait(waiter, undefined, error);
    } finally {
      if (this.#found) {
        // Stamped now: a pump started later must not take it for recent.
        this.#found = false;
        this.#lastReady = performance.now();
      }
      this.#busy = false;
      this.#pumping = false;
      this.#parked = false;
      this.#settleEnding();
      if (this.isClosed) this.#release();
    }
  }

  /**
   * Looks on the next turns of the event loop (after microtasks only, while
   * the port is busy), for up to SPIN_MS after the first look that finds
   * nothing; returns whether something came.
   */
  async #spin(): Promise<boolean> {
    let end = 0;
    for (;;) {
      const turning = !this.#busy || performance.now() - this.#lastTurn >= STARVATION_MS;
      if (turning) {
        const turn = newPromise<void>();
        setImmediate(settlers.resolve);
        await turn;
        this.turned();
      } else {
        for (let i = 0; i < LOOK_YIELDS; i++) await undefined;
        this.#stats.busyLooks++;
      }
      if (!this.#needsPump()) return true; // the loop ends without a park
      const found = this.engine.harvest(0);
      if (found > 0) {
        this.#found = true;
        const busy = found >= BUSY_LOOK;
        if (busy && turning) this.#lastTurn = performance.now();
        this.#busy = busy;
        this.#deliver();
        return true;
      }
      this.#busy = false;
      const now = performance.now();
      if (end === 0) {
        end = now + SPIN_MS;
        if (this.#found) {
          // Completions came until the turn before this one.
          this.#found = false;
          this.#lastReady = now;
        }
      } else if (now >= end) {
        return false;
      }
    }
  }

  // ---------------------------------------------------------------------------
  // close()

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.#queue = [];
    const waiter = this.#waiter;
    if (waiter !== undefined) this.#endWait(waiter, []);
    this.cancelAll();
    this.#afterWork();
    this.#release();
  }

  /** Closes the engine once nothing is parked, pending or in flight. */
  #release(): void {
    if (
      this.isReleased || this.#pumping || this.inflight > 0 || this.hasDeferred ||
      this.engine.busy()
    ) {
      return;
    }
    this.isReleased = true;
    this.dropSlots();
    this.memory.release();
    this.engine.close();
    this.#onReleased();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#whenReleased;
  }
}

/** Whether `buffer` passes checkIoBuffer(), asked without building a message. */
function isPlainBuffer(buffer: unknown): boolean {
  if (!(buffer instanceof Uint8Array)) return false;
  const backing = buffer.buffer;
  return backing instanceof ArrayBuffer && !backing.resizable && !backing.detached;
}
