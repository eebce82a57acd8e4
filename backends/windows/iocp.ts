// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The IOCP engine of the CompletionPort (Windows): ReadFile/WriteFile, or
 * WSARecv/WSASend on a socket, each with the OVERLAPPED of its slot, and
 * the calls of the socket code (AcceptEx, ConnectEx) through
 * {@linkcode IocpPort.start}. What every port shares (arguments, the slot
 * table, outcomes, `get()`/`wait()`, the pump, close) is the core's
 * (`_port_core.ts`); the batched dequeue is `_iocp_queue.ts`.
 *
 * - Each slot owns one OVERLAPPED, off the V8 heap, for its whole life: a
 *   packet is matched to its operation by that address, and a slot is
 *   reused only after its packet has been dequeued (also after a
 *   cancellation), so no packet can reach the wrong operation.
 * - Packets that are no operation of the port (posted ones, those of the
 *   caller's own OVERLAPPED operations) are queued for `get()`/`wait()`:
 *   they come from outside the core, so a pending `wait()` parks a thread.
 * - A parked thread dequeues in GetQueuedCompletionStatusEx; a packet with
 *   the engine's own marker OVERLAPPED only ends a park.
 * - A handle is associated with the port (key 0) on its first operation;
 *   `associate()` always asks the kernel (handle values are reused at
 *   once). Closing one of this module's handles or sockets (announced on the
 *   close hook) cancels what is in flight on it and makes every port forget
 *   it.
 *
 * It owns the Win32 calls of the port; it must not know what a user sees of
 * an outcome (the core's rules) nor what a TcpConn is (the Winsock code
 * starts AcceptEx and ConnectEx through {@linkcode OverlappedStarter}).
 *
 * @module
 */

import { pointerAt, pointerValue } from "../../ffi/_pointer.ts";
import { PortCore } from "../_port_core.ts";
import { CompletionQueue, type Entries } from "./_iocp_queue.ts";
import { win32Error } from "../../ffi/errors.ts";
import {
  acquireKernel32,
  ERROR_BROKEN_PIPE,
  ERROR_HANDLE_EOF,
  ERROR_INVALID_PARAMETER,
  ERROR_IO_PENDING,
  ERROR_OPERATION_ABORTED,
  FILE_TYPE_DISK,
  type Kernel32,
  MAX_WIN32_IO,
  OVERLAPPED_OFFSET_HIGH_OFFSET,
  OVERLAPPED_OFFSET_OFFSET,
  OVERLAPPED_SIZE,
  releaseKernel32,
} from "../../ffi/kernel32.ts";
import { acquireNtdll, type Ntdll, releaseNtdll } from "../../ffi/ntdll.ts";
import {
  acquireWs2_32,
  INT_SIZE,
  releaseWs2_32,
  winsockErrorOf,
  type Ws2_32,
  WSABUF_BUF_OFFSET,
  WSABUF_LEN_OFFSET,
  WSABUF_SIZE,
} from "../../ffi/ws2_32.ts";
import type { SocketAddress } from "../shared/_address.ts";
import { unwatchCloses, watchCloses } from "../shared/_close_hook.ts";
import type { Cancelled, OverlappedStarter, WinsockSockets } from "../_port_sockets.ts";
import type { CancelOptions, TcpConn } from "../../types/net.ts";
import { describe } from "../shared/_describe.ts";
import {
  actionFor,
  ASSOCIATE,
  BY_CLOSE,
  BY_SIGNAL,
  CALL,
  type Engine,
  FILE,
  FREE,
  NOT_CANCELLED,
  Operation,
  READ,
  SOCKET,
  STREAM,
} from "../_port_engine.ts";

/** Entries one dequeue takes at most. */
const BATCH = 256;
/**
 * A stream write (a pipe, a socket) is issued in calls of at most this many
 * bytes: a pending WriteFile or WSASend that is cancelled reports no bytes
 * moved (seen under Wine), so an abort must find the bytes that went out
 * counted already, call by call.
 */
const STREAM_WRITE_CHUNK = 64 * 1024;
const TWO_32 = 2 ** 32;

/** What a handle is, learnt when it is associated. */
interface HandleInfo {
  /** FILE_TYPE_DISK handles are seekable: an offset is required. */
  seekable: boolean;
}

