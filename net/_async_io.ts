// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The awaitable side every object of the module shares, by composition:
 *
 * - {@linkcode AsyncIo} for byte streams (pipes, socketpairs, eventfds,
 *   TCP and Unix connections, watched fds): `waitReadable()`/`waitWritable()`
 *   through the thread's reactor, `read()` and `write()` that try the
 *   object's own nonblocking call first and wait only when it would block,
 *   and the web streams over them — a byte stream whose BYOB requests are
 *   read into in place, and a writable stream that writes each chunk
 *   whole, with backpressure;
 * - {@linkcode AsyncListener}: `accept()` over a listener's `tryAccept()`,
 *   and the `for await` over its connections that ends quietly when it is
 *   closed;
 * - {@linkcode AsyncDatagrams}: `send()` and `receive()` over a datagram
 *   socket's `trySend()`/`tryReceive()`, and the `for await` over what
 *   arrives.
 *
 * Each tries the object's call at once and waits for readiness only when
 * it would block; a call that completed at once resolves without a thread
 * hop (`reactor().fast()`).
 *
 * It must not know what the fd is nor which OS it is on: the object brings
 * its nonblocking calls and what ending its writing side means.
 *
 * @module
 */

import { reactor, type Waiter, type Watch } from "../backends/_reactor.ts";
import { describe } from "../backends/shared/_describe.ts";
import { newPromise, settlers } from "../backends/shared/_promises.ts";
import type { ReadyOptions } from "../types/async_fd.ts";

/** An object with an fd (-1 once closed), as every awaitable object of the module is. */
export interface HasFd {
  /** The fd (-1 once closed). */
  readonly fd: number;
  /** Whether `close()` has been called. */
  readonly closed?: boolean;
}

/** What an object gives its {@linkcode AsyncIo}. */
export interface RawIo extends HasFd {
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
  /**
   * Whether a read that fills less than its buffer means the stream had no
   * more (TCP: the next read then waits at once, without a call that would
   * say EAGAIN). Not so for a Unix stream (a read stops where fds or
   * credentials were attached), a tty (a line at a time), an eventfd in
   * semaphore mode, or any fd of unknown kind.
   */
  shortReadDrains?: boolean;
}

function noop(): void {}

/**
 * Bytes a byte stream's reader gets per chunk when it brings no buffer, at
 * first and at most: a read that fills its chunk doubles the next one, a
 * read of a quarter or less halves it (never below the first size).
 */
const CHUNK_SIZE = 64 * 1024;
const MAX_CHUNK_SIZE = 1024 * 1024;

/**
 * A read of an {@linkcode AsyncIo} that waits for its fd: the reactor's
 * waiter itself, so that a read that waits allocates this object and its
 * promise, and nothing else.
 */
class PendingRead implements Waiter {
  watch: Watch | undefined = undefined;
  write = false;
  action = "";
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  readonly io: AsyncIo;
  readonly buffer: Uint8Array;
  /** The read's signal, which ends its waits. */
  readonly readSignal: AbortSignal | undefined;
  readonly resolve: (value: number | null) => void;
  readonly reject: (reason: unknown) => void;

  constructor(
    io: AsyncIo,
    buffer: Uint8Array,
    readSignal: AbortSignal | undefined,
    resolve: (value: number | null) => void,
    reject: (reason: unknown) => void,
  ) {
    this.io = io;
    this.buffer = buffer;
    this.readSignal = readSignal;
    this.resolve = resolve;
    this.reject = reject;
  }

  ready(): void {
    this.io.retryRead(this);
  }

  fail(reason: unknown): void {
    this.reject(reason);
  }
}

/**
 * Readiness waits of one object, and {@linkcode AsyncReady.until}: a
 * nonblocking call tried at once, then again each time the fd turns ready.
 */
export class AsyncReady {
  readonly #target: HasFd;
  readonly #noun: string;

  constructor(target: HasFd, noun: string) {
    this.#target = target;
    this.#noun = noun;
  }

  /** "connection 7", or "the closed connection": the object in messages. */
  protected name(): string {
    const fd = this.#target.fd;
    return fd < 0 ? `the closed ${this.#noun}` : `${this.#noun} ${fd}`;
  }

  /** The fd, or a BadResource error: "<action>: the <noun> is closed". */
  protected openFd(action: string): number {
    const fd = this.#target.fd;
    if (fd < 0) throw new Deno.errors.BadResource(`${action}: the ${this.#noun} is closed`);
    return fd;
  }

  waitReadable(options?: ReadyOptions): Promise<void> {
    const action = `Cannot wait for ${this.name()} to be readable`;
    let fd: number;
    try {
      fd = this.openFd(action);
    } catch (error) {
      return Promise.reject(error);
    }
    return reactor().wait(action, fd, false, options);
  }

  waitWritable(options?: ReadyOptions): Promise<void> {
    const action = `Cannot wait for ${this.name()} to be writable`;
    let fd: number;
    try {
      fd = this.openFd(action);
    } catch (error) {
      return Promise.reject(error);
    }
    return reactor().wait(action, fd, true, options);
  }

