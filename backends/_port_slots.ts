// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The operations in flight of a CompletionPort, whatever its engine: the
 * slot table (reused slots tagged with a generation, so that a late
 * completion of a slot reused since is dropped), starting an operation now
 * or after a turn of the event loop (after ~5 ms of starts without one),
 * one write of a stream at a time (the others wait their turn, so writes
 * started together go out whole, in order), the port memory of each step
 * (the kernel only ever sees memory the port owns: a caller's ordinary
 * buffer is copied through a slot of it), and
 * the rules of outcomes — the end of a stream, a stream write that takes
 * all its bytes, a file read or write in steps, a cancellation by a
 * signal, a close or a handle's close, a write aborted after part of its
 * bytes went out (it resolves with them), a buffer detached in flight (a
 * TypeError saying what moved). The port's public side (`_port_core.ts`)
 * extends it.
 *
 * It knows no kernel: an engine (`_port_engine.ts`) starts and cancels,
 * and reports outcomes here.
 *
 * @module
 */

import { STARVATION_MS } from "./shared/_fairness.ts";
import { setImmediate } from "node:timers";
import { MAX_SLOT, PortMemory } from "./shared/_port_memory.ts";
import { describe } from "./shared/_describe.ts";
import { newPromiseInto } from "./shared/_promises.ts";
import {
  type Aborter,
  ACCEPT,
  BY_CLOSE,
  BY_HANDLE_CLOSE,
  BY_SIGNAL,
  CONNECT,
  detachedInFlight,
  type Engine,
  FILE,
  FREE,
  noop,
  NOT_CANCELLED,
  type Operation,
  POST,
  READ,
  SOCKET,
  WRITE,
} from "./_port_engine.ts";

/** Operations started between two looks at the clock. */
const CLOCK_EVERY = 64;
/** The largest allocation of port memory: 1 GiB. */
const MAX_ALLOCATION = 1024 * 1024 * 1024;

/**
 * The operations of a port, and their outcomes.
 *
 * @internal
 */
export abstract class PortSlots<O extends Operation = Operation> implements Aborter {
  /** The kernel side. */
  protected readonly engine: Engine<O>;
  /** Whether `close()` has been called. */
  protected isClosed = false;
  /** Whether the engine has been closed (its kernel objects released). */
  protected isReleased = false;
  #ops: O[] = [];
  #freeSlots: number[] = [];
  #gen = 0;
  /** Operations (posts aside) between their start and their outcome. */
  #inflight = 0;
  /**
   * Operations started since the event loop last turned, and when the
   * CLOCK_EVERY-th of them was (0: not yet; the clock is not read per turn).
   */
  #streak = 0;
  #streakStart = 0;
  /** Operations held back until the next turn of the event loop. */
  #deferred: O[] = [];
  #resumeScheduled = false;
  #resume = (): void => this.#runDeferred();
  #memory = new PortMemory();
  /**
   * Per handle of a stream: the write that has its turn (from its start
   * until it settles), and the writes started behind it, held here until
   * then: a stream write goes out in steps (port memory, a partial send),
   * and two of one stream in flight together would interleave their bytes.
   */
  #writers = new Map<number, O>();
  #behind = new Map<number, O[]>();