/** The name of a handle argument in messages, before it is known to be valid. */
function describeHandle(handle: unknown): string {
  if (typeof handle === "number" && Number.isSafeInteger(handle) && handle > 0) {
    return `handle 0x${handle.toString(16)}`;
  }
  if (handle !== null && typeof handle === "object") {
    try {
      return `handle 0x${pointerValue(handle as Deno.PointerObject).toString(16)}`;
    } catch {
      // not a pointer: described below
    }
  }
  return `handle ${describe(handle)}`;
}

/** An operation of this engine: the core's slot, with its own OVERLAPPED. */
class IocpOp extends Operation {
  /** Its OVERLAPPED, off the V8 heap, for the slot's whole life. */
  readonly overlapped = new Uint8Array(new ArrayBuffer(OVERLAPPED_SIZE));
  readonly #view = new DataView(this.overlapped.buffer);
  readonly pointer: Deno.PointerValue = Deno.UnsafePointer.of(this.overlapped);
  /** Its OVERLAPPED's address: a packet names its operation by it. */
  readonly overlappedAddress = pointerValue(this.pointer);
  /** A WSABUF and a DWORD of flags (sockets), off the V8 heap. */
  readonly wsabuf = new Uint8Array(new ArrayBuffer(WSABUF_SIZE + INT_SIZE));
  readonly wsabufView = new DataView(this.wsabuf.buffer);
  readonly flags = this.wsabuf.subarray(WSABUF_SIZE);
  /** The handle, as a pointer. */
  handlePointer: Deno.PointerValue = null;
  /** What else the kernel writes to (a call's buffers): referenced until the packet. */
  keep: unknown = undefined;
  /** A call's own start and outcome (CALL). */
  call: ((overlapped: Deno.PointerValue) => number) | undefined = undefined;
  finish: ((bytes: number, error: number, cancelled: Cancelled) => unknown) | undefined = undefined;
  failedAtOnce: ((error: number) => unknown) | undefined = undefined;

  /** Sets the OVERLAPPED's file offset. */
  setOffset(offset: number | bigint): void {
    if (typeof offset === "number") {
      this.#view.setUint32(OVERLAPPED_OFFSET_OFFSET, offset >>> 0, true);
      this.#view.setUint32(OVERLAPPED_OFFSET_HIGH_OFFSET, (offset / TWO_32) >>> 0, true);
    } else {
      this.#view.setUint32(OVERLAPPED_OFFSET_OFFSET, Number(offset & 0xffffffffn), true);
      this.#view.setUint32(OVERLAPPED_OFFSET_HIGH_OFFSET, Number(offset >> 32n), true);
    }
  }

  override reset(): void {
    this.overlapped.fill(0);
    this.handlePointer = null;
    this.keep = undefined;
    this.call = undefined;
    this.finish = undefined;
    this.failedAtOnce = undefined;
  }
}

/** The kernel side of the IOCP CompletionPort. */
class IocpEngine implements Engine<IocpOp> {
  readonly backend = "iocp";
  readonly parksForWait = true;
  readonly maxIo = MAX_WIN32_IO;
  readonly ownsMemory = true;
  readonly ordersWrites = false;
  #k32: Kernel32;
  #ntdll: Ntdll;
  #ws: Ws2_32 | undefined;
  #port: Deno.PointerValue;
  #queue: CompletionQueue;
  #core!: IocpPort;
  #handles = new Map<number, HandleInfo>();
  /** Every slot by its OVERLAPPED's address. */
  #byAddress = new Map<number, IocpOp>();
  /** An OVERLAPPED of the engine's own: a packet posted with it only ends a park. */
  #marker = new Uint8Array(new ArrayBuffer(OVERLAPPED_SIZE));
  #markerPointer: Deno.PointerValue;
  #markerAddress: number;
  #lastKey = -1;
  #lastKeyBig = 0n;
  /** The socket code, for accept, connect and telling sockets apart (undefined: none). */
  #sockets: WinsockSockets | undefined;

