// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What a CompletionPort is, for its users: handles, packets, the options
 * of reads and writes, and the `CompletionPort` interface itself. Public
 * (through `completion_port.ts` and `mod.ts`); no I/O: the core and its
 * engines live in `backends/`.
 *
 * @module
 */

import type { UnixConn, UnixListener } from "./unix.ts";
import type { WaitOptions } from "./selector.ts";
import type { CancelOptions, TcpAddress, TcpConn, TcpListener } from "./net.ts";

/** A Windows HANDLE (or SOCKET), as a pointer or a number; an fd number elsewhere. */
export type Handle = Deno.PointerValue | number;

/** The engines a CompletionPort can run on. */
export type CompletionBackend = "iocp" | "io_uring" | "epoll";

/** One completion packet, as `get()` and `wait()` return it. */
export interface Completion {
  /** The key the handle was associated with, or the key posted (a safe integer). */
  readonly key: number;
  /** Bytes transferred (or the number posted). */
  readonly bytes: number;
  /** 0, or the OS error of a failed operation (a Win32 error on Windows, an errno elsewhere). */
  readonly error: number;
  /** The caller's own OVERLAPPED on Windows (or the pointer posted); null elsewhere. */
  readonly overlapped: Deno.PointerValue;
}

/** Options of `read()` and `write()`. */
export interface IoOptions {
  /**
   * Where in the file: required on seekable handles (files), which have no
   * position of their own here; must be omitted on streams (pipes, sockets).
   */
  offset?: number | bigint;
  /**
   * Cancels the operation: it rejects with the signal's reason if it was
   * cancelled, and resolves with its result if it completed first.
   */
  signal?: AbortSignal;
}

/**
 * Completion notification: start reads and writes on handles, and learn
 * when they have finished and how many bytes they moved.
 *
 * Operations started through the port (`read`, `write`, `accept`,
 * `connect`) settle their own promises and are not returned by
 * `get()`/`wait()`; those return what was `post()`ed and what completed on
 * the caller's own OVERLAPPED structures.
 */