  /**
   * @param engine the kernel side; the port closes it once released
   */
  constructor(engine: Engine<O>) {
    this.engine = engine;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** After work on this thread: packets to a wait, a thread parked or sent home (the port's). */
  protected abstract afterWork(): void;
  /** Closes the engine if nothing needs it any more (the port's). */
  protected abstract releaseIfDone(): void;

  /** Whether operations wait for a turn of the event loop. */
  protected get hasDeferred(): boolean {
    return this.#resumeScheduled;
  }

  /** The event loop has turned: operations may start at once again. */
  protected turned(): void {
    this.#streak = 0;
    this.#streakStart = 0;
  }

  /** The slots go (the port is released). */
  protected dropSlots(): void {
    this.#ops = [];
    this.#freeSlots = [];
  }

  /** close(): every operation waiting or in flight is cancelled, as by a close. */
  protected cancelAll(): void {
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const behind of this.#behind.values()) deferred.push(...behind);
    this.#behind.clear();
    for (const op of deferred) {
      if (op.kind === FREE) continue;
      if (op.cancelled === NOT_CANCELLED) op.cancelled = BY_CLOSE;
      this.cancelled(op);
    }
    if (this.#inflight === 0) return;
    for (const op of this.#ops) {
      if (op.kind === FREE || op.kind === POST) continue;
      if (op.cancelled === NOT_CANCELLED) op.cancelled = BY_CLOSE;
      try {
        this.engine.cancel(op);
      } catch {
        // Its own outcome still comes.
      }
    }
  }

  /**
   * Operations in flight (posts aside).
   *
   * @internal
   */
  get inflight(): number {
    return this.#inflight;
  }

  /** BadResource naming `action` once the port is closed. */
  protected checkOpen(action: string): void {
    if (this.isClosed) {
      throw new Deno.errors.BadResource(`${action}: the completion port is closed`);
    }
  }

  // ---------------------------------------------------------------------------
  // The slot table

  /**
   * A free slot for an operation of `kind` on `handle`.
   *
   * @internal
   */
  allocateOp(kind: number, handle = -1, handleKind = 0): O {
    const slot = this.#freeSlots.pop();
    let op: O;
    if (slot === undefined) {
      op = this.engine.operation(this.#ops.length, this);
      this.#ops.push(op);
    } else {
      op = this.#ops[slot];
    }
    this.#gen = this.#gen === 0x7fffffff ? 1 : this.#gen + 1;
    op.gen = this.#gen;
    op.kind = kind;
    op.handle = handle;
    op.handleKind = handleKind;
    if (kind !== POST) this.#inflight++;
    return op;
  }

  /**
   * Gives a slot back: its buffer and everything else it referenced go.
   *
   * @internal
   */
  free(op: O): void {
    const kind = op.kind;
    if (kind === FREE) return;
    if (kind !== POST) this.#inflight--;
    const handle = op.handle;
    const hadTurn = kind === WRITE && !this.engine.ordersWrites && this.#writers.get(handle) === op;
    if (op.signal !== undefined) op.signal.removeEventListener("abort", op);
    op.kind = FREE;
    op.gen = 0;
    op.handle = -1;
    op.buffer = undefined;
    op.target = undefined;
    op.signal = undefined;
    op.resolve = noop;
    op.reject = noop;
    op.cancelled = NOT_CANCELLED;
    op.done = 0;
    op.length = 0;
    op.offset = 0;
    if (op.memory !== undefined) {
      this.#memory.give(op.memory);
      op.memory = undefined;
    }
    op.zeroCopy = false;
    op.address = 0;
    op.step = 0;
    op.reset();
    this.#freeSlots.push(op.slot);
    if (hadTurn) this.#passTurn(handle);
  }

  /**
   * The operation in `slot` if it is still the use tagged `gen`, else
   * undefined (a completion of a slot reused since).
   *
   * @internal
   */
  current(slot: number, gen: number): O | undefined {
    const op = this.#ops[slot];
    return op !== undefined && op.gen === gen && op.kind !== FREE ? op : undefined;
  }

  /**
   * Every slot in use (for an engine that must visit them: a close, a
   * handle's close).
   *
   * @internal
   */
  inUse(): O[] {
    return this.#ops.filter((op) => op.kind !== FREE);
  }

  /**
   * Makes the promise of an allocated operation and starts it (now, or
   * after a turn of the event loop if the loop has not turned for a
   * while). On a synchronous failure the slot is freed and the promise
   * rejects.
   *
   * @internal
   */
  launch<R>(op: O, signal: AbortSignal | undefined): Promise<R> {
    const promise = newPromiseInto<R>(op);
    if (signal !== undefined) {
      op.signal = signal;
      signal.addEventListener("abort", op);
    }
    if (this.#mayRunNow()) this.#start(op);
    else this.#defer(op);
    return promise;
  }

  #start(op: O): void {
    if (
      op.kind === WRITE && op.handleKind !== FILE && !this.engine.ordersWrites &&
      !this.#takeTurn(op)
    ) {
      return;
    }
    this.#step(op);
    this.afterWork();
  }

  /**
   * A stream write made at once by the engine (`Engine.writeNow`), before
   * any operation is made of it: the bytes taken (all of them: no operation
   * is needed; fewer: the operation starts after them), or 0. Not with a
   * signal, nor while an earlier write of the handle is in flight, nor when
   * a turn of the event loop is due.
   *
   * @internal
   */
  protected writeAtOnce(key: number, handleKind: number, bytes: Uint8Array): number {
    const engine = this.engine;
    if (
      engine.writeNow === undefined || handleKind === FILE ||
      (!engine.ordersWrites && this.#writers.has(key)) || !this.#mayRunNow()
    ) {
      return 0;
    }
    const n = engine.writeNow(key, handleKind, bytes);
    return n > 0 ? n : 0;
  }

  /** Whether a stream write may start now; if not, it waits behind the write that has the turn. */
  #takeTurn(op: O): boolean {
    const handle = op.handle;
    if (!this.#writers.has(handle)) {
      this.#writers.set(handle, op);
      return true;
    }
    const behind = this.#behind.get(handle);
    if (behind === undefined) this.#behind.set(handle, [op]);
    else behind.push(op);
    return false;
  }

  /** The write that had the turn of `handle` has settled: the next one starts. */
  #passTurn(handle: number): void {
    const behind = this.#behind.get(handle);
    const next = behind?.shift();
    if (next === undefined) {
      this.#writers.delete(handle);
      return;
    }
    if (behind!.length === 0) this.#behind.delete(handle);
    this.#writers.set(handle, next);
    this.#step(next);
    this.afterWork();
  }

  /** Takes `op` out of the writes waiting for their turn; returns whether it was one. */
  #leaveLine(op: O): boolean {
    const behind = this.#behind.get(op.handle);
    const at = behind === undefined ? -1 : behind.indexOf(op);
    if (at < 0) return false;
    behind!.splice(at, 1);
    if (behind!.length === 0) this.#behind.delete(op.handle);
    return true;
  }

  /** Starts an operation's next step, with its memory ready; a failure fails it. */
  #step(op: O): void {
    try {
      if (this.engine.ownsMemory && (op.kind === READ || op.kind === WRITE)) {
        if (!this.#prepare(op)) return;
      }
      this.engine.start(op);
    } catch (error) {
      if (op.kind !== FREE) this.failed(op, error);
    }
  }

  /**
   * Readies the port memory of a read's or write's next step: the caller's
   * own port memory as it is, else a slot (a write's bytes copied in).
   * Returns false when the caller's buffer was detached (the operation has
   * failed then).
   */
  #prepare(op: O): boolean {
    const buffer = op.buffer!;
    if (op.memory === undefined) {
      const own = this.#memory.use(buffer);
      if (own !== undefined) {
        op.memory = own;
        op.zeroCopy = true;
      }
    }
    const left = op.length - op.done;
    if (op.zeroCopy) {
      const slot = op.memory!;
      op.address = slot.address + (buffer.byteOffset - slot.bytes.byteOffset) + op.done;
      op.step = left;
      return true;
    }
    if (detachedInFlight(buffer)) {
      this.#detached(op, 0);
      return false;
    }
    const step = left < MAX_SLOT ? left : MAX_SLOT;
    let slot = op.memory;
    if (slot === undefined || slot.capacity < step) {
      if (slot !== undefined) this.#memory.give(slot);
      slot = op.memory = this.#memory.take(step);
    }
    if (op.kind === WRITE) slot.bytes.set(buffer.subarray(op.done, op.done + step));
    op.address = slot.address;
    op.step = step;
    return true;
  }

  /**
   * Fails an operation whose buffer the caller detached while it was in
   * flight, saying what it had moved: `n` bytes read (and lost), or the
   * bytes written.
   *
   * @internal
   */
  detachedBuffer(op: O, n: number): void {
    this.#detached(op, n);
  }

  #detached(op: O, n: number): void {
    const what = op.kind === READ
      ? `the buffer was detached while the read was in flight: ${n} bytes read and lost`
      : `the buffer was detached while the write was in flight (${op.done} bytes written)`;
    this.#fail(op, new TypeError(`${this.action(op)}: ${what}`));
  }

