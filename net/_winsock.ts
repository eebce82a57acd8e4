// Copyright 2026 the @evented/io authors. MIT license.
/**
 * TCP sockets over Winsock, driven either way:
 *
 * - by completions through the IOCP CompletionPort: AcceptEx and ConnectEx
 *   (through their extension pointers), WSARecv and WSASend;
 * - by readiness, with the afd Selector: nonblocking `accept`, `connect`
 *   (WSAEWOULDBLOCK: in progress; `finishConnect()` reads SO_ERROR),
 *   `recv`/`send` and `recvfrom`/`sendto`, each one call that never
 *   blocks (WSAEWOULDBLOCK is `0` or `null`, never an error);
 * - awaited: `accept()`, `read()`, `write()` and the streams are those
 *   calls again, waiting through the reactor (an afd Selector) when they
 *   would block (`_async_io.ts`).
 *
 * Every socket is overlapped (WSA_FLAG_OVERLAPPED), so that a port can
 * drive it, and nonblocking (FIONBIO), so that the readiness calls never
 * block; overlapped operations are not affected by the nonblocking mode.
 * None is inherited by child processes.
 *
 * Every socket holds one use of ws2_32 until it is closed. A socket is
 * associated with a port before its first operation through it (a Windows
 * handle belongs to one port at most); closing it makes every port forget
 * it, so a socket that later reuses its value is associated afresh. The
 * port's `read()`/`write()` find a connection here by its SOCKET value
 * ({@linkcode winsockStream}) and hand the operation to it.
 *
 * It must not know the IOCP engine itself: it runs AcceptEx and ConnectEx
 * through the {@linkcode OverlappedStarter} a port gives it.
 *
 * @module
 */

import { checkBuffer } from "../backends/shared/_checks.ts";
import { MAX_WIN32_IO } from "../ffi/kernel32.ts";
import { pointerValue } from "../ffi/_pointer.ts";
import { announceClose } from "../backends/shared/_close_hook.ts";
import type { Cancelled, OverlappedStarter, WinsockSockets } from "../backends/_port_sockets.ts";
import { checkCancelOptions } from "../backends/_port_checks.ts";
import { win32Error } from "../ffi/errors.ts";
import {
  acquireKernel32,
  ERROR_OPERATION_ABORTED,
  HANDLE_FLAG_INHERIT,
  type Kernel32,
  releaseKernel32,
} from "../ffi/kernel32.ts";
import {
  ACCEPTEX_ADDRESS_EXTRA,
  acquireWs2_32,
  AF_INET,
  AF_INET6,
  INT_SIZE,
  IPPROTO_TCP,
  releaseWs2_32,
  SD_BOTH,
  SD_RECEIVE,
  SD_SEND,
  SO_ERROR,
  SO_EXCLUSIVEADDRUSE,
  SO_KEEPALIVE,
  SO_UPDATE_ACCEPT_CONTEXT,
  SO_UPDATE_CONNECT_CONTEXT,
  SOCKADDR_STORAGE_SIZE,
  SOCKET_ERROR,
  SOCKET_SIZE,
  SOL_SOCKET,
  TCP_KEEPALIVE,
  TCP_KEEPCNT,
  TCP_KEEPINTVL,
  TCP_NODELAY,
  winsockErrorOf,
  winsockExtension,
  type Ws2_32,
  WSAECONNRESET,
  WSAEINTR,
  WSAENOTCONN,
  WSAESHUTDOWN,
  WSAEWOULDBLOCK,
} from "../ffi/ws2_32.ts";
import {
  decodeSockaddr,
  encodeSockaddr,
  formatAddress,
  SOCKADDR_IN6_SIZE,
  type SocketAddress,
  wildcardOf,
} from "../backends/shared/_address.ts";
import type {
  CancelOptions,
  KeepAliveOptions,
  ShutdownHow,
  TcpConn,
  TcpListener,
} from "../types/net.ts";
import { checkKeepAlive } from "./_options.ts";
import { AsyncIo, AsyncListener } from "./_async_io.ts";
import type { ReadyOptions } from "../types/async_fd.ts";
import { describe } from "../backends/shared/_describe.ts";
import {
  closeSocket,
  FAMILIES,
  isInvalidSocket,
  openSocket,
  option,
  optionLength,
  setIntOption,
  setNonblocking,
  type Socket,
  socketAddress,
  storage,
  storageLength,
} from "./_winsock_socket.ts";