export interface CompletionPort extends Disposable, AsyncDisposable {
  /** The engine this port runs on. */
  readonly backend: CompletionBackend;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Associates a handle with the port: its completions carry `key`.
   *
   * @param handle an overlapped handle not yet associated with a port
   * @param key a non-negative safe integer
   * @throws {TypeError} if the handle is not a pointer or number
   * @throws {RangeError} if `key` is not a non-negative safe integer
   * @throws {Deno.errors.BadResource} if the handle is not open, or the port is closed
   */
  associate(handle: Handle, key: number): void;
  /**
   * Queues a packet that `get()` or `wait()` returns.
   *
   * @param key a non-negative safe integer
   * @param bytes a DWORD, 0 by default
   * @param overlapped a pointer handed back as is
   * @throws {RangeError} if `key` or `bytes` is out of range
   * @throws {Deno.errors.BadResource} if the port is closed
   */
  post(key: number, bytes?: number, overlapped?: Deno.PointerValue): void;
  /**
   * Dequeues packets synchronously, in a batch (this thread blocks).
   *
   * @param timeout milliseconds at most; `undefined`/`Infinity` without limit; 0 polls
   * @returns the packets, `[]` on timeout
   * @throws {TypeError} if `timeout` is not a number
   * @throws {Deno.errors.Busy} if a `wait()` is pending, or, for a timeout other than 0, if operations started through the port are in flight (their completions are being awaited on another thread: use `wait()`)
   * @throws {Deno.errors.BadResource} if the port is closed
   */
  get(timeout?: number): Completion[];
  /**
   * Dequeues packets without blocking the event loop.
   *
   * @param options timeout and abort signal
   * @returns the packets; `[]` on timeout or `close()`
   * @throws {Deno.errors.Busy} if another `wait()` is pending
   * @throws {Deno.errors.BadResource} if the port is closed
   */
  wait(options?: WaitOptions): Promise<Completion[]>;
  /**
   * Hands out memory of the port's own, for reads and writes that need no
   * copy. The kernel reads and writes an operation's memory after the call
   * that started it has returned; so that it never touches memory
   * JavaScript has freed, a port copies an ordinary buffer through memory
   * of its own (a read's bytes out when it completes, a write's in before
   * it starts). Memory from `allocate()` is used as it is. It cannot be
   * detached, transferred or resized (each attempt throws a TypeError), and
   * is recycled once the view returned here has been garbage collected and
   * no operation uses it: keep that view for as long as you use the memory
   * (a view made from it does not keep it).
   *
   * @param size bytes, from 1 to 1 GiB
   * @returns a view of `size` bytes, zeroed when new
   * @throws {RangeError} if `size` is not an integer from 1 to 2^30
   * @throws {Deno.errors.BadResource} if the port is closed
   *
   * @example Read into port memory
   * ```ts
   * import { openCompletionPort } from "@evented/io";
   * import { equal } from "node:assert/strict";
   *
   * using port = openCompletionPort();
   * const buffer = port.allocate(16 * 1024);
   * equal(buffer.length, 16 * 1024);
   * ```
   */
  allocate(size: number): Uint8Array;
  /**
   * Reads from an overlapped handle through the port; from a TcpConn's
   * `fd`, receives (WSARecv on Windows, IORING_OP_RECV with io_uring).
   *
   * @param handle the handle (associated with key 0 if it is not associated yet), or a TcpConn's `fd`
   * @param buffer where the bytes go; neither resizable nor shared (one detached while the read is in flight makes it reject with a TypeError)
   * @param options the offset (files) and an abort signal
   * @returns the bytes read, or `null` at end of stream (end of file, a broken pipe, a peer's shutdown)
   * @throws {TypeError} for a bad buffer, or an offset missing on a file or given on a stream, or a buffer detached while the operation was in flight (the message says how many bytes it moved)
   * @throws {Deno.errors.BadResource} if the handle is not open, or the port is closed
   * @throws {Deno.errors.ConnectionReset} if a socket's peer reset the connection
   * @throws {Deno.errors.Interrupted} if the port, or the TcpConn, was closed while the read was in flight
   */
  read(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number | null>;
  /**
   * Writes to an overlapped handle through the port; to a TcpConn's `fd`,
   * sends (WSASend on Windows; with io_uring, send(2) at once for what the
   * socket has room for, IORING_OP_SEND for the rest). A stream's
   * write (a pipe's, a socket's) takes all its bytes unless it fails or is
   * aborted: aborted after part of them went out, it resolves with the
   * number written (bytes that left are never reported as not sent).
   * Writes started together on one stream go out whole, in the order they
   * were started.
   *
   * @param handle the handle (associated with key 0 if it is not associated yet), or a TcpConn's `fd`
   * @param buffer the bytes; neither resizable nor shared (one detached while the write is in flight makes it reject with a TypeError)
   * @param options the offset (files) and an abort signal
   * @returns the bytes written: all of them, or (a file's, or aborted after some went out) fewer
   * @throws {TypeError} for a bad buffer, or an offset missing on a file or given on a stream, or a buffer detached while the operation was in flight (the message says how many bytes it moved)
   * @throws {Deno.errors.BrokenPipe} if the reading end is gone, or the TcpConn was shut down for writing
   * @throws {Deno.errors.ConnectionReset} if a socket's peer reset the connection
   * @throws {Deno.errors.Interrupted} if the port, or the TcpConn, was closed while the write was in flight
   */
  write(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number>;
  /**
   * Accepts the next connection on a listener, through the port (AcceptEx
   * on Windows, IORING_OP_ACCEPT with io_uring). On Windows the listener
   * and the connection are associated with this port, and with no other:
   * use them with this port only (portable code does so everywhere).
   *
   * @param listener a listener from `listenTcp()`
   * @param options an abort signal
   * @returns the connection; read and write its `fd` through this port
   * @throws {TypeError} if `listener` is not from `listenTcp()`, or an option has the wrong type
   * @throws {Deno.errors.BadResource} if the port or the listener is closed
   * @throws {Deno.errors.Interrupted} if the port or the listener was closed while the accept was in flight
   * @throws {Deno.errors.NotSupported} on an OS whose sockets are not there yet
   *
   * @example Accept one connection, or give up after a while
   * ```ts
   * import { listenTcp, openCompletionPort } from "@evented/io";
   * import { deepEqual } from "node:assert/strict";
   *
   * if (Deno.build.os === "windows" || Deno.build.os === "linux") {
   *   await using port = openCompletionPort();
   *   using listener = listenTcp({ port: 0 });
   *   const accepting = port.accept(listener, { signal: AbortSignal.timeout(10_000) });
   *   using client = await port.connect({ port: listener.addr.port });
   *   using server = await accepting;
   *   deepEqual(server.remoteAddr, client.localAddr);
   * }
   * ```
   */
  accept(listener: TcpListener, options?: CancelOptions): Promise<TcpConn>;
  /**
   * Accepts one connection on a Unix stream listener, through the port
   * (Linux: IORING_OP_ACCEPT with io_uring, accept4 when the listener
   * turns readable with epoll).
   *
   * @param listener a listener from `listenUnix()` (or adopted)
   * @param options an abort signal
   * @returns the connection; read and write its `fd` through this port
   * @throws {TypeError} if `listener` is not one of this module's, or an option has the wrong type
   * @throws {Deno.errors.BadResource} if the port or the listener is closed
   * @throws {Deno.errors.Interrupted} if the port or the listener was closed while the accept was in flight
   *
   * @example Accept on an abstract Unix name
   * ```ts
   * import { connectUnix, listenUnix, openCompletionPort } from "@evented/io";
   * import { deepEqual } from "node:assert/strict";
   *
   * if (Deno.build.os === "linux") {
   *   await using port = openCompletionPort();
   *   const path = `\0evented-io-doc-${crypto.randomUUID()}`;
   *   using listener = listenUnix({ path });
   *   const accepting = port.accept(listener, { signal: AbortSignal.timeout(10_000) });
   *   using client = await connectUnix({ path });
   *   using server = await accepting;
   *   deepEqual(server.localAddr, client.remoteAddr);
   * }
   * ```
   */
  accept(listener: UnixListener, options?: CancelOptions): Promise<UnixConn>;
  /**
   * Connects to `hostname:port`, through the port (ConnectEx on Windows,
   * IORING_OP_CONNECT with io_uring), from the wildcard address of its
   * family. On Windows the connection is associated with this port, and
   * with no other: use it with this port only (portable code does so
   * everywhere).
   *
   * @param address the peer: an IPv4 or IPv6 literal or "localhost" (default "127.0.0.1"), and a port
   * @param options an abort signal
   * @returns the connection; read and write its `fd` through this port
   * @throws {RangeError} if the port is not an integer from 0 to 65535
   * @throws {TypeError} if the hostname is not an IP literal or "localhost", or an option has the wrong type
   * @throws {Deno.errors.ConnectionRefused} if nothing listens there
   * @throws {Deno.errors.BadResource} if the port is closed
   * @throws {Deno.errors.Interrupted} if the port was closed while the connect was in flight
   * @throws {Deno.errors.NotSupported} on an OS whose sockets are not there yet
   *
   * @example Nothing listens: ConnectionRefused
   * ```ts
   * import { listenTcp, openCompletionPort } from "@evented/io";
   * import { rejects } from "node:assert/strict";
   *
   * if (Deno.build.os === "windows" || Deno.build.os === "linux") {
   *   await using port = openCompletionPort();
   *   const listener = listenTcp({ hostname: "::1", port: 0 });
   *   listener.close(); // its port is free again
   *   await rejects(
   *     port.connect({ hostname: "::1", port: listener.addr.port }),
   *     Deno.errors.ConnectionRefused,
   *   );
   * }
   * ```
   */
  connect(address: TcpAddress, options?: CancelOptions): Promise<TcpConn>;
  /**
   * Closes the port: cancels what is in flight (those promises reject with
   * `Interrupted` once their cancellation has come back), resolves a
   * pending `wait()` with `[]`, and frees the port once nothing uses it.
   * Idempotent; `[Symbol.asyncDispose]` also awaits all of that.
   */
  close(): void;
}
