// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The awaitable side every object of the module shares ({@linkcode AsyncIo}):
 * `waitReadable()`/`waitWritable()` through the thread's reactor, `read()`
 * and `write()` that try the object's own nonblocking call first and wait
 * only when it would block, and the web streams over them — a byte stream
 * whose BYOB requests are read into in place, and a writable stream that
 * writes each chunk whole, with backpressure.
 *
 * It must not know what the fd is nor which OS it is on: the object brings
 * its `tryRead`/`tryWrite` and what ending its writing side means.
 *
 * @module
 */

import { reactor } from "../backends/_reactor.ts";
import { describe } from "../backends/shared/_describe.ts";
import type { ReadyOptions } from "../types/async_fd.ts";

/** What an object gives its {@linkcode AsyncIo}. */
export interface RawIo {
  /** The fd (-1 once closed). */
  readonly fd: number;
  /** One nonblocking read: bytes, `0` when it would block, `null` at end of stream. */
  tryRead(buffer: Uint8Array): number | null;
  /** One nonblocking write: bytes taken, `0` when it would block. */
  tryWrite(buffer: Uint8Array): number;
}

/** How an {@linkcode AsyncIo} words its errors and ends its writing side. */
export interface AsyncIoOptions {
  /** The object in messages: "fd", "connection", "socket". */
  noun: string;
  /** What `writable.close()` does (nothing when undefined). */
  closeWrite?: () => void;
  /** Throws if the object cannot do I/O (a blocking fd); called before any. */
  checkIo?: (action: string) => void;
}

function noop(): void {}

/** Bytes a byte stream's reader gets per chunk when it brings no buffer. */
const CHUNK_SIZE = 64 * 1024;

/** The awaitable members of one object. */
export class AsyncIo {
  readonly #target: RawIo;
  readonly #noun: string;
  readonly #closeWrite: (() => void) | undefined;
  readonly #checkIo: ((action: string) => void) | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(target: RawIo, options: AsyncIoOptions) {
    this.#target = target;
    this.#noun = options.noun;
    this.#closeWrite = options.closeWrite;
    this.#checkIo = options.checkIo;
  }

  #name(): string {
    const fd = this.#target.fd;
    return fd < 0 ? `the closed ${this.#noun}` : `${this.#noun} ${fd}`;
  }

  #openFd(action: string): number {
    const fd = this.#target.fd;
    if (fd < 0) throw new Deno.errors.BadResource(`${action}: the ${this.#noun} is closed`);
    return fd;
  }

  waitReadable(options?: ReadyOptions): Promise<void> {
    const action = `Cannot wait for ${this.#name()} to be readable`;
    let fd: number;
    try {
      fd = this.#openFd(action);
    } catch (error) {
      return Promise.reject(error);
    }
    return reactor().wait(action, fd, false, options);
  }

  waitWritable(options?: ReadyOptions): Promise<void> {
    const action = `Cannot wait for ${this.#name()} to be writable`;
    let fd: number;
    try {
      fd = this.#openFd(action);
    } catch (error) {
      return Promise.reject(error);
    }
    return reactor().wait(action, fd, true, options);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (!(buffer instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(
          `Cannot read from ${this.#name()}: buffer must be a Uint8Array, got ${describe(buffer)}`,
        ),
      );
    }
    return this.#read(buffer, undefined);
  }

  /** A read, first tried at once; `signal` ends its wait. */
  #read(buffer: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    let n: number | null;
    try {
      n = this.#target.tryRead(buffer);
    } catch (error) {
      return Promise.reject(error);
    }
    if (n !== 0 || buffer.length === 0) return reactor().fast(n);
    return this.#readSlowly(buffer, signal);
  }

  async #readSlowly(buffer: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    const target = this.#target;
    const options = signal === undefined ? undefined : { signal };
    for (;;) {
      const action = `Cannot read from ${this.#name()}`;
      await reactor().wait(action, this.#openFd(action), false, options);
      const n = target.tryRead(buffer);
      if (n !== 0) return n;
    }
  }

  write(buffer: Uint8Array): Promise<number> {
    if (!(buffer instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(
          `Cannot write to ${this.#name()}: buffer must be a Uint8Array, got ${describe(buffer)}`,
        ),
      );
    }
    let n: number;
    try {
      n = this.#target.tryWrite(buffer);
    } catch (error) {
      return Promise.reject(error);
    }
    if (n > 0 || buffer.length === 0) return reactor().fast(n);
    return this.#writeSlowly(buffer, undefined);
  }

  async #writeSlowly(buffer: Uint8Array, signal: AbortSignal | undefined): Promise<number> {
    const target = this.#target;
    const options = signal === undefined ? undefined : { signal };
    for (;;) {
      const action = `Cannot write to ${this.#name()}`;
      await reactor().wait(action, this.#openFd(action), true, options);
      const n = target.tryWrite(buffer);
      if (n > 0) return n;
    }
  }

  /** Writes all of `chunk`, waiting as needed; `signal` ends a wait. */
  async #writeAll(chunk: Uint8Array, signal: AbortSignal): Promise<void> {
    const target = this.#target;
    let done = 0;
    while (done < chunk.length) {
      const rest = done === 0 ? chunk : chunk.subarray(done);
      const n = target.tryWrite(rest);
      if (n > 0) {
        done += n;
        continue;
      }
      const action = `Cannot write to ${this.#name()}`;
      await reactor().wait(action, this.#openFd(action), true, { signal });
    }
  }

  get readable(): ReadableStream<Uint8Array> {
    this.#checkIo?.(`Cannot read from ${this.#name()}`);
    if (this.#readable !== undefined) return this.#readable;
    const cancel = new AbortController();
    /** The read of the pull in progress: a cancel settles once it has come back. */
    let reading: Promise<number | null> | undefined;
    this.#readable = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: CHUNK_SIZE,
      pull: async (controller) => {
        const request = controller.byobRequest!;
        const view = request.view!;
        const buffer = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        reading = this.#read(buffer, cancel.signal);
        let n: number | null;
        try {
          n = await reading;
        } finally {
          reading = undefined;
        }
        if (n === null) {
          controller.close();
          request.respond(0);
        } else {
          request.respond(n);
        }
      },
      cancel: (reason) => {
        cancel.abort(reason);
        // Settles once the reactor's parked call has come back.
        return reading?.then(noop, noop);
      },
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    this.#checkIo?.(`Cannot write to ${this.#name()}`);
    if (this.#writable !== undefined) return this.#writable;
    this.#writable = new WritableStream<Uint8Array>({
      write: (chunk, controller) => {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(
            `Cannot write to ${this.#name()}: a chunk must be a Uint8Array, got ${describe(chunk)}`,
          );
        }
        return this.#writeAll(chunk, controller.signal);
      },
      close: () => {
        if (this.#target.fd >= 0) this.#closeWrite?.();
      },
    });
    return this.#writable;
  }
}
