// Copyright 2026 the @evented/io authors. MIT license.
/**
 * How the epoll CompletionPort reads and writes regular files and block
 * devices, which epoll cannot watch: by pread/pwrite at the offset given,
 * synchronously, or, from {@linkcode OFFLOAD_BYTES} up, on a worker thread
 * (a nonblocking FFI call) so that the event loop stays free, a slot of
 * port memory at a time (the worker never touches a buffer JavaScript
 * could free meanwhile). A failed worker call is redone synchronously to
 * learn its errno. A transfer on a worker runs to its end, whatever
 * cancels it.
 *
 * It knows no fd table and no readiness: the engine (`epoll_port.ts`)
 * hands it file operations; outcomes go to the core.
 *
 * @module
 */

import { osError } from "../../ffi/errors.ts";
import { ioSize, type Libc } from "../../ffi/libc.ts";
import { MAX_SLOT } from "../shared/_port_memory.ts";
import { detachedInFlight, type Operation, READ, WRITE } from "../_port_engine.ts";
import type { PortCore } from "../_port_core.ts";
import { fileOnce } from "./_epoll_calls.ts";

/**
 * File transfers of at least this many bytes go to a worker thread.
 * Measured here (page cache, 2 cores): a worker call costs ~20-45 µs more
 * than the same synchronous one; a 64 KiB pread takes ~6 µs, 256 KiB ~23 µs
 * while the bytes sit in the CPU's caches and several times that when they
 * do not, 512 KiB ~290 µs, 1 MiB ~450-570 µs. From here on the event loop
 * gains more than the hop costs; below, the hop would cost more.
 *
 * @internal
 */
export const OFFLOAD_BYTES: number = 256 * 1024;

/** A file operation: the core's slot, and whether it runs on a worker thread. */
export interface FileOperation extends Operation {
  /** Running on a worker thread: no longer cancellable. */
  offloaded: boolean;
}

/** The file steps of one epoll port. */
export class FileSteps<O extends FileOperation> {
  readonly #libc: Libc;
  #core!: PortCore<O>;
  /** Steps on worker threads. */
  #running = 0;

  constructor(libc: Libc) {
    this.#libc = libc;
  }

  /** Connects it to the core its outcomes go to. */
  attach(core: PortCore<O>): void {
    this.#core = core;
  }

  /** Whether a step runs on a worker thread (the port is not closed under it). */
  get busy(): boolean {
    return this.#running > 0;
  }

  /**
   * A file operation's next step: synchronously if what is left is small,
   * else on a worker thread, a port memory slot at a time.
   */
  step(op: O): void {
    if (detachedInFlight(op.buffer!)) return this.#core.detachedBuffer(op, 0);
    const done = op.done;
    const left = op.length - done;
    const offset = BigInt(op.offset) + BigInt(done);
    if (left >= OFFLOAD_BYTES && !this.#core.closed) {
      return this.#offload(op, left < MAX_SLOT ? left : MAX_SLOT, offset);
    }
    op.step = left;
    const n = fileOnce(
      this.#libc,
      op.handle,
      op.kind === READ,
      op.buffer!.subarray(done, op.length),
      offset,
    );
    if (n < 0) return this.#core.failed(op, osError(this.#core.action(op), -n));
    this.#core.transferred(op, n);
  }

  /**
   * One pread/pwrite of `size` bytes on a worker thread, into or out of a
   * slot of port memory: the worker writes where JavaScript can neither
   * free nor move (the caller's buffer may be detached meanwhile). A
   * failure is redone here to learn its errno.
   */
  #offload(op: O, size: number, offset: bigint): void {
    const memory = this.#core.memory;
    const slot = memory.take(size);
    const bytes = slot.bytes.subarray(0, size);
    if (op.kind === WRITE) bytes.set(op.buffer!.subarray(op.done, op.done + size));
    op.offloaded = true;
    op.step = size;
    this.#running++;
    const libc = this.#libc;
    const length = ioSize(size);
    const call = op.kind === READ
      ? libc.pread_offloaded(op.handle, bytes, length, offset)
      : libc.pwrite_offloaded(op.handle, bytes, length, offset);
    const finish = (n: number) => {
      this.#running--;
      op.offloaded = false;
      if (n >= 0 && op.kind === READ) {
        if (detachedInFlight(op.buffer!)) {
          memory.give(slot);
          return this.#core.detachedBuffer(op, n);
        }
        op.buffer!.set(bytes.subarray(0, n), op.done);
      }
      memory.give(slot);
      if (n < 0) return this.#core.failed(op, osError(this.#core.action(op), -n));
      // A read's bytes are in place: counted by the core as the step's.
      this.#core.transferred(op, n);
    };
    call.then(
      (n) => {
        // The worker's errno cannot be read here: the call is made again to learn it.
        finish(n < 0 ? fileOnce(this.#libc, op.handle, op.kind === READ, bytes, offset) : n);
      },
      (error) => {
        this.#running--;
        op.offloaded = false;
        memory.give(slot);
        this.#core.failed(op, error);
      },
    );
  }
}
