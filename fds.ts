// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Nonblocking, close-on-exec fds to watch with a Selector or to await: a
 * pipe, a socketpair and an eventfd, each with `tryRead`/`tryWrite` and the
 * awaitable `read`/`write`, readiness waits and web streams.
 *
 * `tryRead` returns `null` at end of stream and `0` when nothing is there
 * yet (it would block); `tryWrite` returns the bytes taken, `0` when the
 * fd is full. Closing an fd removes it from every Selector.
 *
 * It must not know a Selector or a port: the fds it opens are plain fds,
 * closed through the close hook.
 *
 * @module
 */

import { checkBuffer } from "./backends/shared/_checks.ts";
import { OwnedFd } from "./net/_owned_fd.ts";
import { AsyncIo } from "./net/_async_io.ts";
import type { AsyncStream, ReadyOptions } from "./types/async_fd.ts";
import { osError } from "./ffi/errors.ts";
import { requireLinux } from "./_platform.ts";
import {
  acquireLibc,
  AF_UNIX,
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EFD_SEMAPHORE,
  EINTR,
  errno,
  ioSize,
  type Libc,
  O_CLOEXEC,
  O_NONBLOCK,
  releaseLibc,
  RLIM_INFINITY,
  RLIMIT_NOFILE,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from "./ffi/libc.ts";
import { describe } from "./backends/shared/_describe.ts";

/**
 * A nonblocking fd owned by this module: `tryRead`/`tryWrite` never block,
 * and the {@linkcode AsyncStream} members await it through the module's
 * reactor. Closing it removes it from every Selector it is registered
 * with, and rejects its pending waits, reads and writes with
 * `Deno.errors.Interrupted`.
 */
export interface NonblockingFd extends AsyncStream, Disposable {
  /** The fd number (-1 once closed). */
  readonly fd: number;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Reads what is there without blocking.
   *
   * @param buffer where the bytes go
   * @returns the bytes read; `0` when nothing is there yet; `null` at end of stream
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the fd is closed
   * @throws {Deno.errors.ConnectionReset} if a socket's peer reset the connection
   */
  tryRead(buffer: Uint8Array): number | null;
  /**
   * Writes what fits without blocking.
   *
   * @param buffer the bytes to write
   * @returns the bytes taken; `0` when the fd is full
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the fd is closed
   * @throws {Deno.errors.BrokenPipe} if the reading end is gone
   */
  tryWrite(buffer: Uint8Array): number;
  /** Closes the fd; idempotent. Its keys in every Selector go with it. */
  close(): void;
}

/** One end of a socketpair. */
export interface SocketFd extends NonblockingFd {
  /**
   * Shuts down one or both directions: the peer then sees end of stream
   * (and a selector reports `readHangup`).
   *
   * @param how `"write"` (the default), `"read"`, or `"both"`
   * @throws {TypeError} if `how` is none of those
   * @throws {Deno.errors.BadResource} if the fd is closed
   */
  shutdown(how?: "read" | "write" | "both"): void;
}

/** An eventfd: a 64-bit counter that is readable while it is not zero. */
export interface EventFd extends NonblockingFd {
  /**
   * Adds to the counter (a `tryWrite` of one 8-byte value).
   *
   * @param value what to add, a safe integer from 1 (the default)
   * @returns `false` if the counter would overflow (it is readable then anyway)
   * @throws {RangeError} if `value` is not a positive safe integer
   * @throws {Deno.errors.BadResource} if the fd is closed
   */
  add(value?: number): boolean;
  /**
   * Takes the counter (or 1, in semaphore mode) and resets it.
   *
   * @returns the value taken, or `0` when the counter is zero
   * @throws {Deno.errors.BadResource} if the fd is closed
   */
  take(): number;
}

/** A pipe: bytes written to `writer` are read from `reader`. */
export interface Pipe extends Disposable {
  /** The read end. */
  readonly reader: NonblockingFd;
  /** The write end. */
  readonly writer: NonblockingFd;
  /** Closes both ends; idempotent. */
  close(): void;
}

/** A connected pair of Unix stream sockets. */
export interface SocketPair extends Disposable {
  /** One end. */
  readonly first: SocketFd;
  /** The other end. */
  readonly second: SocketFd;
  /** Closes both ends; idempotent. */
  close(): void;
}

/** Options of {@linkcode openEventFd}. */
export interface EventFdOptions {
  /** The counter's first value (default 0). */
  initial?: number;
  /** Semaphore mode: each read takes 1 instead of the whole counter. */
  semaphore?: boolean;
}

class Fd extends OwnedFd implements NonblockingFd {
  #io: AsyncIo = new AsyncIo(this, { noun: "fd", closeWrite: () => this.endWriting() });

  /** What `writable.close()` does: close a pipe's write end (a socket shuts down instead). */
  protected endWriting(): void {
    this.close();
  }

  waitReadable(options?: ReadyOptions): Promise<void> {
    return this.#io.waitReadable(options);
  }

  waitWritable(options?: ReadyOptions): Promise<void> {
    return this.#io.waitWritable(options);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#io.read(buffer);
  }

  write(buffer: Uint8Array): Promise<number> {
    return this.#io.write(buffer);
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#io.readable;
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#io.writable;
  }

  tryRead(buffer: Uint8Array): number | null {
    checkBuffer("Cannot read", buffer);
    const fd = this.open("Cannot read");
    if (buffer.length === 0) return 0;
    const length = ioLength(buffer);
    for (;;) {
      const n = this.libc.read(fd, buffer, length);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw osError(`Cannot read from fd ${fd}`, e);
    }
  }

  tryWrite(buffer: Uint8Array): number {
    checkBuffer("Cannot write", buffer);
    const fd = this.open("Cannot write");
    if (buffer.length === 0) return 0;
    const length = ioLength(buffer);
    for (;;) {
      const n = this.libc.write(fd, buffer, length);
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw osError(`Cannot write to fd ${fd}`, e);
    }
  }
}

const SHUTDOWN_HOW = { read: SHUT_RD, write: SHUT_WR, both: SHUT_RDWR } as const;

class Socket extends Fd implements SocketFd {
  protected override endWriting(): void {
    this.shutdown("write");
  }

  shutdown(how: "read" | "write" | "both" = "write"): void {
    const action = "Cannot shut down socket";
    if (typeof how !== "string" || !Object.hasOwn(SHUTDOWN_HOW, how)) {
      throw new TypeError(`${action}: how must be "read", "write" or "both", got ${describe(how)}`);
    }
    const fd = this.open(action);
    if (this.libc.shutdown(fd, SHUTDOWN_HOW[how]) < 0) {
      throw osError(`Cannot shut down fd ${fd}`, errno());
    }
  }
}

class Counter extends Fd implements EventFd {
  #value = new BigUint64Array(1);
  #bytes = new Uint8Array(this.#value.buffer);

  add(value = 1): boolean {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot add to eventfd: value must be a positive safe integer, got ${describe(value)}`,
      );
    }
    this.#value[0] = BigInt(value);
    return this.tryWrite(this.#bytes) === 8;
  }

  take(): number {
    this.#value[0] = 0n;
    return this.tryRead(this.#bytes) === 8 ? Number(this.#value[0]) : 0;
  }
}

/** The size_t count for a read or write of `buffer`, as a BigInt (made once per count). */
function ioLength(buffer: Uint8Array): bigint {
  return ioSize(buffer.length);
}

/** Opens two fds with `open(libc, pair)`, which fills `pair` or fails with errno. */
function openTwo(
  action: string,
  open: (libc: Libc, pair: Int32Array) => number,
): [Libc, number, number] {
  const libc = acquireLibc();
  const pair = new Int32Array(2);
  if (open(libc, pair) < 0) {
    const error = osError(action, errno());
    releaseLibc();
    throw error;
  }
  acquireLibc(); // one reference per fd
  return [libc, pair[0], pair[1]];
}

/**
 * Opens a nonblocking, close-on-exec pipe.
 *
 * @returns the two ends; close them (or the pipe) when done
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 * @throws {Error} with `code` `"EMFILE"` when the process has no fd left
 *
 * @example Write, then read
 * ```ts
 * import { openPipe } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using pipe = openPipe();
 *   const buffer = new Uint8Array(8);
 *   deepEqual(pipe.reader.tryRead(buffer), 0); // nothing yet: it would block
 *   deepEqual(pipe.writer.tryWrite(new Uint8Array([1, 2, 3])), 3);
 *   deepEqual(pipe.reader.tryRead(buffer), 3);
 *   pipe.writer.close();
 *   deepEqual(pipe.reader.tryRead(buffer), null); // end of stream
 * }
 * ```
 */
export function openPipe(): Pipe {
  const [libc, reader, writer] = openTwo(
    "Cannot open pipe",
    (libc, pair) => libc.pipe2(new Uint8Array(pair.buffer), O_NONBLOCK | O_CLOEXEC),
  );
  return pairOf(new Fd(libc, reader), new Fd(libc, writer), "reader", "writer") as Pipe;
}

/**
 * Opens a connected pair of nonblocking, close-on-exec Unix stream sockets.
 *
 * @returns the two ends; close them (or the pair) when done
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 * @throws {Error} with `code` `"EMFILE"` when the process has no fd left
 *
 * @example A half-close seen from the other end
 * ```ts
 * import { openSocketPair } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using pair = openSocketPair();
 *   pair.first.tryWrite(new Uint8Array([42]));
 *   pair.first.shutdown("write");
 *   const buffer = new Uint8Array(4);
 *   deepEqual(pair.second.tryRead(buffer), 1);
 *   deepEqual(pair.second.tryRead(buffer), null);
 * }
 * ```
 */
export function openSocketPair(): SocketPair {
  const [libc, first, second] = openTwo(
    "Cannot open socketpair",
    (libc, pair) =>
      libc.socketpair(
        AF_UNIX,
        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
        0,
        new Uint8Array(pair.buffer),
      ),
  );
  return pairOf(new Socket(libc, first), new Socket(libc, second), "first", "second") as SocketPair;
}

function pairOf<A extends string, B extends string>(
  a: Fd,
  b: Fd,
  nameA: A,
  nameB: B,
): Disposable & { close(): void } {
  const close = () => {
    a.close();
    b.close();
  };
  return { [nameA]: a, [nameB]: b, close, [Symbol.dispose]: close };
}

/**
 * Opens a nonblocking, close-on-exec eventfd.
 *
 * @param options the first value and the mode
 * @returns the eventfd; close it when done
 * @throws {TypeError} if `options` is not an object or `semaphore` not a boolean
 * @throws {RangeError} if `initial` is not an integer from 0 to 2^32-1
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example A counter
 * ```ts
 * import { openEventFd } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using counter = openEventFd();
 *   counter.add(2);
 *   counter.add(3);
 *   deepEqual(counter.take(), 5);
 *   deepEqual(counter.take(), 0);
 * }
 * ```
 */
export function openEventFd(options: EventFdOptions = {}): EventFd {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot open eventfd: options must be an object, got ${describe(options)}`);
  }
  const initial = options.initial ?? 0;
  if (!Number.isInteger(initial) || initial < 0 || initial > 0xffffffff) {
    throw new RangeError(
      `Cannot open eventfd: initial must be an integer from 0 to 4294967295, got ${
        describe(initial)
      }`,
    );
  }
  const semaphore = options.semaphore ?? false;
  if (typeof semaphore !== "boolean") {
    throw new TypeError(
      `Cannot open eventfd: semaphore must be a boolean, got ${describe(semaphore)}`,
    );
  }
  const libc = acquireLibc();
  const flags = EFD_NONBLOCK | EFD_CLOEXEC | (semaphore ? EFD_SEMAPHORE : 0);
  const fd = libc.eventfd(initial, flags);
  if (fd < 0) {
    const error = osError("Cannot open eventfd", errno());
    releaseLibc();
    throw error;
  }
  return new Counter(libc, fd);
}

