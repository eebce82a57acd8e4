// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The IOCP backend: a CompletionPort over an I/O completion port of
 * kernel32.
 *
 * One thread at most is parked in GetQueuedCompletionStatusEx (the "pump"),
 * and only while something needs it: an operation started through the port
 * is in flight, or a `wait()` is pending. It hands back the packets it
 * dequeued; this thread settles the operations' promises and queues the
 * rest for `get()`/`wait()`. A FALSE return from the parked call is never
 * explained by GetLastError (that was another thread's): a synchronous
 * dequeue that can be asked follows it.
 *
 * @module
 */

import {
  checkIoBuffer,
  checkKey,
  checkOffset,
  checkPost,
  checkWaitOptions,
  type Completion,
  type CompletionPort,
  type Handle,
  type IoOptions,
  settleWait,
  startWait,
  type Waiter,
} from "./_completion.ts";
import { describe } from "./_events.ts";
import { normalizeTimeout, type WaitOptions } from "./_selector.ts";
import { win32Error } from "../ffi/errors.ts";
import {
  acquireKernel32,
  ERROR_BROKEN_PIPE,
  ERROR_HANDLE_EOF,
  ERROR_INVALID_PARAMETER,
  ERROR_IO_PENDING,
  ERROR_OPERATION_ABORTED,
  FILE_TYPE_DISK,
  INFINITE,
  type Kernel32,
  OVERLAPPED_ENTRY_BYTES_OFFSET,
  OVERLAPPED_ENTRY_KEY_OFFSET,
  OVERLAPPED_ENTRY_OVERLAPPED_OFFSET,
  OVERLAPPED_ENTRY_SIZE,
  OVERLAPPED_ENTRY_STATUS_OFFSET,
  OVERLAPPED_OFFSET_HIGH_OFFSET,
  OVERLAPPED_OFFSET_OFFSET,
  OVERLAPPED_SIZE,
  releaseKernel32,
  WAIT_TIMEOUT,
} from "../ffi/kernel32.ts";
import { acquireNtdll, type Ntdll, releaseNtdll } from "../ffi/ntdll.ts";
import type { CancelOptions, TcpAddress, TcpConn, TcpListener } from "../net/_types.ts";
import { acceptWinsock, connectWinsock, winsockStream } from "../net/_winsock.ts";

/** Packets one dequeue takes at most. */
const BATCH = 256;
const ENTRY_WORDS = OVERLAPPED_ENTRY_SIZE / 4;
const KEY_WORD = OVERLAPPED_ENTRY_KEY_OFFSET / 4;
const OVERLAPPED_WORD = OVERLAPPED_ENTRY_OVERLAPPED_OFFSET / 4;
const STATUS_WORD = OVERLAPPED_ENTRY_STATUS_OFFSET / 4;
const BYTES_WORD = OVERLAPPED_ENTRY_BYTES_OFFSET / 4;
const MAX_SLICE_MS = 0x7fffffff;
/** One operation moves at most this many bytes (a DWORD count, kept signed-safe). */
const MAX_IO = 0x7fffffff;
const TWO_32 = 2 ** 32;

/** What a handle is, learnt when it is associated. */
interface HandleInfo {
  /** FILE_TYPE_DISK handles are seekable: an offset is required. */
  seekable: boolean;
}

/** An operation started through the port, kept until its packet is dequeued. */
interface Operation {
  handle: Deno.PointerValue;
  /** Its OVERLAPPED; referenced here until the packet arrives, whatever happens. */
  overlapped: Uint8Array;
  pointer: Deno.PointerValue;
  /** The caller's buffer and whatever else the kernel writes to; referenced until the packet arrives. */
  keep: unknown;
  /** Turns the packet into the promise's outcome. */
  finish: (bytes: number, error: number) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Why it was cancelled, if it was. */
  cancelled: "signal" | "close" | undefined;
}

/** A number for a pointer (user-space addresses fit in 53 bits). */
function addressOf(pointer: Deno.PointerValue): number {
  return pointer === null ? 0 : Number(Deno.UnsafePointer.value(pointer));
}

/** The pointer for a Handle, or a TypeError. */
function toPointer(action: string, handle: unknown): Deno.PointerValue {
  if (typeof handle === "number") {
    if (!Number.isSafeInteger(handle) || handle <= 0) {
      throw new TypeError(
        `${action}: handle must be a positive integer or a pointer, got ${handle}`,
      );
    }
    return Deno.UnsafePointer.create(BigInt(handle));
  }
  if (handle !== null && typeof handle === "object") return handle as Deno.PointerObject;
  throw new TypeError(`${action}: handle must be a pointer or a number, got ${describe(handle)}`);
}

/** A short name for a handle in messages. */
function handleName(handle: Deno.PointerValue): string {
  return `handle 0x${addressOf(handle).toString(16)}`;
}

/** The name of a handle argument in messages, before it is known to be valid. */
function describeHandle(handle: unknown): string {
  if (typeof handle === "number" && Number.isSafeInteger(handle) && handle > 0) {
    return `handle 0x${handle.toString(16)}`;
  }
  if (handle !== null && typeof handle === "object") {
    try {
      return handleName(handle as Deno.PointerObject);
    } catch {
      // not a pointer: described below
    }
  }
  return `handle ${describe(handle)}`;
}

/**
 * The open ports, so that a handle this module closes is forgotten by every
 * port that associated it: Windows hands its value out again at once.
 */
const openPorts = new Set<IocpPort>();

/**
 * Tells every open port that `handle` is being closed.
 *
 * @internal
 */
export function forgetClosedHandle(handle: Deno.PointerValue): void {
  for (const port of openPorts) port.forgetHandle(handle);
}

/** The CompletionPort over IOCP. */
export class IocpPort implements CompletionPort {
  readonly backend = "iocp";
  #k32: Kernel32;
  #ntdll: Ntdll;
  #port: Deno.PointerValue;
  #closed = false;
  #released = false;
  #whenReleased: Promise<void>;
  #onReleased!: () => void;
  #handles = new Map<number, HandleInfo>();
  #operations = new Map<number, Operation>();
  /** User packets dequeued but not yet returned. */
  #queue: Completion[] = [];
  #waiter: Waiter | undefined;
  #pumping = false;
  /** Entries and count of the synchronous dequeue. */
  #entries = new Uint8Array(BATCH * OVERLAPPED_ENTRY_SIZE);
  #entryWords = new Uint32Array(this.#entries.buffer);
  #removed = new Uint32Array(1);
  #removedBytes = new Uint8Array(this.#removed.buffer);
  /** Entries and count of the parked dequeue: written by another thread. */
  #parkEntries = new Uint8Array(BATCH * OVERLAPPED_ENTRY_SIZE);
  #parkWords = new Uint32Array(this.#parkEntries.buffer);
  #parkRemoved = new Uint32Array(1);
  /** An OVERLAPPED of the port's own: a packet posted with it only ends a parked dequeue. */
  #marker = new Uint8Array(OVERLAPPED_SIZE);
  #markerPointer: Deno.PointerValue;
  #markerAddress: number;
  #lastKey = -1;
  #lastKeyBig = 0n;

  constructor(concurrency: number) {
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
    this.#markerPointer = Deno.UnsafePointer.of(this.#marker);
    this.#markerAddress = addressOf(this.#markerPointer);
    this.#whenReleased = new Promise((resolve) => this.#onReleased = resolve);
    openPorts.add(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`${action}: the completion port is closed`);
    }
  }

  #bigKey(key: number): bigint {
    if (key !== this.#lastKey) {
      this.#lastKey = key;
      this.#lastKeyBig = BigInt(key);
    }
    return this.#lastKeyBig;
  }

  /** Associates `handle` with key `key`, or returns what is known of it already. */
  #associate(action: string, handle: Deno.PointerValue, key: number): HandleInfo {
    const known = this.#handles.get(addressOf(handle));
    return known ?? this.#attach(action, handle, key);
  }

  /** CreateIoCompletionPort for `handle`, whatever the port remembers of its value. */
  #attach(action: string, handle: Deno.PointerValue, key: number): HandleInfo {
    const result = this.#k32.CreateIoCompletionPort(handle, this.#port, this.#bigKey(key), 0);
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
    this.#handles.set(addressOf(handle), info);
    return info;
  }

  /**
   * Associates `handle` with key 0 unless it is associated already (for
   * operations started through the port, whose packets are told apart by
   * their OVERLAPPED).
   *
   * @internal
   */
  ensureAssociated(action: string, handle: Deno.PointerValue): void {
    this.#checkOpen(action);
    this.#associate(action, handle, 0);
  }

  /**
   * Forgets a handle that is being closed, so that a later handle reusing
   * its value is associated afresh.
   *
   * @internal
   */
  forgetHandle(handle: Deno.PointerValue): void {
    this.#handles.delete(addressOf(handle));
  }

  associate(handle: Handle, key: number): void {
    const action = `Cannot associate ${describeHandle(handle)} with the completion port`;
    const pointer = toPointer(action, handle);
    checkKey(action, key);
    this.#checkOpen(action);
    // Always asked of the kernel: a value the port remembers may name a new
    // handle now (one closed by its owner, and the value handed out again).
    this.#attach(action, pointer, key);
  }

  post(key: number, bytes = 0, overlapped: Deno.PointerValue = null): void {
    const action = "Cannot post to the completion port";
    checkPost(action, key, bytes, overlapped);
    this.#checkOpen(action);
    if (!this.#k32.PostQueuedCompletionStatus(this.#port, bytes, this.#bigKey(key), overlapped)) {
      throw win32Error(action, this.#k32.GetLastError());
    }
  }

  /** The Win32 error of an NTSTATUS (0 for success and informational statuses). */
  #errorOf(status: number): number {
    return status >= 0 ? 0 : this.#ntdll.RtlNtStatusToDosError(status);
  }

  /**
   * Hands out `count` dequeued entries: operations of the port settle, the
   * marker is dropped, user packets are queued. Returns how many were queued.
   */
  #dispatch(words: Uint32Array, count: number): number {
    let queued = 0;
    for (let i = 0, w = 0; i < count; i++, w += ENTRY_WORDS) {
      const address = words[w + OVERLAPPED_WORD + 1] * TWO_32 + words[w + OVERLAPPED_WORD];
      const bytes = words[w + BYTES_WORD];
      const status = words[w + STATUS_WORD] | 0;
      const operation = this.#operations.get(address);
      if (operation !== undefined) {
        this.#operations.delete(address);
        operation.signal?.removeEventListener("abort", operation.onAbort!);
        operation.finish(bytes, this.#errorOf(status));
        continue;
      }
      if (address === this.#markerAddress) continue;
      this.#queue.push({
        key: words[w + KEY_WORD + 1] * TWO_32 + words[w + KEY_WORD],
        bytes,
        error: this.#errorOf(status),
        overlapped: address === 0 ? null : Deno.UnsafePointer.create(BigInt(address)),
      });
      queued++;
    }
    return queued;
  }

  /** One synchronous dequeue of at most `timeoutMs`; returns the user packets it queued. */
  #dequeue(timeoutMs: number): number {
    this.#removed[0] = 0;
    const ok = this.#k32.GetQueuedCompletionStatusEx(
      this.#port,
      this.#entries,
      BATCH,
      this.#removedBytes,
      timeoutMs,
      0,
    );
    if (!ok) {
      const error = this.#k32.GetLastError();
      if (error === WAIT_TIMEOUT) return 0;
      throw win32Error("Cannot dequeue from the completion port", error);
    }
    return this.#dispatch(this.#entryWords, this.#removed[0]);
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
    if (ms !== 0 && this.#pumping) {
      throw new Deno.errors.Busy(
        `${action}: operations started through the port are in flight; use wait()`,
      );
    }
    if (this.#queue.length > 0) return this.#take();
    const deadline = ms === Infinity ? Infinity : performance.now() + ms;
    let slice = ms === Infinity ? INFINITE : Math.min(ms, MAX_SLICE_MS);
    for (;;) {
      const queued = this.#dequeue(slice);
      // It may have taken what a parked pump waits for (the packet of the
      // last operation in flight, or the marker): wake it again.
      this.#unparkIfIdle();
      if (queued > 0) return this.#take();
      if (ms === 0) return [];
      if (deadline !== Infinity) {
        const left = deadline - performance.now();
        if (left <= 0) return [];
        slice = Math.min(Math.ceil(left), MAX_SLICE_MS);
      }
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
      if (this.#queue.length === 0) this.#dequeue(0);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#queue.length > 0 || ms === 0) {
      this.#unparkIfIdle(); // as in get(): the dequeue may have taken the pump's last packet
      return Promise.resolve(this.#take());
    }
    return new Promise((resolve, reject) => {
      this.#waiter = startWait(resolve, reject, ms, signal, this.#endWait);
      this.#pump();
    });
  }

  /** Settles a pending wait, and lets the pump stop if nothing else needs it. */
  #endWait = (waiter: Waiter, completions?: Completion[], reason?: unknown): void => {
    if (this.#waiter !== waiter) return;
    this.#waiter = undefined;
    settleWait(waiter, completions, reason);
    this.#unparkIfIdle();
  };

  /** A pump parked for nothing is ended with the marker packet. */
  #unparkIfIdle(): void {
    if (this.#pumping && this.#waiter === undefined && this.#operations.size === 0) {
      this.#k32.PostQueuedCompletionStatus(this.#port, 0, 0n, this.#markerPointer);
    }
  }

  /** Parks a thread in the port while an operation or a wait needs one. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const entries = Deno.UnsafePointer.of(this.#parkEntries);
    const removed = Deno.UnsafePointer.of(this.#parkRemoved);
    try {
      while (this.#operations.size > 0 || this.#waiter !== undefined) {
        this.#parkRemoved[0] = 0;
        const ok = await this.#k32.GetQueuedCompletionStatusEx_parked(
          this.#port,
          entries,
          BATCH,
          removed,
          INFINITE,
          0,
        );
        const count = ok ? this.#parkRemoved[0] : 0;
        if (count > 0) this.#dispatch(this.#parkWords, count);
        // What failed on the other thread cannot be asked there: ask here.
        if (!ok) this.#dequeue(0);
        this.#deliver();
      }
    } catch (error) {
      const waiter = this.#waiter;
      if (waiter !== undefined) this.#endWait(waiter, undefined, error);
    } finally {
      this.#pumping = false;
      if (this.#closed) this.#release();
    }
  }

  /** Gives queued packets to a pending wait. */
  #deliver(): void {
    const waiter = this.#waiter;
    if (waiter !== undefined && this.#queue.length > 0) this.#endWait(waiter, this.#take());
  }

  /** Checks and prepares an operation; returns the handle's pointer and the OVERLAPPED. */
  #prepare(
    action: string,
    handle: Handle,
    buffer: unknown,
    options: IoOptions | undefined,
  ): { pointer: Deno.PointerValue; overlapped: Uint8Array; length: number } {
    const pointer = toPointer(action, handle);
    checkIoBuffer(action, buffer);
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
    }
    const offset = checkOffset(action, options?.offset);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`${action}: signal must be an AbortSignal, got ${describe(signal)}`);
    }
    this.#checkOpen(action);
    const info = this.#associate(action, pointer, 0);
    if (info.seekable && offset === undefined) {
      throw new TypeError(`${action}: offset is required on a file (it has no position here)`);
    }
    if (!info.seekable && offset !== undefined) {
      throw new TypeError(`${action}: offset must be omitted on a stream`);
    }
    signal?.throwIfAborted();
    const overlapped = new Uint8Array(OVERLAPPED_SIZE);
    if (offset !== undefined) {
      const view = new DataView(overlapped.buffer);
      view.setUint32(OVERLAPPED_OFFSET_OFFSET, Number(offset & 0xffffffffn), true);
      view.setUint32(OVERLAPPED_OFFSET_HIGH_OFFSET, Number(offset >> 32n), true);
    }
    return { pointer, overlapped, length: Math.min((buffer as Uint8Array).length, MAX_IO) };
  }

  /**
   * Starts an operation through the port and returns its promise.
   * `call(overlappedPointer)` makes the ReadFile-like call; it returns 0 on
   * success (the packet will come) or the error the call gave (read right
   * after it, on this thread; ERROR_IO_PENDING: the packet will come).
   * `finish` turns the packet into the outcome, `failedAtOnce` an error at
   * once. `keep` (the buffer, and anything else the kernel writes to) and
   * the OVERLAPPED stay referenced until the packet has been dequeued.
   *
   * @internal
   */
  start<R>(
    handle: Deno.PointerValue,
    overlapped: Uint8Array,
    keep: unknown,
    signal: AbortSignal | undefined,
    call: (overlapped: Deno.PointerValue) => number,
    finish: (bytes: number, error: number, cancelled: Operation["cancelled"]) => R,
    failedAtOnce: (error: number) => R,
  ): Promise<R> {
    const pointer = Deno.UnsafePointer.of(overlapped);
    const error = call(pointer);
    if (error !== 0 && error !== ERROR_IO_PENDING) {
      // Failed at once: no packet is coming.
      try {
        return Promise.resolve(failedAtOnce(error));
      } catch (reason) {
        return Promise.reject(reason);
      }
    }
    // Pending, or done at once: either way its packet comes through the port.
    return new Promise<R>((resolve, reject) => {
      const operation: Operation = {
        handle,
        overlapped,
        pointer,
        keep,
        finish: (bytes, error) => {
          try {
            resolve(finish(bytes, error, operation.cancelled));
          } catch (reason) {
            reject(reason);
          }
        },
        reject,
        signal,
        onAbort: undefined,
        cancelled: undefined,
      };
      if (signal !== undefined) {
        operation.onAbort = () => {
          operation.cancelled ??= "signal";
          // FALSE with ERROR_NOT_FOUND: it completed first; its packet says how.
          this.#k32.CancelIoEx(handle, pointer);
        };
        signal.addEventListener("abort", operation.onAbort);
      }
      this.#operations.set(addressOf(pointer), operation);
      this.#pump();
    });
  }

  /** The outcome shared by reads and writes of a failed or cancelled operation. */
  #failure(
    action: string,
    error: number,
    cancelled: Operation["cancelled"],
    signal?: AbortSignal,
  ): never {
    if (error === ERROR_OPERATION_ABORTED && cancelled === "signal") throw signal!.reason;
    if (error === ERROR_OPERATION_ABORTED && cancelled === "close") {
      throw new Deno.errors.Interrupted(`${action}: the completion port was closed`);
    }
    throw win32Error(action, error);
  }

  read(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number | null> {
    return this.#transfer("read", handle, buffer, options);
  }

  write(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number> {
    return this.#transfer("write", handle, buffer, options) as Promise<number>;
  }

  /** A read or a write: ReadFile/WriteFile, or WSARecv/WSASend on a socket. */
  #transfer(
    kind: "read" | "write",
    handle: Handle,
    buffer: Uint8Array,
    options: IoOptions | undefined,
  ): Promise<number | null> {
    const verb = kind === "read" ? "read from" : "write to";
    let action = `Cannot ${verb} ${describeHandle(handle)}`;
    let prepared;
    try {
      prepared = this.#prepare(action, handle, buffer, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const { pointer, overlapped, length } = prepared;
    action = `Cannot ${verb} ${handleName(pointer)}`;
    if (length === 0) return Promise.resolve(0);
    const signal = options?.signal;
    // A socket moves its bytes with WSARecv/WSASend (net/_winsock.ts).
    const socket = winsockStream(addressOf(pointer));
    if (socket !== undefined) return socket[kind](this, overlapped, buffer, length, signal);
    const k32 = this.#k32;
    const data = Deno.UnsafePointer.of(buffer);
    const outcome = (bytes: number, error: number, cancelled?: Operation["cancelled"]) => {
      if (error === 0) return bytes;
      // End of file, or the writer gone: the end of the stream.
      if (kind === "read" && (error === ERROR_HANDLE_EOF || error === ERROR_BROKEN_PIPE)) {
        return null;
      }
      return this.#failure(action, error, cancelled, signal);
    };
    const call = kind === "read" ? k32.ReadFile : k32.WriteFile;
    return this.start(
      pointer,
      overlapped,
      buffer,
      signal,
      (ov) => call(pointer, data, length, null, ov) ? 0 : k32.GetLastError(),
      outcome,
      (error) => outcome(0, error),
    );
  }

  accept(listener: TcpListener, options?: CancelOptions): Promise<TcpConn> {
    return acceptWinsock(this, listener, options);
  }

  connect(address: TcpAddress, options?: CancelOptions): Promise<TcpConn> {
    return connectWinsock(this, address, options);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const operation of this.#operations.values()) {
      operation.cancelled ??= "close";
      this.#k32.CancelIoEx(operation.handle, operation.pointer);
    }
    this.#queue = [];
    const waiter = this.#waiter;
    if (waiter !== undefined) this.#endWait(waiter, []);
    if (!this.#pumping) this.#release();
  }

  /** Frees the port once nothing is parked in it and nothing is in flight. */
  #release(): void {
    if (this.#released || this.#pumping || this.#operations.size > 0) return;
    this.#released = true;
    this.#k32.CloseHandle(this.#port);
    releaseNtdll();
    releaseKernel32();
    openPorts.delete(this);
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