  /**
   * `attempt()` now; while it gives `null` (it would block), a wait until
   * the fd is readable (`write` false) or writable, and `attempt()` again.
   * What `attempt()` throws rejects the promise.
   *
   * @param verb what is being done, for errors ("accept on" → "Cannot accept on listener 5")
   */
  protected until<T>(
    verb: string,
    write: boolean,
    attempt: () => T | null,
    signal?: AbortSignal,
  ): Promise<T> {
    let value: T | null;
    try {
      value = attempt();
    } catch (error) {
      return Promise.reject(error);
    }
    if (value !== null) return reactor().fast(value);
    return this.#untilSlowly(verb, write, attempt, signal);
  }

  async #untilSlowly<T>(
    verb: string,
    write: boolean,
    attempt: () => T | null,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const options = signal === undefined ? undefined : { signal };
    for (;;) {
      const action = `Cannot ${verb} ${this.name()}`;
      await reactor().wait(action, this.openFd(action), write, options, true);
      const value = attempt();
      if (value !== null) return value;
    }
  }
}

/** The awaitable members of one byte stream. */
export class AsyncIo extends AsyncReady {
  readonly #target: RawIo;
  readonly #closeWrite: (() => void) | undefined;
  readonly #checkIo: ((action: string) => void) | undefined;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  /** The fd the actions below name, and the actions (made once, not per wait). */
  #actionsFd = -1;
  #readAction = "";
  #writeAction = "";
  readonly #shortReadDrains: boolean;
  /** The reactor's read mark when a short read found the stream drained; -1: none. */
  #drained = -1;

  constructor(target: RawIo, options: AsyncIoOptions) {
    super(target, options.noun);
    this.#target = target;
    this.#closeWrite = options.closeWrite;
    this.#checkIo = options.checkIo;
    this.#shortReadDrains = options.shortReadDrains ?? false;
  }

  /** After a read of `n` bytes into `length`: notes whether it drained the stream. */
  #noteRead(n: number | null, length: number): void {
    this.#drained = n !== null && n > 0 && n < length && this.#shortReadDrains
      ? reactor().readMark(this.#target.fd)
      : -1;
  }