  /** Whether an operation may start now: not while a yield to the event loop is due. */
  #mayRunNow(): boolean {
    if (this.#resumeScheduled) return false;
    const streak = ++this.#streak;
    if (streak % CLOCK_EVERY !== 0) return true;
    const now = performance.now();
    if (this.#streakStart === 0) {
      this.#streakStart = now;
      return true;
    }
    return now - this.#streakStart < STARVATION_MS;
  }

  #defer(op: O): void {
    this.#deferred.push(op);
    if (!this.#resumeScheduled) {
      this.#resumeScheduled = true;
      setImmediate(this.#resume);
    }
  }

  /** After a turn of the event loop: starts the operations held back. */
  #runDeferred(): void {
    this.#resumeScheduled = false;
    this.turned();
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const op of deferred) {
      if (op.kind === FREE) continue; // settled meanwhile (aborted, closed)
      if (op.cancelled !== NOT_CANCELLED) {
        this.cancelled(op);
        continue;
      }
      this.#start(op);
    }
    if (this.isClosed) this.releaseIfDone();
  }

  // ---------------------------------------------------------------------------
  // Outcomes, reported by the engine

  /**
   * One step of a read or write moved `n` bytes (0: a read's end of
   * stream, or a write that moved nothing).
   *
   * @internal
   */
  transferred(op: O, n: number): void {
    if (op.kind === READ) {
      // Out of a slot into the caller's buffer, if it is still there.
      if (op.memory !== undefined && !op.zeroCopy) {
        const buffer = op.buffer!;
        if (detachedInFlight(buffer)) return this.#detached(op, n);
        if (n > 0) buffer.set(op.memory.bytes.subarray(0, n), op.done);
      }
      const done = op.done += n;
      // A file read in steps (a slot at a time) goes on until it is short or full.
      if (
        op.handleKind === FILE && n > 0 && n === op.step && done < op.length &&
        op.cancelled === NOT_CANCELLED
      ) {
        return this.#step(op);
      }
      this.#settle(op, done > 0 ? done : null);
      return;
    }
    const done = op.done += n;
    if (op.memory !== undefined && !op.zeroCopy && detachedInFlight(op.buffer!)) {
      return this.#detached(op, 0);
    }
    if (
      done >= op.length || n === 0 || op.cancelled === BY_SIGNAL ||
      (op.handleKind === FILE && (op.step === 0 || n < op.step))
    ) {
      // Done; or a file's write the kernel made short (a full disk, a limit).
      this.#settle(op, done);
    } else if (op.cancelled !== NOT_CANCELLED) {
      this.#fail(op, this.#interrupted(op));
    } else {
      // A stream's write takes all its bytes, a file's its steps: the engine is asked for the rest.
      this.#step(op);
    }
  }

  /**
   * An accept, a connect or a call produced its value.
   *
   * @internal
   */
  succeeded(op: O, value: unknown): void {
    this.#settle(op, value);
  }

  /**
   * The kernel says `op` was cancelled, after it moved `n` bytes (a
   * partial write, or a read that took bytes before the cancel).
   *
   * @internal
   */
  cancelled(op: O, n = 0): void {
    if (op.kind === READ && (n > 0 || op.done > 0)) {
      // What it read before the cancel is the caller's.
      if (n > 0 && op.memory !== undefined && !op.zeroCopy) {
        if (detachedInFlight(op.buffer!)) return this.#detached(op, n);
        op.buffer!.set(op.memory.bytes.subarray(0, n), op.done);
      }
      return this.#settle(op, op.done + n);
    }
    op.done += n;
    if (op.kind === WRITE && op.done > 0 && op.cancelled === BY_SIGNAL) {
      return this.#settle(op, op.done); // bytes that went out are never reported as not sent
    }
    if (op.cancelled === BY_SIGNAL) return this.#fail(op, op.signal!.reason);
    this.#fail(op, this.#interrupted(op));
  }

  /**
   * `op` failed with `error`. Once its port or handle is being closed, any
   * failure is an interruption; a write aborted after part of its bytes
   * went out resolves with them.
   *
   * @internal
   */
  failed(op: O, error: unknown): void {
    const cancelled = op.cancelled;
    if (cancelled === BY_SIGNAL && op.kind === WRITE && op.done > 0) {
      return this.#settle(op, op.done);
    }
    if (cancelled === BY_CLOSE || cancelled === BY_HANDLE_CLOSE) {
      return this.#fail(op, this.#interrupted(op));
    }
    this.#fail(op, error);
  }

  /**
   * Settles `op` with what `outcome()` returns, or rejects it with what it
   * throws; the slot is given back first, so that what `outcome()` does
   * (closing a socket that failed to connect) no longer touches it.
   *
   * @internal
   */
  settleWith(op: O, outcome: () => unknown): void {
    const { resolve, reject } = op;
    this.free(op);
    try {
      resolve(outcome());
    } catch (reason) {
      reject(reason);
    }
    if (this.isClosed) this.releaseIfDone();
  }

  #settle(op: O, value: unknown): void {
    const resolve = op.resolve;
    this.free(op);
    resolve(value);
    if (this.isClosed) this.releaseIfDone();
  }

  #fail(op: O, reason: unknown): void {
    const reject = op.reject;
    this.free(op);
    reject(reason);
    if (this.isClosed) this.releaseIfDone();
  }

  /**
   * What an operation was doing, as the start of its messages: "Cannot read
   * from fd 7".
   *
   * @internal
   */
  action(op: O): string {
    switch (op.kind) {
      case READ:
        return `Cannot read from ${this.engine.nameOf(op.handle)}`;
      case WRITE:
        return `Cannot write to ${this.engine.nameOf(op.handle)}`;
      case ACCEPT:
        return `Cannot accept on ${(op.target as { where: string }).where}`;
      case CONNECT:
        return `Cannot connect to ${(op.target as { where: string }).where}`;
      default:
        return (op.target as { action: string }).action;
    }
  }

  #interrupted(op: O): Error {
    const why = op.cancelled === BY_CLOSE
      ? "the completion port was closed"
      : op.handleKind === SOCKET || op.kind === ACCEPT || op.kind === CONNECT
      ? "the socket was closed"
      : "the fd was closed";
    return new Deno.errors.Interrupted(`${this.action(op)}: ${why}`);
  }

  /** A signal aborted an operation: the engine is asked to cancel it; its outcome says how it ended. */
  abort(op: O): void {
    if (op.kind === FREE || op.kind === POST || op.cancelled !== NOT_CANCELLED) return;
    op.cancelled = BY_SIGNAL;
    if (this.#deferred.includes(op)) {
      this.#deferred.splice(this.#deferred.indexOf(op), 1);
      this.cancelled(op);
      return;
    }
    if (op.kind === WRITE && this.#leaveLine(op)) return this.cancelled(op);
    try {
      this.engine.cancel(op);
    } catch {
      // The engine could not ask: the operation's own outcome still comes.
    }
    this.afterWork();
  }

  /**
   * One of this module's handles (`key`) is about to be closed: what is in
   * flight on it is cancelled (it rejects with `Interrupted` once back),
   * and the engine forgets what it knew of it.
   *
   * @internal
   */
  handleClosing(key: number): void {
    if (this.isReleased) return;
    if (this.#inflight > 0) {
      // The writes waiting for their turn first: none of them may start now.
      const behind = this.#behind.get(key);
      if (behind !== undefined) {
        this.#behind.delete(key);
        for (const op of behind) {
          op.cancelled = BY_HANDLE_CLOSE;
          this.cancelled(op);
        }
      }
      for (const op of this.#ops) {
        if (op.kind === FREE || op.kind === POST || op.handle !== key) continue;
        if (op.cancelled !== NOT_CANCELLED) continue;
        op.cancelled = BY_HANDLE_CLOSE;
        const at = this.#deferred.indexOf(op);
        if (at >= 0) {
          this.#deferred.splice(at, 1);
          this.cancelled(op);
          continue;
        }
        try {
          this.engine.cancel(op);
        } catch {
          // Its own outcome still comes.
        }
      }
    }
    this.engine.forget(key);
    this.afterWork();
  }

  // ---------------------------------------------------------------------------
  // Port memory

  allocate(size: number): Uint8Array {
    const action = "Cannot allocate port memory";
    if (
      typeof size !== "number" || !Number.isSafeInteger(size) || size < 1 || size > MAX_ALLOCATION
    ) {
      throw new RangeError(
        `${action}: size must be an integer from 1 to ${MAX_ALLOCATION}, got ${describe(size)}`,
      );
    }
    this.checkOpen(action);
    return this.#memory.allocate(size);
  }

  /**
   * The port's memory (an engine lends slots of it for work on other threads).
   *
   * @internal
   */
  get memory(): PortMemory {
    return this.#memory;
  }
}