/** What AcceptEx may write for each address (the largest, IPv6, plus its 16 bytes). */
const ACCEPT_ADDRESS_LENGTH = SOCKADDR_IN6_SIZE + ACCEPTEX_ADDRESS_EXTRA;

/** Connections whose reads and writes go through WSARecv/WSASend, by SOCKET value. */
const streams = new Map<number, WinsockConn>();

/**
 * The Windows socket code as the IOCP engine sees it (the engine never
 * imports this file: `_platform.ts` hands it over).
 *
 * @internal
 */
export const winsockSockets: WinsockSockets = {
  accept: (port, listener, options) => acceptWinsock(port, listener, options),
  connect: (port, target, signal) => connectWinsock(port, target, signal),
  isSocket: (key) => streams.has(key),
};

/**
 * The connection whose SOCKET has this value, for the port's `read()` and
 * `write()`.
 *
 * @param address the handle's value
 * @returns the connection, or undefined for any other handle
 */
export function winsockStream(address: number): WinsockConn | undefined {
  return streams.get(address);
}

/**
 * The error of a failed or cancelled socket operation: the signal's
 * reason, `Interrupted` if the port or the socket was closed while it was
 * in flight, else the Winsock error of the completion.
 */
function operationError(
  action: string,
  error: number,
  cancelled: Cancelled,
  signal: AbortSignal | undefined,
  socketClosed: boolean,
): unknown {
  if (error === ERROR_OPERATION_ABORTED && cancelled === "signal") return signal!.reason;
  if (error === ERROR_OPERATION_ABORTED && cancelled === "close") {
    return new Deno.errors.Interrupted(`${action}: the completion port was closed`);
  }
  if (socketClosed) return new Deno.errors.Interrupted(`${action}: the socket was closed`);
  return win32Error(action, winsockErrorOf(error));
}

/**
 * Opens a listening TCP socket.
 *
 * @param address the checked address
 * @param backlog the checked queue length
 * @returns the listener
 */