  /** The fd, and the actions of a read and a write of it set; or BadResource. */
  #fdForWait(write: boolean): number {
    const fd = this.#target.fd;
    if (fd !== this.#actionsFd) {
      if (fd < 0) return this.openFd(`Cannot ${write ? "write to" : "read from"} ${this.name()}`);
      this.#actionsFd = fd;
      this.#readAction = `Cannot read from ${this.name()}`;
      this.#writeAction = `Cannot write to ${this.name()}`;
    }
    return fd;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (!(buffer instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(
          `Cannot read from ${this.name()}: buffer must be a Uint8Array, got ${describe(buffer)}`,
        ),
      );
    }
    return this.#read(buffer, undefined);
  }

  /** A read, first tried at once; `signal` ends its wait. */
  #read(buffer: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    const drained = this.#drained;
    if (drained >= 0) {
      this.#drained = -1;
      // Nothing came since a short read drained it: wait at once.
      const fd = this.#target.fd;
      if (buffer.length > 0 && fd >= 0 && reactor().readMark(fd) === drained) {
        return this.#readSlowly(buffer, signal);
      }
    }
    let n: number | null;
    try {
      n = this.#target.tryRead(buffer);
    } catch (error) {
      return Promise.reject(error);
    }
    if (n !== 0 || buffer.length === 0) {
      this.#noteRead(n, buffer.length);
      return reactor().fast(n);
    }
    return this.#readSlowly(buffer, signal);
  }

  /** A read that waits first: tried again each time the fd turns ready, from the wait loop. */
  #readSlowly(buffer: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    const promise = newPromise<number | null>();
    this.#waitToRead(new PendingRead(this, buffer, signal, settlers.resolve, settlers.reject));
    return promise;
  }

  #waitToRead(read: PendingRead): void {
    let fd: number;
    try {
      fd = this.#fdForWait(false);
    } catch (error) {
      read.fail(error);
      return;
    }
    reactor().waitThen(this.#readAction, fd, false, read.readSignal, read);
  }

  /**
   * A pending read's fd turned ready: the read is tried again, and waits
   * again if it finds nothing (taken meanwhile, or a spurious wake-up).
   *
   * @internal
   */
  retryRead(read: PendingRead): void {
    const buffer = read.buffer;
    let n: number | null;
    try {
      n = this.#target.tryRead(buffer);
    } catch (error) {
      read.fail(error);
      return;
    }
    if (n === 0) return this.#waitToRead(read);
    this.#noteRead(n, buffer.length);
    read.resolve(n);
  }

  write(buffer: Uint8Array): Promise<number> {
    if (!(buffer instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(
          `Cannot write to ${this.name()}: buffer must be a Uint8Array, got ${describe(buffer)}`,
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
      const fd = this.#fdForWait(true);
      await reactor().wait(this.#writeAction, fd, true, options, true);
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
      const fd = this.#fdForWait(true);
      await reactor().wait(this.#writeAction, fd, true, { signal }, true);
    }
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#checkIo?.(`Cannot read from ${this.name()}`);
    if (this.#readable !== undefined) return this.#readable;
    const cancel = new AbortController();
    /** The read of the pull in progress: a cancel settles once it has come back. */
    let reading: Promise<number | null> | undefined;
    /** The size of the next chunk a reader without a buffer gets. */
    let chunkSize = CHUNK_SIZE;
    this.#readable = new ReadableStream({
      type: "bytes",
      pull: async (controller) => {
        // A BYOB reader's buffer is read into in place; a default reader
        // gets a chunk of its own (handed over, never copied).
        const request = controller.byobRequest;
        const view = request?.view;
        const buffer = view != null
          ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
          : new Uint8Array(chunkSize);
        reading = this.#read(buffer, cancel.signal);
        let n: number | null;
        try {
          n = await reading;
        } finally {
          reading = undefined;
        }
        if (view != null) {
          if (n === null) controller.close();
          return request!.respond(n ?? 0);
        }
        if (n === null) return controller.close();
        if (n === chunkSize) chunkSize = Math.min(chunkSize * 2, MAX_CHUNK_SIZE);
        else if (n <= chunkSize / 4) chunkSize = Math.max(chunkSize / 2, CHUNK_SIZE);
        controller.enqueue(buffer.subarray(0, n));
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
    this.#checkIo?.(`Cannot write to ${this.name()}`);
    if (this.#writable !== undefined) return this.#writable;
    this.#writable = new WritableStream<Uint8Array>({
      write: (chunk, controller) => {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(
            `Cannot write to ${this.name()}: a chunk must be a Uint8Array, got ${describe(chunk)}`,
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

/** What a listener gives its {@linkcode AsyncListener}. */
export interface RawListener<C> extends HasFd {
  readonly closed: boolean;
  /** One nonblocking accept: a connection, or `null` when none waits. */
  tryAccept(): C | null;
}

/** The awaitable members of one listener: `accept()` and `for await`. */
export class AsyncListener<C> extends AsyncReady {
  readonly #target: RawListener<C>;
  readonly #attempt: () => C | null;

  constructor(target: RawListener<C>, noun = "listener") {
    super(target, noun);
    this.#target = target;
    this.#attempt = () => target.tryAccept();
  }

  /** The next connection, waiting until one comes. */
  accept(): Promise<C> {
    return this.until("accept on", false, this.#attempt);
  }

  /** Each connection as it comes; ends quietly once the listener is closed. */
  async *connections(): AsyncGenerator<C, void, undefined> {
    const target = this.#target;
    for (;;) {
      let conn: C;
      try {
        conn = await this.accept();
      } catch (error) {
        if (target.closed) return; // Interrupted, or BadResource: closed meanwhile
        throw error;
      }
      yield conn;
    }
  }
}

/** What a datagram socket gives its {@linkcode AsyncDatagrams}. */
export interface RawDatagrams<To, From> extends HasFd {
  readonly closed: boolean;
  /** One nonblocking send: the bytes sent, `0` when the socket's buffer is full. */
  trySend(buffer: Uint8Array, address: To): number;
  /** One nonblocking receive: the length and the sender, `null` when nothing waits. */
  tryReceive(buffer: Uint8Array): [number, From] | null;
}

/**
 * How many bytes `receive()` allocates when it is given no buffer: the
 * largest UDP payload (65,535 bytes less the IPv4 and UDP headers), which
 * a Unix datagram of the default size fits too.
 */
export const DATAGRAM_SIZE = 65_507;

/** The awaitable members of one datagram socket: `send()`, `receive()`, `for await`. */
export class AsyncDatagrams<To, From> extends AsyncReady {
  readonly #target: RawDatagrams<To, From>;

  constructor(target: RawDatagrams<To, From>, noun = "socket") {
    super(target, noun);
    this.#target = target;
  }

  /** Sends one datagram, waiting while the socket's buffer is full. */
  send(data: Uint8Array, address: To): Promise<number> {
    const target = this.#target;
    return this.until("send from", true, () => {
      const n = target.trySend(data, address);
      return n === 0 && data.length > 0 ? null : n;
    });
  }

  /** Receives one datagram into `buffer` (or a new one), waiting until one comes. */
  receive<B extends ArrayBufferLike = ArrayBuffer>(
    buffer?: Uint8Array<B>,
  ): Promise<[Uint8Array<B>, From]> {
    const target = this.#target;
    const into = buffer ?? new Uint8Array(DATAGRAM_SIZE) as Uint8Array<B>;
    return this.until("receive on", false, () => {
      const got = target.tryReceive(into);
      return got === null ? null : [into.subarray(0, got[0]), got[1]];
    });
  }

  /** Each datagram as it comes, each in a buffer of its own; ends quietly once closed. */
  async *datagrams(): AsyncGenerator<[Uint8Array<ArrayBuffer>, From], void, undefined> {
    const target = this.#target;
    for (;;) {
      let datagram: [Uint8Array<ArrayBuffer>, From];
      try {
        datagram = await this.receive();
      } catch (error) {
        if (target.closed) return;
        throw error;
      }
      yield datagram;
    }
  }
}
