// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The socket types every OS implements (public through `net.ts`).
 *
 * @module
 */

/** Where to connect: `{ hostname, port }`, as `Deno.connect` takes it. */
export interface TcpAddress {
  /**
   * An IPv4 or IPv6 literal, or "localhost" (127.0.0.1); names are not
   * resolved. Default "127.0.0.1".
   */
  hostname?: string;
  /** An integer from 0 to 65535. */
  port: number;
}

/** Options of `listenTcp()`. */
export interface ListenTcpOptions extends TcpAddress {
  /** Port 0 picks a free port (read it from `addr`). */
  port: number;
  /** The length of the queue of connections not yet accepted (default 511). */
  backlog?: number;
}

/** Options of a socket operation started through a CompletionPort. */
export interface CancelOptions {
  /**
   * Cancels the operation: it rejects with the signal's reason if it was
   * cancelled, and resolves with its result if it completed first.
   */
  signal?: AbortSignal;
}

/** How a connection is shut down: which direction stops. */
export type ShutdownHow = "read" | "write" | "both";

/** A listening TCP socket. */
export interface TcpListener extends Disposable {
  /** The socket (a SOCKET on Windows, an fd on Linux) as a number; -1 once closed. */
  readonly fd: number;
  /** The address it listens on, with the port chosen when 0 was asked. */
  readonly addr: Deno.NetAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Closes the socket; idempotent. Accepts in flight reject with
   * `Deno.errors.Interrupted` once their cancellation has come back.
   */
  close(): void;
}

/** A connected TCP socket. */
export interface TcpConn extends Disposable {
  /**
   * The socket (a SOCKET on Windows, an fd on Linux) as a number, for
   * `port.read(conn.fd, …)` and `port.write(conn.fd, …)`; -1 once closed.
   */
  readonly fd: number;
  /** This end's address. */
  readonly localAddr: Deno.NetAddr;
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Shuts one direction, or both, down: after "write", the peer reads the
   * end of the stream once it has read what was sent.
   *
   * @param how "write" (the default), "read" or "both"
   * @throws {TypeError} if `how` is none of those
   * @throws {Deno.errors.BadResource} if the connection is closed
   * @throws {Deno.errors.NotConnected} if it is not connected
   */
  shutdown(how?: ShutdownHow): void;
  /**
   * Turns Nagle's algorithm off (`true`, the default) or on: small writes
   * are sent at once instead of being gathered.
   *
   * @param on whether to send without delay
   * @throws {TypeError} if `on` is not a boolean
   * @throws {Deno.errors.BadResource} if the connection is closed
   */
  setNoDelay(on?: boolean): void;
  /**
   * Closes the socket; idempotent. Reads and writes in flight reject with
   * `Deno.errors.Interrupted` once their cancellation has come back.
   */
  close(): void;
}