  constructor(concurrency: number, sockets: WinsockSockets | undefined) {
    this.#sockets = sockets;
    this.#k32 = acquireKernel32();
    try {
      this.#ntdll = acquireNtdll();
    } catch (error) {
      releaseKernel32();
      throw error;
    }
    const port = this.#k32.CreateIoCompletionPort(
      Deno.UnsafePointer.create(0xffffffffffffffffn),
      null,
      0n,
      concurrency,
    );
    if (port === null) {
      const error = win32Error("Cannot create completion port", this.#k32.GetLastError());
      releaseNtdll();
      releaseKernel32();
      throw error;
    }
    this.#port = port;
    this.#queue = new CompletionQueue(
      this.#k32,
      port,
      "Cannot dequeue from the completion port",
      BATCH,
      BATCH,
    );
    this.#markerPointer = Deno.UnsafePointer.of(this.#marker);
    this.#markerAddress = pointerValue(this.#markerPointer);
  }

  attach(core: IocpPort): void {
    this.#core = core;
  }

  operation(slot: number, core: PortCore<IocpOp>): IocpOp {
    const op = new IocpOp(slot, core);
    this.#byAddress.set(op.overlappedAddress, op);
    return op;
  }

  #bigKey(key: number): bigint {
    if (key !== this.#lastKey) {
      this.#lastKey = key;
      this.#lastKeyBig = BigInt(key);
    }
    return this.#lastKeyBig;
  }

  /** The pointer of a handle argument, or a TypeError. */
  toPointer(action: string, handle: unknown): Deno.PointerValue {
    if (typeof handle === "number") {
      if (!Number.isSafeInteger(handle) || handle <= 0) {
        throw new TypeError(
          `${action}: handle must be a positive integer or a pointer, got ${handle}`,
        );
      }
      return pointerAt(handle);
    }
    if (handle !== null && typeof handle === "object") return handle as Deno.PointerObject;
    throw new TypeError(
      `${action}: handle must be a pointer or a number, got ${describe(handle)}`,
    );
  }

  handleOf(handle: unknown, kind: number): number {
    return pointerValue(this.toPointer(actionFor(kind, describeHandle(handle)), handle));
  }

  nameOf(key: number): string {
    return this.#sockets?.isSocket(key) ? `socket ${key}` : `handle 0x${key.toString(16)}`;
  }

  kindOf(key: number, kind: number): number {
    if (this.#sockets?.isSocket(key)) {
      this.#associate(actionFor(kind, this.nameOf(key)), key, 0);
      return SOCKET;
    }
    return this.#associate(actionFor(kind, this.nameOf(key)), key, 0).seekable ? FILE : STREAM;
  }

  /** Associates `key` with packet key `packetKey`, or returns what is known of it already. */
  #associate(action: string, key: number, packetKey: number): HandleInfo {
    return this.#handles.get(key) ?? this.#attach(action, key, packetKey);
  }

  /** CreateIoCompletionPort for the handle, whatever the engine remembers of its value. */
  #attach(action: string, key: number, packetKey: number): HandleInfo {
    const handle = pointerAt(key);
    const result = this.#k32.CreateIoCompletionPort(
      handle,
      this.#port,
      this.#bigKey(packetKey),
      0,
    );
    if (result === null) {
      const error = this.#k32.GetLastError();
      // ERROR_INVALID_PARAMETER: the handle belongs to a completion port already.
      throw win32Error(
        action,
        error,
        error === ERROR_INVALID_PARAMETER ? Deno.errors.AlreadyExists : undefined,
      );
    }
    const info = { seekable: this.#k32.GetFileType(handle) === FILE_TYPE_DISK };
    this.#handles.set(key, info);
    return info;
  }

  /** Associates a handle with key 0 unless it is associated already. */
  ensureAssociated(action: string, handle: Deno.PointerValue): void {
    this.#associate(action, pointerValue(handle), 0);
  }

  associate(key: number, packetKey: number): void {
    // Always asked of the kernel: a value the engine remembers may name a
    // new handle now (one closed by its owner, and the value handed out again).
    this.#attach(actionFor(ASSOCIATE, this.nameOf(key)), key, packetKey);
  }

  post(key: number, bytes: number, overlapped: Deno.PointerValue): boolean {
    const error = this.#queue.post(bytes, this.#bigKey(key), overlapped);
    if (error !== 0) throw win32Error("Cannot post to the completion port", error);
    return true;
  }

  // ---------------------------------------------------------------------------
  // Starting and finishing

  start(op: IocpOp): void {
    let error: number;
    if (op.kind === CALL) {
      error = op.call!(op.pointer);
    } else {
      if (op.handlePointer === null) {
        op.handlePointer = pointerAt(op.handle);
      }
      // The core readied this step's port memory: its address and length.
      let length = op.step;
      if (op.kind !== READ && op.handleKind !== FILE && length > STREAM_WRITE_CHUNK) {
        length = STREAM_WRITE_CHUNK;
      }
      const data = pointerAt(op.address);
      if (op.handleKind === SOCKET) {
        const ws = this.#ws ??= acquireWs2_32();
        op.wsabufView.setUint32(WSABUF_LEN_OFFSET, length, true);
        op.wsabufView.setBigUint64(WSABUF_BUF_OFFSET, Deno.UnsafePointer.value(data), true);
        error = op.kind === READ
          ? ws.WSARecv(op.handlePointer, op.wsabuf, 1, null, op.flags, op.pointer, null)
          : ws.WSASend(op.handlePointer, op.wsabuf, 1, null, 0, op.pointer, null);
        if (error !== 0) error = ws.WSAGetLastError();
      } else {
        if (op.handleKind === FILE) {
          op.setOffset(
            typeof op.offset === "number" ? op.offset + op.done : op.offset + BigInt(op.done),
          );
        }
        const call = op.kind === READ ? this.#k32.ReadFile : this.#k32.WriteFile;
        error = call(op.handlePointer, data, length, null, op.pointer)
          ? 0
          : this.#k32.GetLastError();
      }
    }
    // Pending, or done at once: either way its packet comes through the port.
    if (error === 0 || error === ERROR_IO_PENDING) return;
    // Failed at once: no packet is coming.
    if (op.kind === CALL) {
      const failedAtOnce = op.failedAtOnce!;
      return this.#core.settleWith(op, () => failedAtOnce(error));
    }
    this.#outcome(op, 0, error);
  }

  /** A read's or write's packet (or its failure at once): its outcome. */
  #outcome(op: IocpOp, bytes: number, error: number): void {
    const core = this.#core;
    if (error === 0) return core.transferred(op, bytes);
    // End of file, or the writer gone: the end of the stream.
    if (op.kind === READ && (error === ERROR_HANDLE_EOF || error === ERROR_BROKEN_PIPE)) {
      return core.transferred(op, 0);
    }
    if (error === ERROR_OPERATION_ABORTED && op.cancelled !== NOT_CANCELLED) {
      return core.cancelled(op, bytes);
    }
    const code = op.handleKind === SOCKET ? winsockErrorOf(error) : error;
    core.failed(op, win32Error(core.action(op), code));
  }

  cancel(op: IocpOp): void {
    // FALSE with ERROR_NOT_FOUND: it completed first; its packet says how.
    if (op.handlePointer !== null) this.#k32.CancelIoEx(op.handlePointer, op.pointer);
  }

  // ---------------------------------------------------------------------------
  // Dequeueing

  /** The Win32 error of an NTSTATUS (0 for success and informational statuses). */
  #errorOf(status: number): number {
    return status >= 0 ? 0 : this.#ntdll.RtlNtStatusToDosError(status);
  }

  /** Hands out `n` dequeued entries; returns how many were no marker. */
  #dispatch(entries: Entries, n: number): number {
    let found = 0;
    for (let i = 0; i < n; i++) {
      const address = entries.overlapped(i);
      if (address === this.#markerAddress) continue;
      found++;
      const bytes = entries.bytes(i);
      const error = this.#errorOf(entries.status(i));
      const op = this.#byAddress.get(address);
      if (op !== undefined && op.kind !== FREE) {
        if (op.kind === CALL) this.#finishCall(op, bytes, error);
        else this.#outcome(op, bytes, error);
        continue;
      }
      this.#core.packet(
        entries.key(i),
        bytes,
        error,
        address === 0 ? null : pointerAt(address),
      );
    }
    return found;
  }

  #finishCall(op: IocpOp, bytes: number, error: number): void {
    const cancelled: Cancelled = op.cancelled === BY_SIGNAL
      ? "signal"
      : op.cancelled === BY_CLOSE
      ? "close"
      : undefined;
    const finish = op.finish!;
    this.#core.settleWith(op, () => finish(bytes, error, cancelled));
  }

  harvest(timeoutMs: number): number {
    const queue = this.#queue;
    // What a park took, then one batch (as IOCP's own dequeue hands them out).
    const parked = this.#dispatch(queue.parked, queue.takeParked());
    return parked + this.#dispatch(queue.taken, queue.dequeue(parked > 0 ? 0 : timeoutMs));
  }

  needsPark(): boolean {
    return this.#core.inflight > 0;
  }

  park(): Promise<void> {
    // The parked call dequeues packets itself; harvest() hands them out afterwards.
    return this.#queue.park();
  }

  unpark(): void {
    this.#queue.post(0, 0n, this.#markerPointer);
  }

  // ---------------------------------------------------------------------------
  // Sockets, closes

  accept(listener: unknown, options: CancelOptions | undefined): Promise<TcpConn> {
    return this.#socketKit().accept(this.#core, listener, options);
  }

  connect(
    _where: string,
    target: SocketAddress,
    signal: AbortSignal | undefined,
  ): Promise<TcpConn> {
    return this.#socketKit().connect(this.#core, target, signal);
  }

  #socketKit(): WinsockSockets {
    if (this.#sockets === undefined) {
      throw new Deno.errors.NotSupported(
        "Cannot accept or connect: this port was opened without sockets",
      );
    }
    return this.#sockets;
  }

  forget(key: number): void {
    this.#handles.delete(key);
  }

  busy(): boolean {
    return false;
  }

  close(): void {
    this.#k32.CloseHandle(this.#port);
    this.#byAddress.clear();
    this.#handles.clear();
    unwatchCloses(this.#core.onHandleClose);
    if (this.#ws !== undefined) releaseWs2_32();
    releaseNtdll();
    releaseKernel32();
  }
}

/**
 * The CompletionPort over IOCP; also what the socket code starts its own
 * overlapped calls through (an "overlapped starter").
 *
 * @internal
 */
export class IocpPort extends PortCore<IocpOp> implements OverlappedStarter {
  #engine: IocpEngine;
  /** Watches the closes of this module's handles (the close hook). */
  readonly onHandleClose = (key: number): void => this.handleClosing(key);

  constructor(concurrency: number, sockets?: WinsockSockets) {
    const engine = new IocpEngine(concurrency, sockets);
    super(engine);
    this.#engine = engine;
    engine.attach(this);
    watchCloses(this.onHandleClose);
  }

  /**
   * Associates `handle` with key 0 unless it is associated already (for
   * operations started through the port, whose packets are told apart by
   * their OVERLAPPED).
   *
   * @internal
   */
  ensureAssociated(action: string, handle: Deno.PointerValue): void {
    if (this.closed) {
      throw new Deno.errors.BadResource(`${action}: the completion port is closed`);
    }
    this.#engine.ensureAssociated(action, handle);
  }

  /**
   * Starts an overlapped call through the port and returns its promise.
   * `call(overlapped)` makes the call; it returns 0 on success (the packet
   * will come) or the error the call gave (read right after it, on this
   * thread; ERROR_IO_PENDING: the packet will come). `finish` turns the
   * packet into the outcome, `failedAtOnce` an error at once. `keep` (what
   * the kernel writes to) stays referenced until the packet has been
   * dequeued.
   *
   * @internal
   */
  start<R>(
    handle: Deno.PointerValue,
    action: string,
    keep: unknown,
    signal: AbortSignal | undefined,
    call: (overlapped: Deno.PointerValue) => number,
    finish: (bytes: number, error: number, cancelled: Cancelled) => R,
    failedAtOnce: (error: number) => R,
  ): Promise<R> {
    const op = this.allocateOp(CALL, pointerValue(handle), SOCKET);
    op.handlePointer = handle;
    op.target = { action };
    op.keep = keep;
    op.call = call;
    op.finish = finish;
    op.failedAtOnce = failedAtOnce;
    return this.launch(op, signal);
  }
}
