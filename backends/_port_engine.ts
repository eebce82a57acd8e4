// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The contract between the completion core and its engines: the kinds of
 * operation, what a handle is, why an operation is being cancelled, the
 * {@linkcode Operation} slot an engine extends with what its kernel needs,
 * and the {@linkcode Engine} interface — start an operation, cancel it,
 * harvest completions, park a thread, unpark it, forget a handle, close —
 * with the outcomes an engine reports back through the core
 * (`_port_slots.ts`). Every sentence of the interface is a promise a test
 * can check. It knows no kernel and no socket class.
 *
 * @module
 */

import type { SocketAddress } from "./shared/_address.ts";
import type { CompletionBackend } from "../types/completion_port.ts";
import type { CancelOptions, TcpConn } from "../types/net.ts";
import type { UnixConn } from "../types/unix.ts";
import type { Slot } from "./shared/_port_memory.ts";

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

/**
 * Whether the buffer of a read or write in flight was detached since it
 * started. At its start it was checked to be a view of at least one byte
 * over a fixed-length, attached ArrayBuffer, and such a view reads length
 * 0 only once its buffer is detached: the `buffer` getter (a call into
 * C++, ~10 ns, made per attempt on a hot path) is asked only then.
 *
 * @internal
 */
export function detachedInFlight(buffer: Uint8Array): boolean {
  return buffer.length === 0 && (buffer.buffer as ArrayBuffer).detached;
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

/** What an operation's abort listener calls: the core. */
export interface Aborter {
  abort(op: Operation): void;
}

/** Does nothing (a placeholder listener). */
export function noop(): void {}

/**
 * One slot of the table: an operation from its start to its outcome. Slots
 * are reused; engines extend the class with what their kernel needs.
 */
export class Operation {
  /** Its index in the table. */
  readonly slot: number;
  readonly #aborter: Aborter;
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
   * @param aborter what its signal's abort calls
   */
  constructor(slot: number, aborter: Aborter) {
    this.slot = slot;
    this.#aborter = aborter;
  }

  /** The abort listener of its signal: the slot itself, so that no closure is made. */
  handleEvent(): void {
    this.#aborter.abort(this);
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
  /**
   * Whether the engine keeps each stream's writes in order itself (a queue
   * per fd). Otherwise the core starts one write of a stream at a time and
   * holds the others until it has settled: a write in steps (through port
   * memory, or a partial send) would let another in between.
   */
  readonly ordersWrites: boolean;
  /** Makes the object of a new slot, whose abort listener calls `aborter`. */
  operation(slot: number, aborter: Aborter): O;
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
  /**
   * A stream write tried at once on this thread, before the core makes an
   * operation of it (asked only without a signal, and not while a turn of
   * the event loop is due): the bytes the kernel took (it has copied them
   * when the call returns), or -1 when it would block, failed, or must go
   * the engine's own way — the operation then starts as usual, with what
   * was taken counted, and meets any error itself. An engine that does
   * not order writes itself is asked only when no earlier write of the
   * handle is in flight; one that does answers -1 while one is.
   */
  writeNow?(key: number, handleKind: number, bytes: Uint8Array): number;
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
  accept(listener: unknown, options: CancelOptions | undefined): Promise<TcpConn | UnixConn>;
  /** Starts a connect to `target` (formatted as `where`; options checked), or throws. */
  connect(where: string, target: SocketAddress, signal: AbortSignal | undefined): Promise<TcpConn>;
  /** One of this module's handles is about to be closed: forget what is known of it. */
  forget(key: number): void;
  /** Whether the engine still holds work the core cannot see (a file call on a worker thread). */
  busy(): boolean;
  /** Releases every kernel object; called once, with nothing parked and nothing in flight. */
  close(): void;
}
