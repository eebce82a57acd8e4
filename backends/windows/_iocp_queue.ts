// Copyright 2026 the @evented/io authors. MIT license.
/**
 * An I/O completion port's queue, dequeued in batches with
 * GetQueuedCompletionStatusEx: synchronously on the calling thread, or by a
 * thread parked in it (a nonblocking FFI call) whose entries are handed out
 * afterwards. What the IOCP CompletionPort and the afd Selector share.
 *
 * The parked dequeue writes into memory off the V8 heap, read only after
 * the call has returned; its FALSE (a timeout, or the port closed) is never
 * explained with GetLastError, which would be this thread's, not that
 * one's. What a packet means is the caller's: this file reads entries and
 * knows no operation, socket or selector.
 *
 * @module
 */

import { win32Error } from "../../ffi/errors.ts";
import {
  INFINITE,
  type Kernel32,
  OVERLAPPED_ENTRY_BYTES_OFFSET,
  OVERLAPPED_ENTRY_KEY_OFFSET,
  OVERLAPPED_ENTRY_OVERLAPPED_OFFSET,
  OVERLAPPED_ENTRY_SIZE,
  OVERLAPPED_ENTRY_STATUS_OFFSET,
  WAIT_TIMEOUT,
} from "../../ffi/kernel32.ts";

/** OVERLAPPED_ENTRY in 32-bit words. */
const ENTRY_WORDS = OVERLAPPED_ENTRY_SIZE / 4;
const KEY_WORD = OVERLAPPED_ENTRY_KEY_OFFSET / 4;
const OVERLAPPED_WORD = OVERLAPPED_ENTRY_OVERLAPPED_OFFSET / 4;
const STATUS_WORD = OVERLAPPED_ENTRY_STATUS_OFFSET / 4;
const BYTES_WORD = OVERLAPPED_ENTRY_BYTES_OFFSET / 4;
const TWO_32 = 2 ** 32;

/**
 * A batch of dequeued entries, read in place.
 *
 * @internal
 */
export class Entries {
  /** The entries' words. */
  words: Uint32Array;

  constructor(words: Uint32Array) {
    this.words = words;
  }

  /** Entry `i`'s completion key (a safe integer). */
  key(i: number): number {
    const w = i * ENTRY_WORDS + KEY_WORD;
    return this.words[w + 1] * TWO_32 + this.words[w];
  }

  /** Entry `i`'s OVERLAPPED address (0: none). */
  overlapped(i: number): number {
    const w = i * ENTRY_WORDS + OVERLAPPED_WORD;
    return this.words[w + 1] * TWO_32 + this.words[w];
  }

  /** Entry `i`'s status (an NTSTATUS: negative for an error). */
  status(i: number): number {
    return this.words[i * ENTRY_WORDS + STATUS_WORD] | 0;
  }

  /** Entry `i`'s bytes transferred. */
  bytes(i: number): number {
    return this.words[i * ENTRY_WORDS + BYTES_WORD];
  }
}

/**
 * The dequeue side of one completion port.
 *
 * @internal
 */
export class CompletionQueue {
  readonly #k32: Kernel32;
  readonly #port: Deno.PointerValue;
  readonly #action: string;
  #capacity: number;
  #entries: Uint8Array;
  /** What the last synchronous dequeue took. */
  readonly taken: Entries;
  #removed = new Uint32Array(1);
  #removedBytes = new Uint8Array(this.#removed.buffer);
  /** The parked dequeue's entries and count: written by another thread. */
  readonly #parkCapacity: number;
  #parkEntries: Uint8Array;
  #parkRemoved = new Uint32Array(new ArrayBuffer(4));
  #parkEntriesPointer: Deno.PointerValue;
  #parkRemovedPointer: Deno.PointerValue;
  /** What the last park took. */
  readonly parked: Entries;
  /** Entries of the last park not handed out yet. */
  #parkedCount = 0;

  /**
   * @param k32 the bound kernel32
   * @param port the completion port
   * @param action the start of the message of a failed dequeue
   * @param capacity entries one synchronous dequeue takes at first (it grows with {@linkcode grow})
   * @param parkCapacity entries one parked dequeue takes
   */
  constructor(
    k32: Kernel32,
    port: Deno.PointerValue,
    action: string,
    capacity: number,
    parkCapacity: number,
  ) {
    this.#k32 = k32;
    this.#port = port;
    this.#action = action;
    this.#capacity = capacity;
    this.#entries = new Uint8Array(new ArrayBuffer(capacity * OVERLAPPED_ENTRY_SIZE));
    this.taken = new Entries(new Uint32Array(this.#entries.buffer));
    this.#parkCapacity = parkCapacity;
    this.#parkEntries = new Uint8Array(new ArrayBuffer(parkCapacity * OVERLAPPED_ENTRY_SIZE));
    this.parked = new Entries(new Uint32Array(this.#parkEntries.buffer));
    this.#parkEntriesPointer = Deno.UnsafePointer.of(this.#parkEntries);
    this.#parkRemovedPointer = Deno.UnsafePointer.of(this.#parkRemoved);
  }

  /** Entries one synchronous dequeue takes. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Makes room for at least `needed` entries per synchronous dequeue. */
  grow(needed: number): void {
    if (needed <= this.#capacity) return;
    let capacity = this.#capacity * 2;
    while (capacity < needed) capacity *= 2;
    this.#capacity = capacity;
    this.#entries = new Uint8Array(new ArrayBuffer(capacity * OVERLAPPED_ENTRY_SIZE));
    this.taken.words = new Uint32Array(this.#entries.buffer);
  }

  /**
   * One synchronous dequeue of at most `timeoutMs` (-1: no limit) into
   * {@linkcode taken}; returns how many entries it took (0 on a timeout).
   *
   * @throws {Error} with the Win32 error of a failed dequeue
   */
  dequeue(timeoutMs: number): number {
    this.#removed[0] = 0;
    const ok = this.#k32.GetQueuedCompletionStatusEx(
      this.#port,
      this.#entries,
      this.#capacity,
      this.#removedBytes,
      timeoutMs < 0 ? INFINITE : timeoutMs,
      0,
    );
    if (ok) return this.#removed[0];
    const error = this.#k32.GetLastError();
    if (error === WAIT_TIMEOUT) return 0;
    throw win32Error(this.#action, error);
  }

  /**
   * Parks a thread in a dequeue of at most `timeoutMs` (-1: no limit);
   * once it is back, {@linkcode takeParked} says how many entries of
   * {@linkcode parked} it took.
   */
  park(timeoutMs = -1): Promise<void> {
    this.#parkRemoved[0] = 0;
    return this.#k32.GetQueuedCompletionStatusEx_parked(
      this.#port,
      this.#parkEntriesPointer,
      this.#parkCapacity,
      this.#parkRemovedPointer,
      timeoutMs < 0 ? INFINITE : timeoutMs,
      0,
    ).then((ok) => {
      this.#parkedCount = ok ? this.#parkRemoved[0] : 0;
    });
  }

  /** How many entries of {@linkcode parked} the last park took; counted once. */
  takeParked(): number {
    const n = this.#parkedCount;
    this.#parkedCount = 0;
    return n;
  }

  /**
   * Posts a packet.
   *
   * @returns 0, or the Win32 error
   */
  post(bytes: number, key: bigint, overlapped: Deno.PointerValue): number {
    return this.#k32.PostQueuedCompletionStatus(this.#port, bytes, key, overlapped)
      ? 0
      : this.#k32.GetLastError();
  }
}
