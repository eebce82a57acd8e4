// Copyright 2026 the @evented/io authors. MIT license.
/**
 * TCP sockets over Winsock, driven by completions through the IOCP
 * CompletionPort: overlapped sockets (WSASocketW), AcceptEx and ConnectEx
 * (through their extension pointers), WSARecv and WSASend.
 *
 * Every socket holds one use of ws2_32 until it is closed. A socket is
 * associated with the port that accepted or connected it (a Windows handle
 * belongs to one port at most), before its first operation; closing it
 * makes that port forget it, so a socket that later reuses its value is
 * associated afresh. The port's `read()`/`write()` find a connection here
 * by its SOCKET value ({@linkcode winsockStream}) and hand the operation to
 * it.
 *
 * @module
 */

import type { IocpPort } from "../backends/iocp.ts";
import { describe } from "../backends/_events.ts";
import { win32Error } from "../ffi/errors.ts";
import { ERROR_OPERATION_ABORTED, OVERLAPPED_SIZE } from "../ffi/kernel32.ts";
import {
  ACCEPTEX_ADDRESS_EXTRA,
  acquireWs2_32,
  AF_INET,
  AF_INET6,
  INT_SIZE,
  INVALID_SOCKET,
  IPPROTO_TCP,
  releaseWs2_32,
  SD_BOTH,
  SD_RECEIVE,
  SD_SEND,
  SO_EXCLUSIVEADDRUSE,
  SO_UPDATE_ACCEPT_CONTEXT,
  SO_UPDATE_CONNECT_CONTEXT,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  SOCKET_ERROR,
  SOCKET_SIZE,
  SOL_SOCKET,
  TCP_NODELAY,
  winsockErrorOf,
  winsockExtension,
  type Ws2_32,
  WSA_FLAG_NO_HANDLE_INHERIT,
  WSA_FLAG_OVERLAPPED,
  WSABUF_BUF_OFFSET,
  WSABUF_LEN_OFFSET,
  WSABUF_SIZE,
  WSAECONNRESET,
} from "../ffi/ws2_32.ts";
import {
  type AddressFamilies,
  decodeSockaddr,
  encodeSockaddr,
  formatAddress,
  parseAddress,
  SOCKADDR_IN6_SIZE,
  type SocketAddress,
  wildcardOf,
} from "./_address.ts";
import type { CancelOptions, ShutdownHow, TcpConn, TcpListener } from "./_types.ts";

const FAMILIES: AddressFamilies = { inet: AF_INET, inet6: AF_INET6 };
/** What AcceptEx may write for each address (the largest, IPv6, plus its 16 bytes). */
const ACCEPT_ADDRESS_LENGTH = SOCKADDR_IN6_SIZE + ACCEPTEX_ADDRESS_EXTRA;

/** How a packet's operation was cancelled by the port, if it was. */
type Cancelled = "signal" | "close" | undefined;

/** Connections whose reads and writes go through WSARecv/WSASend, by SOCKET value. */
const streams = new Map<number, WinsockConn>();

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

/** A SOCKET: its value as a pointer (for calls) and as a number (its `fd`). */
type Socket = Deno.PointerObject;

/** The value of a SOCKET as a number (handles are small). */
function numberOf(socket: Socket): number {
  return Number(Deno.UnsafePointer.value(socket));
}

/**
 * Opens an overlapped, non-inheritable TCP socket, with a use of ws2_32
 * that `closeSocket()` gives back (given back at once if the open fails).
 */
function openSocket(action: string, ipv6: boolean): { ws: Ws2_32; socket: Socket } {
  const ws = acquireWs2_32();
  const socket = ws.WSASocketW(
    ipv6 ? AF_INET6 : AF_INET,
    SOCK_STREAM,
    IPPROTO_TCP,
    null,
    0,
    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT,
  );
  if (socket === null || Deno.UnsafePointer.value(socket) === INVALID_SOCKET) {
    const error = win32Error(action, ws.WSAGetLastError());
    releaseWs2_32();
    throw error;
  }
  return { ws, socket };
}

/** Closes a socket, makes `port` forget it, and gives its use of ws2_32 back. */
function closeSocket(ws: Ws2_32, socket: Socket, port: IocpPort | undefined): void {
  ws.closesocket(socket);
  port?.forgetHandle(socket);
  releaseWs2_32();
}

/** Calls setsockopt with an int value; returns 0 or the Winsock error. */
function setIntOption(
  ws: Ws2_32,
  socket: Socket,
  level: number,
  name: number,
  value: number,
): number {
  const option = new Int32Array([value]);
  return ws.setsockopt(socket, level, name, option, INT_SIZE) === SOCKET_ERROR
    ? ws.WSAGetLastError()
    : 0;
}

/** getsockname or getpeername, decoded. */
function socketAddress(
  ws: Ws2_32,
  action: string,
  socket: Socket,
  which: "getsockname" | "getpeername",
): Deno.NetAddr {
  const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const length = new Int32Array([SOCKADDR_STORAGE_SIZE]);
  if (ws[which](socket, storage, length) === SOCKET_ERROR) {
    throw win32Error(action, ws.WSAGetLastError());
  }
  return decodeSockaddr(storage, length[0], FAMILIES);
}

