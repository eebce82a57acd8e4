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
 * - **The slot table**: operations in flight live in reused slots, each
 *   tagged with a generation, so that a late completion of a slot reused
 *   since is dropped. A slot is the operation's abort listener (no closure
 *   per operation), and keeps its buffer referenced until its completion has
 *   come back, also after a cancellation.
 * - **Outcomes**: a read of 0 bytes is the end of the stream (`null`); a
 *   stream write takes all its bytes (the engine is asked for the rest); a
 *   file write may be short. A cancelled operation rejects with the
 *   signal's reason, or `Interrupted` when the port or its handle was
 *   closed; but one that moved bytes before its cancellation took effect
 *   resolves with them: a read with what it read, a write aborted after
 *   part of its bytes went out with the bytes written (never reported as not
 *   sent).
 * - **Posted packets**, `get()` and `wait()`: timeouts (never early),
 *   abort, `Busy`, close.
 * - **The pump**: one thread at most is parked, and only while an operation
 *   needs one, or a `wait()` does on an engine where completions can come
 *   from outside (IOCP). After completions, the next turns of the event loop
 *   look again for up to 50 µs before a thread is parked (a request-response
 *   peer usually answers sooner than a park's thread hop).
 * - **A settled wait leaves nothing in flight**: a `wait()` ended by its
 *   timeout, its signal, `close()` or a packet while a thread is parked for
 *   it alone settles only once that thread has come back, so that a
 *   synchronous `close()` right after it leaves nothing for Deno's
 *   sanitizers.
 * - **Starvation**: after ~5 ms of operations started without the event
 *   loop turning, the next ones wait for one turn, so that timers and other
 *   I/O still run under constant readiness.
 * - **close()** cancels what is in flight; the engine is closed (its kernel
 *   objects released) only once no thread is parked and every operation has
 *   come back; `[Symbol.asyncDispose]` awaits that.
 *
 * The core knows no kernel, no library and no socket type: engines bring
 * those.
 *
 * @module
 */

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
import { MAX_SLOT, PortMemory, type Slot } from "./shared/_port_memory.ts";
import type { CancelOptions, TcpAddress, TcpConn, TcpListener } from "../types/net.ts";
import { formatAddress, type SocketAddress } from "./shared/_address.ts";
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

/** Operation kinds (`Operation.kind`); 0 is a free slot. */
export const FREE = 0;
export const READ = 1;
export const WRITE = 2;
export const ACCEPT = 3;
export const CONNECT = 4;
/** An engine's own kind of operation (an overlapped call of a socket), settled by its `finish`. */
export const CALL = 5;
/** A posted packet travelling through the kernel (a NOP): not an operation in flight. */
export const POST = 6;
/** Not an operation: what `associate()` does, for the messages of `Engine.handleOf()`. */
export const ASSOCIATE = 7;

/**
 * The start of the message of a read, a write or an associate on the handle
 * named `name`: "Cannot read from fd 7". Built only when something fails.
 *
 * @internal
 */
export function actionFor(kind: number, name: string): string {
  return kind === READ
    ? `Cannot read from ${name}`
    : kind === WRITE
    ? `Cannot write to ${name}`
    : `Cannot associate ${name} with the completion port`;
}

/** What a handle is (`Operation.handleKind`). */
export const FILE = 1; // seekable: an offset is required
export const SOCKET = 2; // a connected socket
export const STREAM = 3; // a pipe, a FIFO, a character device, an eventfd…

/** Why an operation is being cancelled (`Operation.cancelled`). */
export const NOT_CANCELLED = 0;
export const BY_SIGNAL = 1;
export const BY_CLOSE = 2;
export const BY_HANDLE_CLOSE = 3;

/**
 * After completions within SPIN_WINDOW_MS, the pump looks again on the next
 * turns of the event loop for up to SPIN_MS before it parks a thread.
 */
const SPIN_WINDOW_MS = 1;
const SPIN_MS = 0.05;
/** After this long of operations started without a turn of the event loop, yield. */
const STARVATION_MS = 5;
/** Operations started between two looks at the clock. */
const CLOCK_EVERY = 64;
/** The longest timer one setTimeout takes; longer waits re-arm it. */
const MAX_TIMER_MS = 0x7fffffff;
/** The largest offset (off_t is signed 64-bit). */
const MAX_OFFSET = (1n << 63n) - 1n;
/** The largest allocation of port memory: 1 GiB. */
const MAX_ALLOCATION = 1024 * 1024 * 1024;

function noop(): void {}

/**
 * One slot of the table: an operation from its start to its outcome. Slots
 * are reused; engines extend the class with what their kernel needs.
 */
export class Operation {
  /** Its index in the table. */
  readonly slot: number;
  readonly #core: PortCore;
  /** Tags the kernel's copy (io_uring user_data): a completion of an older use is dropped. */
  gen = 0;
  /** READ, WRITE, ACCEPT, CONNECT, CALL or POST; FREE when the slot is free. */
  kind = FREE;
  /** The fd, or the HANDLE's address. */
  handle = -1;
  /** FILE, SOCKET or STREAM. */
  handleKind = 0;
  /** The bytes of a read or write: referenced until the outcome, whatever happens. */
  buffer: Uint8Array | undefined = undefined;
  /** The bytes asked for (capped at what one call moves). */
  length = 0;
  /** Bytes moved so far: a stream write continues until all are. */
  done = 0;
  /**
   * With an engine whose kernel works on its own (`ownsMemory`): the port
   * memory this step reads into or writes from — a slot lent for it (a
   * bounce buffer), or the caller's own port memory (`allocate()`) — its
   * address, and the bytes of this step.
   */
  memory: Slot | undefined = undefined;
  /** Whether `buffer` is the caller's port memory itself (no copy). */
  zeroCopy = false;
  address = 0;
  step = 0;
  /** Where in a file (FILE only): a safe integer, or a bigint above 2^53. */
  offset: number | bigint = 0;
  /** NOT_CANCELLED, or why a cancellation was asked for. */
  cancelled = NOT_CANCELLED;
  signal: AbortSignal | undefined = undefined;
  /** What an accept or connect needs (the listener, the address…); an engine's own state. */
  target: unknown = undefined;
  // deno-lint-ignore no-explicit-any
  resolve: (value: any) => void = noop;
  reject: (reason: unknown) => void = noop;

  /**
   * @param slot its index in the table
   * @param core the core whose abort handling it calls
   */
  constructor(slot: number, core: PortCore) {
    this.slot = slot;
    this.#core = core;
  }

  /** The abort listener of its signal: the slot itself, so that no closure is made. */
  handleEvent(): void {
    this.#core.abort(this);
  }

  /** Forgets the engine's own state of the use that ended (subclasses extend it). */
  reset(): void {}
}

/**
 * What an engine does for the core: the kernel calls and nothing else.
 * Every outcome goes back through the core's `transferred()`,
 * `succeeded()`, `cancelled()` or `failed()` — synchronously from `start()`
 * or `cancel()` when the kernel answers at once, else from `harvest()`.
 */
export interface Engine<O extends Operation = Operation> {
  /** The engine's name, as `CompletionPort.backend`. */
  readonly backend: CompletionBackend;
  /**
   * Whether a pending `wait()` needs a parked thread although no operation
   * is in flight: packets can come from outside the core (IOCP: other
   * threads, the caller's own OVERLAPPED operations).
   */
  readonly parksForWait: boolean;
  /** Most bytes one read or write asks for. */
  readonly maxIo: number;
  /**
   * Whether the kernel reads and writes an operation's memory on its own,
   * after the call that started it has returned (io_uring, IOCP): the core
   * then hands it only port memory (`Operation.memory`, `address`, `step`),
   * never a caller's ordinary buffer. Otherwise (epoll) the engine calls
   * the kernel with the caller's buffer on this thread, and checks it is
   * still attached before each call.
   */
  readonly ownsMemory: boolean;
  /** Makes the object of a new slot. */
  operation(slot: number, core: PortCore<O>): O;
  /**
   * The number that names `handle` (an fd, or a HANDLE's address), or a
   * TypeError, before any syscall; `kind` (READ, WRITE or ASSOCIATE) is
   * the call, for the message ({@linkcode actionFor}).
   */
  handleOf(handle: unknown, kind: number): number;
  /** How the handle `key` is named in messages: "fd 7", "handle 0x1c". */
  nameOf(key: number): string;
  /**
   * FILE, SOCKET or STREAM: what the handle `key` is, asked of the kernel
   * the first time (`BadResource` for a closed one, and for the engine's
   * own handles); `kind` is the call, for the message. With `again`, what
   * was learnt before is asked again (an offset rule broken may mean the
   * number names another file now).
   */
  kindOf(key: number, kind: number, again?: boolean): number;
  /** Associates the handle `key` with the packet key `packetKey` (both checked). */
  associate(key: number, packetKey: number): void;
  /** Starts `op` (or its next step: the rest of a stream write). */
  start(op: O): void;
  /** Asks the kernel to cancel `op` (`op.cancelled` says why); its outcome comes later or at once. */
  cancel(op: O): void;
  /**
   * Reaps completions, waiting at most `timeoutMs` (0: not at all; -1:
   * without limit, only when nothing is in flight); returns how many things
   * it found (outcomes, packets, or signs that some are on their way).
   */
  harvest(timeoutMs: number): number;
  /** Whether something in flight will only be noticed through a parked thread. */
  needsPark(): boolean;
  /**
   * Parks a thread until something may be ready or `unpark()`; `undefined`
   * when it found work while getting ready to park (nothing was parked).
   */
  park(): Promise<unknown> | undefined;
  /** Ends a parked call. */
  unpark(): void;
  /**
   * Queues a posted packet through the kernel; false when the engine has no
   * such path (the core queues it then).
   */
  post(key: number, bytes: number, overlapped: Deno.PointerValue): boolean;
  /**
   * Starts an accept on `listener`, or throws: the engine checks the
   * listener, then its options with the core's `checkStart()`.
   */
  accept(listener: TcpListener, options: CancelOptions | undefined): Promise<TcpConn>;
  /** Starts a connect to `target` (formatted as `where`; options checked), or throws. */
  connect(where: string, target: SocketAddress, signal: AbortSignal | undefined): Promise<TcpConn>;
  /** One of this module's handles is about to be closed: forget what is known of it. */
  forget(key: number): void;
  /** Whether the engine still holds work the core cannot see (a file call on a worker thread). */
  busy(): boolean;
  /** Releases every kernel object; called once, with nothing parked and nothing in flight. */
  close(): void;
}

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
}