/** The soft and hard limits on the fds a process may open. */
export interface FdLimit {
  /** The limit in force (the soft limit). */
  readonly soft: number;
  /** How far the soft limit may be raised without privilege; `Infinity` for no limit. */
  readonly hard: number;
}

/**
 * Raises this process's limit on open fds (the soft RLIMIT_NOFILE) to
 * `wanted`, or as far as the hard limit allows; a server of many
 * connections calls it first. The limit is never lowered.
 *
 * @param wanted the soft limit wanted (default: the hard limit)
 * @returns the limits now in force
 * @throws {RangeError} if `wanted` is not a positive integer
 * @throws {Deno.errors.NotSupported} on an OS other than Linux
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Room for 10,000 connections, if the hard limit allows it
 * ```ts
 * import { raiseFdLimit } from "@evented/io";
 * import { ok } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   const { soft, hard } = raiseFdLimit(10_240);
 *   ok(soft >= Math.min(10_240, hard));
 * }
 * ```
 */
export function raiseFdLimit(wanted?: number): FdLimit {
  const action = "Cannot raise the fd limit (RLIMIT_NOFILE)";
  if (wanted !== undefined && (!Number.isSafeInteger(wanted) || wanted < 1)) {
    throw new RangeError(`${action}: wanted must be a positive integer, got ${describe(wanted)}`);
  }
  requireLinux(action);
  const libc = acquireLibc();
  try {
    const limits = new BigUint64Array(2);
    if (libc.getrlimit(RLIMIT_NOFILE, limits) < 0) throw osError(action, errno());
    const [soft, hard] = limits;
    const target = wanted === undefined ? hard : BigInt(wanted) < hard ? BigInt(wanted) : hard;
    if (target > soft) {
      limits[0] = target;
      if (libc.setrlimit(RLIMIT_NOFILE, limits) < 0) {
        throw osError(`${action} from ${soft} to ${target}`, errno());
      }
    }
    const limit = (value: bigint) => value === RLIM_INFINITY ? Infinity : Number(value);
    return { soft: limit(limits[0]), hard: limit(hard) };
  } finally {
    releaseLibc();
  }
}
