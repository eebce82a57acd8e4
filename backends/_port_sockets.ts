// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What a CompletionPort's engines and the sockets see of each other, as
 * two small interfaces, so that neither layer imports the other's files:
 *
 * - {@linkcode PosixSockets}: what the Linux engines need of the socket
 *   layer to accept and connect (recognise a listener, open a socket,
 *   encode an address, wrap an fd as a connection). `net/_posix.ts`
 *   implements it; the one OS switch (`_platform.ts`) hands it to them.
 * - {@linkcode OverlappedStarter}: what the Windows socket code needs of
 *   the IOCP engine to run AcceptEx and ConnectEx through a port. The IOCP
 *   port implements it; `net/_winsock.ts` uses it, and
 *   {@linkcode WinsockSockets} is what the engine needs of that code.
 *
 * Neither knows a kernel, nor a socket class.
 *
 * @module
 */

import type { SocketAddress } from "./shared/_address.ts";
import type { CancelOptions, TcpConn } from "../types/net.ts";
import type { UnixConn } from "../types/unix.ts";

/**
 * A listener of this module (TCP, or Unix on Linux), as a Linux engine
 * accepts on it.
 *
 * @internal
 */
export interface PortListener {
  /** Its fd (-1 once closed). */
  readonly fd: number;
  /** Whether it is closed. */
  readonly closed: boolean;
  /** Its address, as messages name it. */
  readonly where: string;
  /** A connection waiting, accepted now, or null (the epoll engine's try). */
  tryAccept(): TcpConn | UnixConn | null;
  /** Wraps an fd the kernel accepted, with the peer's sockaddr as the kernel wrote it. */
  adoptAccepted(fd: number, sockaddr: Uint8Array, length: number): TcpConn | UnixConn;
}

/**
 * What the Linux engines need of the socket layer.
 *
 * @internal
 */
export interface PosixSockets {
  /** `value` as a listener of this module, or undefined if it is none. */
  listenerOf(value: unknown): PortListener | undefined;
  /** A nonblocking, close-on-exec stream socket of `target`'s family, to connect. */
  openStream(target: SocketAddress): number;
  /** `target` as a `struct sockaddr`. */
  sockaddrOf(target: SocketAddress): Uint8Array;
  /** Wraps a connected fd as the module's connection (it takes the fd over). */
  adoptConnected(fd: number, remote: Deno.NetAddr): TcpConn;
}

/** How an operation was cancelled by the port, as a call's `finish` is told. */
export type Cancelled = "signal" | "close" | undefined;

/**
 * What the Windows socket code needs of a port to run its own overlapped
 * calls (AcceptEx, ConnectEx) through it.
 *
 * @internal
 */
export interface OverlappedStarter {
  /** Whether the port is closed. */
  readonly closed: boolean;
  /** Associates `handle` with the port (key 0) unless it is associated already. */
  ensureAssociated(action: string, handle: Deno.PointerValue): void;
  /**
   * Starts an overlapped call through the port: `call(overlapped)` returns 0
   * (or ERROR_IO_PENDING) when its packet will come, else the error it met;
   * `finish` turns the packet into the outcome, `failedAtOnce` an error at
   * once; `keep` stays referenced until the packet is back.
   */
  start<R>(
    handle: Deno.PointerValue,
    action: string,
    keep: unknown,
    signal: AbortSignal | undefined,
    call: (overlapped: Deno.PointerValue) => number,
    finish: (bytes: number, error: number, cancelled: Cancelled) => R,
    failedAtOnce: (error: number) => R,
  ): Promise<R>;
}

/**
 * What the IOCP engine needs of the Windows socket code.
 *
 * @internal
 */
export interface WinsockSockets {
  /** Accepts on `listener` through `port` (AcceptEx); checks the listener and the options. */
  accept(
    port: OverlappedStarter,
    listener: unknown,
    options: CancelOptions | undefined,
  ): Promise<TcpConn>;
  /** Connects to `target` through `port` (ConnectEx). */
  connect(
    port: OverlappedStarter,
    target: SocketAddress,
    signal: AbortSignal | undefined,
  ): Promise<TcpConn>;
  /** Whether the handle `key` is a connection of this module (read with WSARecv/WSASend). */
  isSocket(key: number): boolean;
}