/** Checks `{ signal? }`; returns the signal. */
function checkCancelOptions(action: string, options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
  }
  const signal = (options as CancelOptions).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${action}: signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
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
    closeSocket(ws, socket, undefined);
    throw error;
  }
}

/**
 * The error of a readiness-driven call on Windows, where sockets are driven
 * by completions until the AFD Selector exists.
 *
 * @param action what failed
 * @param instead the CompletionPort method to use
 * @returns the error, to be thrown
 */
export function readinessNotSupported(action: string, instead: string): Error {
  return new Deno.errors.NotSupported(
    `${action} on windows: readiness-driven sockets are not supported on windows yet ` +
      `(use a CompletionPort's ${instead})`,
  );
}

/** The answer of an accept whose connection was reset before it was taken: try again. */
const RETRY = Symbol("retry");

/** A listening socket. */
export class WinsockListener implements TcpListener {
  #ws: Ws2_32;
  #socket: Socket;
  #fd: number;
  #ipv6: boolean;
  #addr: Deno.NetAddr;
  #closed = false;
  /** The ports it was associated with (one, as Windows allows no more). */
  #ports = new Set<IocpPort>();

  constructor(ws: Ws2_32, socket: Socket, ipv6: boolean, addr: Deno.NetAddr) {
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = numberOf(socket);
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
  async acceptThrough(port: IocpPort, signal: AbortSignal | undefined): Promise<WinsockConn> {
    const action = `Cannot accept on ${formatAddress(this.#addr)}`;
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource(`${action}: the listener is closed`);
      port.ensureAssociated(action, this.#socket);
      this.#ports.add(port);
      signal?.throwIfAborted();
      const accepted = await this.#acceptOnce(port, action, signal);
      if (accepted !== RETRY) return accepted;
    }
  }

  accept(): TcpConn | null {
    throw readinessNotSupported(`Cannot accept on ${formatAddress(this.#addr)}`, "accept()");
  }

  #acceptOnce(
    port: IocpPort,
    action: string,
    signal: AbortSignal | undefined,
  ): Promise<WinsockConn | typeof RETRY> {
    const { ws, socket } = openSocket(action, this.#ipv6);
    let acceptEx;
    try {
      port.ensureAssociated(action, socket);
      acceptEx = winsockExtension("AcceptEx", this.#ipv6 ? AF_INET6 : AF_INET, this.#socket);
    } catch (error) {
      closeSocket(ws, socket, port);
      throw error;
    }
    const listener = this.#socket;
    const addresses = new Uint8Array(2 * ACCEPT_ADDRESS_LENGTH);
    const received = new Uint32Array(1);
    const fail = (error: number, cancelled: Cancelled): typeof RETRY => {
      closeSocket(ws, socket, port);
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
      new Uint8Array(OVERLAPPED_SIZE),
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
          closeSocket(ws, socket, port);
          throw win32Error(action, code);
        }
        return WinsockConn.open(ws, socket, port, action);
      },
      (error) => fail(error, undefined),
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ws.closesocket(this.#socket);
    for (const port of this.#ports) port.forgetHandle(this.#socket);
    this.#ports.clear();
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
  port: IocpPort,
  listener: TcpListener,
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
 * @param address `{ hostname, port }`, unchecked
 * @param options an abort signal
 * @returns the connection
 */
export async function connectWinsock(
  port: IocpPort,
  address: unknown,
  options: CancelOptions | undefined,
): Promise<TcpConn> {
  if (typeof address !== "object" || address === null) {
    throw new TypeError(
      `Cannot connect: address must be an object { hostname, port }, got ${describe(address)}`,
    );
  }
  const { hostname = "127.0.0.1", port: portNumber } = address as Record<string, unknown>;
  const target = parseAddress("Cannot connect to", hostname, portNumber);
  const action = `Cannot connect to ${formatAddress(target)}`;
  const signal = checkCancelOptions(action, options);
  if (port.closed) throw new Deno.errors.BadResource(`${action}: the completion port is closed`);
  signal?.throwIfAborted();
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
    closeSocket(ws, socket, port);
    throw error;
  }
  const sockaddr = encodeSockaddr(target, FAMILIES);
  const fail = (error: number, cancelled: Cancelled): never => {
    closeSocket(ws, socket, port);
    throw operationError(action, error, cancelled, signal, false);
  };
  return await port.start(
    socket,
    new Uint8Array(OVERLAPPED_SIZE),
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
        closeSocket(ws, socket, port);
        throw win32Error(action, code);
      }
      return WinsockConn.open(ws, socket, port, action);
    },
    (error) => fail(error, undefined),
  );
}

/** A connected socket, associated with the port that made it. */
export class WinsockConn implements TcpConn {
  #ws: Ws2_32;
  #socket: Socket;
  #fd: number;
  #port: IocpPort;
  #localAddr: Deno.NetAddr;
  #remoteAddr: Deno.NetAddr;
  #closed = false;

  private constructor(
    ws: Ws2_32,
    socket: Socket,
    port: IocpPort,
    localAddr: Deno.NetAddr,
    remoteAddr: Deno.NetAddr,
  ) {
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = numberOf(socket);
    this.#port = port;
    this.#localAddr = localAddr;
    this.#remoteAddr = remoteAddr;
    streams.set(this.#fd, this);
  }

  /**
   * Wraps a socket just accepted or connected (it holds a use of ws2_32,
   * which the connection takes over; on failure it is closed).
   *
   * @internal
   */
  static open(ws: Ws2_32, socket: Socket, port: IocpPort, action: string): WinsockConn {
    try {
      const local = socketAddress(ws, action, socket, "getsockname");
      const remote = socketAddress(ws, action, socket, "getpeername");
      return new WinsockConn(ws, socket, port, local, remote);
    } catch (error) {
      closeSocket(ws, socket, port);
      throw error;
    }
  }

  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  get localAddr(): Deno.NetAddr {
    return { ...this.#localAddr };
  }

  get remoteAddr(): Deno.NetAddr {
    return { ...this.#remoteAddr };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A WSABUF over `buffer`'s first `length` bytes, followed by a DWORD of flags. */
  #wsabuf(buffer: Uint8Array, length: number): Uint8Array {
    const wsabuf = new Uint8Array(WSABUF_SIZE + INT_SIZE);
    const view = new DataView(wsabuf.buffer);
    view.setUint32(WSABUF_LEN_OFFSET, length, true);
    view.setBigUint64(
      WSABUF_BUF_OFFSET,
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)),
      true,
    );
    return wsabuf;
  }

  /**
   * Receives into `buffer` through `port` (WSARecv): the bytes, or `null`
   * at the end of the stream. Called by the port's `read()`, which has
   * checked everything and made the OVERLAPPED.
   *
   * @internal
   */
  read(
    port: IocpPort,
    overlapped: Uint8Array,
    buffer: Uint8Array,
    length: number,
    signal: AbortSignal | undefined,
  ): Promise<number | null> {
    const action = `Cannot read from socket ${this.#fd}`;
    const ws = this.#ws;
    const socket = this.#socket;
    const wsabuf = this.#wsabuf(buffer, length);
    const flags = wsabuf.subarray(WSABUF_SIZE);
    const outcome = (bytes: number, error: number, cancelled: Cancelled): number | null => {
      if (error === 0) return bytes === 0 ? null : bytes;
      throw operationError(action, error, cancelled, signal, this.#closed);
    };
    return port.start(
      socket,
      overlapped,
      [buffer, wsabuf],
      signal,
      (ov) => ws.WSARecv(socket, wsabuf, 1, null, flags, ov, null) === 0 ? 0 : ws.WSAGetLastError(),
      outcome,
      (error) => outcome(0, error, undefined),
    );
  }

  /**
   * Sends `buffer`'s first `length` bytes through `port` (WSASend). Called
   * by the port's `write()`, which has checked everything and made the
   * OVERLAPPED.
   *
   * @internal
   */
  write(
    port: IocpPort,
    overlapped: Uint8Array,
    buffer: Uint8Array,
    length: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const action = `Cannot write to socket ${this.#fd}`;
    const ws = this.#ws;
    const socket = this.#socket;
    const wsabuf = this.#wsabuf(buffer, length);
    const outcome = (bytes: number, error: number, cancelled: Cancelled): number => {
      if (error === 0) return bytes;
      throw operationError(action, error, cancelled, signal, this.#closed);
    };
    return port.start(
      socket,
      overlapped,
      [buffer, wsabuf],
      signal,
      (ov) => ws.WSASend(socket, wsabuf, 1, null, 0, ov, null) === 0 ? 0 : ws.WSAGetLastError(),
      outcome,
      (error) => outcome(0, error, undefined),
    );
  }

  tryRead(_buffer: Uint8Array): number | null {
    throw readinessNotSupported(`Cannot read from socket ${this.#fd}`, "read()");
  }

  tryWrite(_buffer: Uint8Array): number {
    throw readinessNotSupported(`Cannot write to socket ${this.#fd}`, "write()");
  }

  finishConnect(): void {
    // A connection from a CompletionPort is complete when it is handed out.
    throw readinessNotSupported(`Cannot finish connecting socket ${this.#fd}`, "connect()");
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

  setNoDelay(on = true): void {
    const action = `Cannot set TCP_NODELAY on socket ${this.#fd}`;
    if (typeof on !== "boolean") {
      throw new TypeError(`${action}: on must be a boolean, got ${describe(on)}`);
    }
    this.#checkOpen(action);
    const error = setIntOption(this.#ws, this.#socket, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
    if (error !== 0) throw win32Error(action, error);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    streams.delete(this.#fd);
    closeSocket(this.#ws, this.#socket, this.#port);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