/**
 * The CompletionPort of every engine.
 *
 * @internal
 */
export class PortCore<O extends Operation = Operation> implements CompletionPort {
  readonly #engine: Engine<O>;
  #closed = false;
  #released = false;
  #whenReleased: Promise<void>;
  #onReleased!: () => void;
  #ops: O[] = [];
  #freeSlots: number[] = [];
  #gen = 0;
  /** Operations (posts aside) between their start and their outcome. */
  #inflight = 0;
  /** Packets not yet returned. */
  #queue: Completion[] = [];
  #waiter: Waiter | undefined;
  /** Waits ended while a thread was parked for them alone: settled when it is back. */
  #ending: Waiter[] = [];
  #delivering = false;
  #pumping = false;
  #parked = false;
  /** When completions last came. */
  #lastReady = -Infinity;
  /** Operations started since the event loop last turned, and when the first of them was. */
  #streak = 0;
  #streakStart = 0;
  /** Operations held back until the next turn of the event loop. */
  #deferred: O[] = [];
  #resumeScheduled = false;
  #resume = (): void => this.#runDeferred();
  #stats: CoreStats = { parks: 0 };
  #memory = new PortMemory();
  // A shared executor: no closure per operation.
  // deno-lint-ignore no-explicit-any
  #nextResolve: (value: any) => void = noop;
  #nextReject: (reason: unknown) => void = noop;
  // deno-lint-ignore no-explicit-any
  #executor = (resolve: (value: any) => void, reject: (reason: unknown) => void) => {
    this.#nextResolve = resolve;
    this.#nextReject = reject;
  };

  /**
   * @param engine the kernel side; the core closes it once released
   */
  constructor(engine: Engine<O>) {
    this.#engine = engine;
    this.#whenReleased = new Promise((resolve) => this.#onReleased = resolve);
  }

  get backend(): CompletionBackend {
    return this.#engine.backend;
  }

  get closed(): boolean {
    return this.#closed;
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
   * Operations in flight (posts aside).
   *
   * @internal
   */
  get inflight(): number {
    return this.#inflight;
  }

  /**
   * Whether a thread is parked right now.
   *
   * @internal
   */
  get parked(): boolean {
    return this.#parked;
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
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
      op = this.#engine.operation(this.#ops.length, this);
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
    if (op.kind === FREE) return;
    if (op.kind !== POST) this.#inflight--;
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
   * After an engine's own work on this thread (a flush of its submissions):
   * packets go to a pending wait, and a thread is parked or sent home as
   * needed.
   *
   * @internal
   */
  poke(): void {
    this.#afterWork();
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
    const promise = new Promise<R>(this.#executor);
    op.resolve = this.#nextResolve;
    op.reject = this.#nextReject;
    if (signal !== undefined) {
      op.signal = signal;
      signal.addEventListener("abort", op);
    }
    if (this.#mayRunNow()) this.#start(op);
    else this.#defer(op);
    return promise;
  }

  #start(op: O): void {
    this.#step(op);
    this.#afterWork();
  }

  /** Starts an operation's next step, with its memory ready; a failure fails it. */
  #step(op: O): void {
    try {
      if (this.#engine.ownsMemory && (op.kind === READ || op.kind === WRITE)) {
        if (!this.#prepare(op)) return;
      }
      this.#engine.start(op);
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
    if ((buffer.buffer as ArrayBuffer).detached) {
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
    if (streak === 1) {
      this.#streakStart = performance.now();
    } else if (
      streak % CLOCK_EVERY === 0 && performance.now() - this.#streakStart >= STARVATION_MS
    ) {
      return false;
    }
    return true;
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
    this.#streak = 0;
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
    if (this.#closed) this.#release();
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
        if ((buffer.buffer as ArrayBuffer).detached) return this.#detached(op, n);
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
    if (op.memory !== undefined && !op.zeroCopy && (op.buffer!.buffer as ArrayBuffer).detached) {
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
        if ((op.buffer!.buffer as ArrayBuffer).detached) return this.#detached(op, n);
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
    if (this.#closed) this.#release();
  }

  /**
   * Queues a packet for `get()`/`wait()`.
   *
   * @internal
   */
  packet(key: number, bytes: number, error: number, overlapped: Deno.PointerValue): void {
    if (!this.#closed) this.#queue.push({ key, bytes, error, overlapped });
  }

  #settle(op: O, value: unknown): void {
    const resolve = op.resolve;
    this.free(op);
    resolve(value);
    if (this.#closed) this.#release();
  }

  #fail(op: O, reason: unknown): void {
    const reject = op.reject;
    this.free(op);
    reject(reason);
    if (this.#closed) this.#release();
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
        return `Cannot read from ${this.#engine.nameOf(op.handle)}`;
      case WRITE:
        return `Cannot write to ${this.#engine.nameOf(op.handle)}`;
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
    try {
      this.#engine.cancel(op);
    } catch {
      // The engine could not ask: the operation's own outcome still comes.
    }
    this.#afterWork();
  }

  /**
   * One of this module's handles (`key`) is about to be closed: what is in
   * flight on it is cancelled (it rejects with `Interrupted` once back),
   * and the engine forgets what it knew of it.
   *
   * @internal
   */
  handleClosing(key: number): void {
    if (this.#released) return;
    if (this.#inflight > 0) {
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
          this.#engine.cancel(op);
        } catch {
          // Its own outcome still comes.
        }
      }
    }
    this.#engine.forget(key);
    this.#afterWork();
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
    this.#checkOpen(action);
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
    return actionFor(kind, this.#engine.nameOf(key));
  }

  /** A read or a write. The usual arguments pass without a message being built. */
  #transfer(
    kind: number,
    handle: Handle,
    buffer: Uint8Array,
    options: IoOptions | undefined,
  ): Promise<number | null> {
    const engine = this.#engine;
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
      if (this.#closed) this.#checkOpen(this.#transferAction(kind, key));
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
      op = this.allocateOp(kind, key, handleKind);
      op.buffer = buffer;
      op.length = length;
      if (offset !== undefined) op.offset = offset;
    } catch (error) {
      if (op !== undefined) this.free(op);
      return Promise.reject(error);
    }
    return this.launch(op, signal);
  }

  // ---------------------------------------------------------------------------
  // Sockets

  accept(listener: TcpListener, options?: CancelOptions): Promise<TcpConn> {
    try {
      // The engine knows its listeners; it checks them, then asks checkStart().
      return this.#engine.accept(listener, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  connect(address: TcpAddress, options?: CancelOptions): Promise<TcpConn> {
    try {
      const target = checkConnectAddress(address);
      const where = formatAddress(target);
      const signal = this.checkStart(`Cannot connect to ${where}`, options);
      return this.#engine.connect(where, target, signal);
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
    this.#checkOpen(action);
    signal?.throwIfAborted();
    return signal;
  }

  // ---------------------------------------------------------------------------
  // Packets

  associate(handle: Handle, key: number): void {
    const checked = this.#engine.handleOf(handle, ASSOCIATE);
    const action = actionFor(ASSOCIATE, this.#engine.nameOf(checked));
    checkKey(action, key);
    this.#checkOpen(action);
    this.#engine.associate(checked, key);
  }

  post(key: number, bytes = 0, overlapped: Deno.PointerValue = null): void {
    const action = "Cannot post to the completion port";
    checkPost(action, key, bytes, overlapped);
    this.#checkOpen(action);
    if (this.#engine.post(key, bytes, overlapped)) return;
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
    this.#checkOpen(action);
    if (this.#waiter !== undefined) {
      throw new Deno.errors.Busy(`${action}: a wait() is pending on this port`);
    }
    // A thread blocked here could not settle the operations in flight.
    if (ms !== 0 && this.#inflight > 0) {
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
      this.#checkOpen(action);
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
    if (this.#parked && !this.#engine.needsPark()) {
      waiter.completions = completions;
      waiter.reason = reason;
      this.#ending.push(waiter);
      this.#engine.unpark();
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
    const found = this.#engine.harvest(timeoutMs);
    if (found > 0) this.#lastReady = performance.now();
    return found;
  }

  /** After work on this thread: packets to a wait, a thread parked if needed, or one sent home. */
  #afterWork(): void {
    this.#deliver();
    if (this.#released) return;
    if (this.#needsPump()) {
      if (!this.#pumping) this.#pump();
    } else if (this.#parked) {
      this.#engine.unpark(); // parked for nothing now
    }
  }

  #needsPump(): boolean {
    if (this.#released) return false;
    if (this.#engine.needsPark()) return true;
    return this.#waiter !== undefined && this.#engine.parksForWait;
  }

  /** Parks a thread while something needs one; harvests on this thread when it is back. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const engine = this.#engine;
    try {
      // The rest of this turn first: a burst of operations started in it goes
      // to the kernel together (an engine's flush is queued already).
      await null;
      while (this.#needsPump()) {
        // Busy a moment ago: look again on the next turns of the event loop
        // before paying a park.
        if (performance.now() - this.#lastReady < SPIN_WINDOW_MS && await this.#spin()) continue;
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
        this.#streak = 0; // the event loop has turned
        this.#harvest(0);
        this.#settleEnding();
        this.#deliver();
      }
    } catch (error) {
      const waiter = this.#waiter;
      if (waiter !== undefined) this.#endWait(waiter, undefined, error);
    } finally {
      this.#pumping = false;
      this.#parked = false;
      this.#settleEnding();
      if (this.#closed) this.#release();
    }
  }

  /** Looks on the next turns of the event loop, for up to SPIN_MS; returns whether something came. */
  async #spin(): Promise<boolean> {
    const end = performance.now() + SPIN_MS;
    do {
      await new Promise((resolve) => setImmediate(resolve));
      this.#streak = 0;
      if (!this.#needsPump()) return true; // the loop ends without a park
      if (this.#harvest(0) > 0) {
        this.#deliver();
        return true;
      }
    } while (performance.now() < end);
    return false;
  }

  // ---------------------------------------------------------------------------
  // close()

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    const waiter = this.#waiter;
    if (waiter !== undefined) this.#endWait(waiter, []);
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const op of deferred) {
      if (op.kind === FREE) continue;
      if (op.cancelled === NOT_CANCELLED) op.cancelled = BY_CLOSE;
      this.cancelled(op);
    }
    if (this.#inflight > 0) {
      for (const op of this.#ops) {
        if (op.kind === FREE || op.kind === POST) continue;
        if (op.cancelled === NOT_CANCELLED) op.cancelled = BY_CLOSE;
        try {
          this.#engine.cancel(op);
        } catch {
          // Its own outcome still comes.
        }
      }
    }
    this.#afterWork();
    this.#release();
  }

  /** Closes the engine once nothing is parked, pending or in flight. */
  #release(): void {
    if (
      this.#released || this.#pumping || this.#inflight > 0 || this.#resumeScheduled ||
      this.#engine.busy()
    ) {
      return;
    }
    this.#released = true;
    this.#ops = [];
    this.#freeSlots = [];
    this.#memory.release();
    this.#engine.close();
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
