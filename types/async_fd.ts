// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What an awaitable fd is, for its users: the readiness waits, `read()` and
 * `write()` that wait as needed, and the web streams, as every awaitable
 * object of the module has them (`watchFd()`, pipes, socketpairs,
 * eventfds, TCP connections), and the `AsyncFd` that `watchFd()` returns.
 * Public (through `async_fd.ts`, `fds.ts`, `net.ts` and `mod.ts`).
 *
 * No I/O and no OS here: the reactor lives in `backends/_reactor.ts`, the
 * objects in `net/`.
 *
 * @module
 */

/** Options of a readiness wait. */
export interface ReadyOptions {
  /** Aborts the wait: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Milliseconds to wait at most, then reject with `Deno.errors.TimedOut`
   * (never early); `undefined` or `Infinity` waits as long as it takes.
   */
  timeout?: number;
}

/**
 * An fd awaited: readiness, reads and writes that wait as needed, and web
 * streams. One reactor per thread serves every such object; a pending
 * wait keeps the process alive, as `Deno.Conn.read()` does.
 */
export interface AsyncStream {
  /**
   * Waits until the fd is readable, or has hung up or failed (then the
   * next read says which). Resolves without a thread hop when it is ready
   * already. May resolve spuriously (another reader took the data): try
   * the read, and wait again if it would block.
   *
   * @param options an abort signal and a timeout
   * @returns a promise that resolves once the fd is readable
   * @throws {Deno.errors.TimedOut} (rejects) after `timeout` ms
   * @throws {Deno.errors.Interrupted} (rejects) if the object is closed meanwhile
   * @throws {Deno.errors.BadResource} (rejects) if it is closed already
   */
  waitReadable(options?: ReadyOptions): Promise<void>;
  /**
   * Waits until the fd is writable, or has hung up or failed.
   *
   * @param options an abort signal and a timeout
   * @returns a promise that resolves once the fd is writable
   * @throws {Deno.errors.TimedOut} (rejects) after `timeout` ms
   * @throws {Deno.errors.Interrupted} (rejects) if the object is closed meanwhile
   * @throws {Deno.errors.BadResource} (rejects) if it is closed already
   */
  waitWritable(options?: ReadyOptions): Promise<void>;
  /**
   * Reads into `buffer`, waiting until something is there, as
   * `Deno.Conn.read()` does.
   *
   * @param buffer where the bytes go
   * @returns the bytes read (at least 1, or 0 for an empty buffer), or `null` at end of stream
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.Interrupted} (rejects) if the object is closed meanwhile
   * @throws {Deno.errors.ConnectionReset} (rejects) if a socket's peer reset it
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes from `buffer`, waiting until something fits, as
   * `Deno.Conn.write()` does: it may take less than all of it.
   *
   * @param buffer the bytes
   * @returns the bytes written (at least 1, or 0 for an empty buffer)
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.Interrupted} (rejects) if the object is closed meanwhile
   * @throws {Deno.errors.BrokenPipe} (rejects) if the reading end is gone
   */
  write(buffer: Uint8Array): Promise<number>;
  /**
   * The bytes read, as a byte stream. A BYOB reader's buffer is read into
   * in place; a default reader gets chunks of their own, never copied,
   * from 64 KiB up to 1 MiB: a read that fills its chunk doubles the next
   * one, a read of a quarter or less halves it. Reading it to its end does
   * not close the object (unlike `Deno.Conn`'s): a socket may still write
   * after its peer's end of stream. Cancelling it ends a pending read.
   */
  readonly readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  /**
   * The bytes to write, as a stream that writes each chunk whole, with
   * backpressure. `close()` ends the writing side only: `closeWrite()` on a
   * socket, `close()` on a pipe's write end, nothing on a watched fd the
   * object does not own (unlike `Deno.Conn`'s, which closes it whole).
   */
  readonly writable: WritableStream<Uint8Array>;
}

/** Options of `watchFd()`. */
export interface WatchFdOptions {
  /** `close()` closes the fd too (default false: it only stops watching). */
  owned?: boolean;
  /**
   * Sets O_NONBLOCK on the fd (Linux) or FIONBIO on the socket (Windows),
   * put back on `close()` when the fd is not owned. The flag belongs to the
   * open file: every copy of the fd sees it. Default false: the fd's mode
   * is left alone, and reads and writes need it nonblocking already.
   */
  nonblocking?: boolean;
}

/**
 * An fd that a program holds (from a native library, a child process, a
 * device), awaited through the module's reactor: any pollable fd on
 * Linux, a socket on Windows.
 */
export interface AsyncFd extends AsyncStream, Disposable {
  /** The fd (-1 once closed). */
  readonly fd: number;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Reads what is there without blocking.
   *
   * @param buffer where the bytes go
   * @returns the bytes read; `0` when nothing is there yet; `null` at end of stream
   * @throws {TypeError} if `buffer` is not a Uint8Array, or the fd blocks
   * @throws {Deno.errors.BadResource} if the object is closed
   */
  tryRead(buffer: Uint8Array): number | null;
  /**
   * Writes what fits without blocking.
   *
   * @param buffer the bytes
   * @returns the bytes taken; `0` when the fd is full
   * @throws {TypeError} if `buffer` is not a Uint8Array, or the fd blocks
   * @throws {Deno.errors.BadResource} if the object is closed
   */
  tryWrite(buffer: Uint8Array): number;
  /**
   * Stops watching: pending waits, reads and writes reject with
   * `Deno.errors.Interrupted`; the fd is closed only if it is owned (and
   * its mode put back if `nonblocking` changed it and it is not). Idempotent.
   */
  close(): void;
}