export function listenWinsock(address: SocketAddress, backlog: number): WinsockListener {
  const action = `Cannot listen on ${formatAddress(address)}`;
  const { ws, socket } = openSocket(action, address.ipv6);
  try {
    const error = setIntOption(ws, socket, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
    if (error !== 0) throw win32Error(action, error);
    const sockaddr = encodeSockaddr(address, FAMILIES);
    if (
      ws.bind(socket, sockaddr, sockaddr.length) === SOCKET_ERROR ||
      ws.listen(socket, backlog) === SOCKET_ERROR
    ) {
      throw win32Error(action, ws.WSAGetLastError());
    }
    const addr = socketAddress(ws, action, socket, "getsockname");
    return new WinsockListener(ws, socket, address.ipv6, addr);
  } catch (error) {
    closeSocket(ws, socket);
    throw error;
  }
}

/**
 * Starts a nonblocking connect to `target`: the connection is returned at
 * once, usually still in progress (WSAEWOULDBLOCK): wait for WRITABLE,
 * then call `finishConnect()`.
 *
 * @param target the checked address
 * @returns the connection
 */
export function startConnectWinsock(target: SocketAddress): TcpConn {
  const where = formatAddress(target);
  const { ws, socket } = openSocket(`Cannot open a socket to connect to ${where}`, target.ipv6);
  let connecting = false;
  const sockaddr = encodeSockaddr(target, FAMILIES);
  if (ws.connect(socket, sockaddr, sockaddr.length) === SOCKET_ERROR) {
    const error = ws.WSAGetLastError();
    if (error !== WSAEWOULDBLOCK) {
      closeSocket(ws, socket);
      throw win32Error(`Cannot connect socket ${pointerValue(socket)} to ${where}`, error);
    }
    connecting = true;
  }
  const remote: Deno.NetAddr = { transport: "tcp", hostname: target.hostname, port: target.port };
  return WinsockConn.adopt(ws, socket, remote, connecting);
}

/** The answer of an accept whose connection was reset before it was taken: try again. */
const RETRY = Symbol("retry");

/** A listening socket. */
export class WinsockListener implements TcpListener {
  #ws: Ws2_32;
  /** For SetHandleInformation on the sockets accept() takes (they would be inheritable). */
  #k32: Kernel32;
  #socket: Socket;
  #fd: number;
  #ipv6: boolean;
  #addr: Deno.NetAddr;
  #closed = false;
  #async: AsyncListener<TcpConn> = new AsyncListener(this);

  constructor(ws: Ws2_32, socket: Socket, ipv6: boolean, addr: Deno.NetAddr) {
    this.#k32 = acquireKernel32();
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = pointerValue(socket);
    this.#ipv6 = ipv6;
    this.#addr = addr;
  }

  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  get addr(): Deno.NetAddr {
    return { ...this.#addr };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Accepts the next connection through `port` (AcceptEx into a socket
   * made for it, then SO_UPDATE_ACCEPT_CONTEXT).
   *
   * @internal
   */
  async acceptThrough(
    port: OverlappedStarter,
    signal: AbortSignal | undefined,
  ): Promise<WinsockConn> {
    const action = `Cannot accept on ${formatAddress(this.#addr)}`;
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource(`${action}: the listener is closed`);
      port.ensureAssociated(action, this.#socket);
      signal?.throwIfAborted();
      const accepted = await this.#acceptOnce(port, action, signal);
      if (accepted !== RETRY) return accepted;
    }
  }

  accept(): Promise<TcpConn> {
    return this.#async.accept();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TcpConn> {
    return this.#async.connections();
  }

  tryAccept(): TcpConn | null {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        `Cannot accept on ${formatAddress(this.#addr)}: the listener is closed`,
      );
    }
    const ws = this.#ws;
    for (;;) {
      storageLength[0] = SOCKADDR_STORAGE_SIZE;
      const socket = ws.accept(this.#socket, storage, storageLength);
      if (isInvalidSocket(socket)) {
        const error = ws.WSAGetLastError();
        if (error === WSAEWOULDBLOCK) return null;
        // A connection reset before it was taken is gone: take the next one.
        if (error === WSAECONNRESET || error === WSAEINTR) continue;
        throw win32Error(
          `Cannot accept on socket ${this.#fd} at ${formatAddress(this.#addr)}`,
          error,
        );
      }
      acquireWs2_32(); // the connection's own use
      const action = `Cannot accept on socket ${this.#fd} at ${formatAddress(this.#addr)}`;
      try {
        // A socket from accept() is inheritable, and nonblocking only like its listener.
        if (!this.#k32.SetHandleInformation(socket, HANDLE_FLAG_INHERIT, 0)) {
          throw win32Error(action, this.#k32.GetLastError());
        }
        const error = setNonblocking(ws, socket);
        if (error !== 0) throw win32Error(action, error);
      } catch (error) {
        closeSocket(ws, socket);
        throw error;
      }
      const remote = decodeSockaddr(storage, storageLength[0], FAMILIES);
      return WinsockConn.adopt(ws, socket, remote, false);
    }
  }

  #acceptOnce(
    port: OverlappedStarter,
    action: string,
    signal: AbortSignal | undefined,
  ): Promise<WinsockConn | typeof RETRY> {
    const { ws, socket } = openSocket(action, this.#ipv6);
    let acceptEx;
    try {
      port.ensureAssociated(action, socket);
      acceptEx = winsockExtension("AcceptEx", this.#ipv6 ? AF_INET6 : AF_INET, this.#socket);
    } catch (error) {
      closeSocket(ws, socket);
      throw error;
    }
    const listener = this.#socket;
    const addresses = new Uint8Array(2 * ACCEPT_ADDRESS_LENGTH);
    // Written by the kernel after this call returns: off the V8 heap (a small array's bytes may move).
    const received = new Uint32Array(new ArrayBuffer(4));
    const fail = (error: number, cancelled: Cancelled): typeof RETRY => {
      closeSocket(ws, socket);
      const wsa = winsockErrorOf(error);
      // A connection reset before it was accepted is gone: wait for the next
      // one, unless this accept was being cancelled anyway.
      if (wsa === WSAECONNRESET && !this.#closed) {
        if (cancelled === undefined) return RETRY;
        throw operationError(action, ERROR_OPERATION_ABORTED, cancelled, signal, false);
      }
      throw operationError(action, wsa, cancelled, signal, this.#closed);
    };
    return port.start(
      listener,
      action,
      [addresses, received],
      signal,
      (overlapped) =>
        acceptEx.call(
            listener,
            socket,
            addresses,
            0,
            ACCEPT_ADDRESS_LENGTH,
            ACCEPT_ADDRESS_LENGTH,
            received,
            overlapped,
          )
          ? 0
          : ws.WSAGetLastError(),
      (_bytes, error, cancelled) => {
        if (error !== 0) return fail(error, cancelled);
        const context = new BigUint64Array([Deno.UnsafePointer.value(listener)]);
        if (
          ws.setsockopt(socket, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, context, SOCKET_SIZE) ===
            SOCKET_ERROR
        ) {
          const code = ws.WSAGetLastError();
          closeSocket(ws, socket);
          throw win32Error(action, code);
        }
        return WinsockConn.open(ws, socket, action);
      },
      (error) => fail(error, undefined),
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    announceClose(this.#fd); // first: what is in flight on it is cancelled as a close
    this.#ws.closesocket(this.#socket);
    releaseKernel32();
    releaseWs2_32();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Accepts a connection on `listener` through `port`.
 *
 * @param port the port
 * @param listener a listener from `listenTcp()`
 * @param options an abort signal
 * @returns the connection
 */
export function acceptWinsock(
  port: OverlappedStarter,
  listener: unknown,
  options: CancelOptions | undefined,
): Promise<TcpConn> {
  try {
    const action = "Cannot accept";
    if (!(listener instanceof WinsockListener)) {
      throw new TypeError(
        `${action}: listener must be a TcpListener from listenTcp(), got ${describe(listener)}`,
      );
    }
    return listener.acceptThrough(port, checkCancelOptions(action, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Connects to `address` through `port`: a socket bound to the wildcard of
 * the address's family, ConnectEx, then SO_UPDATE_CONNECT_CONTEXT.
 *
 * @param port the port
 * @param target the checked address
 * @param signal an abort signal, checked (and not aborted)
 * @returns the connection
 */
export async function connectWinsock(
  port: OverlappedStarter,
  target: SocketAddress,
  signal: AbortSignal | undefined,
): Promise<TcpConn> {
  const action = `Cannot connect to ${formatAddress(target)}`;
  const { ws, socket } = openSocket(action, target.ipv6);
  let connectEx;
  try {
    const wildcard = encodeSockaddr(wildcardOf(target), FAMILIES);
    if (ws.bind(socket, wildcard, wildcard.length) === SOCKET_ERROR) {
      throw win32Error(action, ws.WSAGetLastError());
    }
    port.ensureAssociated(action, socket);
    connectEx = winsockExtension("ConnectEx", target.ipv6 ? AF_INET6 : AF_INET, socket);
  } catch (error) {
    closeSocket(ws, socket);
    throw error;
  }
  const sockaddr = encodeSockaddr(target, FAMILIES);
  const fail = (error: number, cancelled: Cancelled): never => {
    closeSocket(ws, socket);
    throw operationError(action, error, cancelled, signal, false);
  };
  return await port.start(
    socket,
    action,
    sockaddr,
    signal,
    (overlapped) =>
      connectEx.call(socket, sockaddr, sockaddr.length, null, 0, null, overlapped)
        ? 0
        : ws.WSAGetLastError(),
    (_bytes, error, cancelled) => {
      if (error !== 0) return fail(error, cancelled);
      if (ws.setsockopt(socket, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, null, 0) === SOCKET_ERROR) {
        const code = ws.WSAGetLastError();
        closeSocket(ws, socket);
        throw win32Error(action, code);
      }
      return WinsockConn.open(ws, socket, action);
    },
    (error) => fail(error, undefined),
  );
}

/** A connected socket, associated with the port that made it. */
export class WinsockConn implements TcpConn {
  #ws: Ws2_32;
  #socket: Socket;
  #fd: number;
  /** Known when it was made by a port; else read when first asked for. */
  #localAddr: Deno.NetAddr | undefined;
  #remoteAddr: Deno.NetAddr;
  #closed = false;
  /** Whether a connect is in progress (finishConnect() has not seen it end). */
  #connecting: boolean;
  /** What the connect met, once finishConnect() has seen it fail. */
  #connectError: Error | undefined;
  #io: AsyncIo = new AsyncIo(this, {
    noun: "connection",
    closeWrite: () => this.shutdown("write"),
  });

  private constructor(
    ws: Ws2_32,
    socket: Socket,
    localAddr: Deno.NetAddr | undefined,
    remoteAddr: Deno.NetAddr,
    connecting: boolean,
  ) {
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = pointerValue(socket);
    this.#localAddr = localAddr;
    this.#remoteAddr = remoteAddr;
    this.#connecting = connecting;
    streams.set(this.#fd, this);
  }

  /**
   * Wraps a socket a port just accepted or connected (it holds a use of
   * ws2_32, which the connection takes over; on failure it is closed).
   *
   * @internal
   */
  static open(ws: Ws2_32, socket: Socket, action: string): WinsockConn {
    try {
      const local = socketAddress(ws, action, socket, "getsockname");
      const remote = socketAddress(ws, action, socket, "getpeername");
      return new WinsockConn(ws, socket, local, remote, false);
    } catch (error) {
      closeSocket(ws, socket);
      throw error;
    }
  }

  /**
   * Wraps a nonblocking socket that was accepted, or is connecting (it
   * holds a use of ws2_32, which the connection takes over).
   *
   * @internal
   */
  static adopt(
    ws: Ws2_32,
    socket: Socket,
    remote: Deno.NetAddr,
    connecting: boolean,
  ): WinsockConn {
    return new WinsockConn(ws, socket, undefined, remote, connecting);
  }

  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  get localAddr(): Deno.NetAddr {
    if (this.#localAddr === undefined) {
      const action = `Cannot read the local address of socket ${this.#fd}`;
      this.#checkOpen(action);
      this.#localAddr = socketAddress(this.#ws, action, this.#socket, "getsockname");
    }
    return { ...this.#localAddr };
  }

  get remoteAddr(): Deno.NetAddr {
    return { ...this.#remoteAddr };
  }

  get closed(): boolean {
    return this.#closed;
  }

  tryRead(buffer: Uint8Array): number | null {
    if (!(buffer instanceof Uint8Array)) checkBuffer("Cannot read", buffer);
    if (this.#closed) this.#checkOpen(`Cannot read from socket ${this.#fd}`);
    const length = buffer.length;
    if (length === 0) return 0;
    const ws = this.#ws;
    const n = ws.recv(this.#socket, buffer, length > MAX_WIN32_IO ? MAX_WIN32_IO : length, 0);
    if (n > 0) return n;
    if (n === 0) return null;
    const error = ws.WSAGetLastError();
    if (error === WSAEWOULDBLOCK) return 0;
    // Reading was shut down here: the end of the stream, as recv(2) has it.
    if (error === WSAESHUTDOWN) return null;
    throw win32Error(`Cannot read from socket ${this.#fd}`, error);
  }

  tryWrite(buffer: Uint8Array): number {
    if (!(buffer instanceof Uint8Array)) checkBuffer("Cannot write", buffer);
    if (this.#closed) this.#checkOpen(`Cannot write to socket ${this.#fd}`);
    const length = buffer.length;
    if (length === 0) return 0;
    const ws = this.#ws;
    const n = ws.send(this.#socket, buffer, length > MAX_WIN32_IO ? MAX_WIN32_IO : length, 0);
    if (n >= 0) return n;
    const error = ws.WSAGetLastError();
    if (error === WSAEWOULDBLOCK) return 0;
    throw win32Error(`Cannot write to socket ${this.#fd}`, error);
  }

  finishConnect(): void {
    const where = formatAddress(this.#remoteAddr);
    this.#checkOpen(`Cannot finish connecting socket ${this.#fd} to ${where}`);
    if (this.#connectError !== undefined) throw this.#connectError;
    if (!this.#connecting) return;
    const ws = this.#ws;
    option[0] = 0;
    optionLength[0] = INT_SIZE;
    if (ws.getsockopt(this.#socket, SOL_SOCKET, SO_ERROR, option, optionLength) === SOCKET_ERROR) {
      throw win32Error(`Cannot read SO_ERROR of socket ${this.#fd}`, ws.WSAGetLastError());
    }
    const failure = option[0];
    if (failure !== 0) {
      this.#connecting = false;
      this.#connectError = win32Error(`Cannot connect socket ${this.#fd} to ${where}`, failure);
      throw this.#connectError;
    }
    // No error yet: connected, unless the connect is still under way.
    storageLength[0] = SOCKADDR_STORAGE_SIZE;
    if (ws.getpeername(this.#socket, storage, storageLength) === SOCKET_ERROR) {
      const error = ws.WSAGetLastError();
      if (error === WSAENOTCONN) {
        throw new Deno.errors.WouldBlock(
          `Cannot finish connecting socket ${this.#fd} to ${where}: the connect is still in ` +
            `progress (wait until the socket is WRITABLE)`,
        );
      }
      throw win32Error(`Cannot read the peer address of socket ${this.#fd}`, error);
    }
    this.#connecting = false;
  }

  #checkOpen(action: string): void {
    if (this.#closed) throw new Deno.errors.BadResource(`${action}: the connection is closed`);
  }

  shutdown(how: ShutdownHow = "write"): void {
    const action = `Cannot shut down socket ${this.#fd}`;
    const code = how === "write"
      ? SD_SEND
      : how === "read"
      ? SD_RECEIVE
      : how === "both"
      ? SD_BOTH
      : -1;
    if (code < 0) {
      throw new TypeError(`${action}: how must be "read", "write" or "both", got ${describe(how)}`);
    }
    this.#checkOpen(action);
    if (this.#ws.shutdown(this.#socket, code) === SOCKET_ERROR) {
      throw win32Error(action, this.#ws.WSAGetLastError());
    }
  }

  closeWrite(): Promise<void> {
    try {
      this.shutdown("write");
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
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

  setNoDelay(on = true): void {
    const action = `Cannot set TCP_NODELAY on socket ${this.#fd}`;
    if (typeof on !== "boolean") {
      throw new TypeError(`${action}: on must be a boolean, got ${describe(on)}`);
    }
    this.#checkOpen(action);
    const error = setIntOption(this.#ws, this.#socket, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
    if (error !== 0) throw win32Error(action, error);
  }

  setKeepAlive(on = true, options?: KeepAliveOptions): void {
    const action = `Cannot set SO_KEEPALIVE on socket ${this.#fd}`;
    const { idleSeconds, intervalSeconds, count } = checkKeepAlive(action, on, options);
    this.#checkOpen(action);
    const set = (level: number, name: number, optionName: string, value: number) => {
      const error = setIntOption(this.#ws, this.#socket, level, name, value);
      if (error !== 0) throw win32Error(`Cannot set ${optionName} on socket ${this.#fd}`, error);
    };
    if (idleSeconds !== undefined) set(IPPROTO_TCP, TCP_KEEPALIVE, "TCP_KEEPALIVE", idleSeconds);
    if (intervalSeconds !== undefined) {
      set(IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", intervalSeconds);
    }
    if (count !== undefined) set(IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", count);
    set(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", on ? 1 : 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    streams.delete(this.#fd);
    closeSocket(this.#ws, this.#socket);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
