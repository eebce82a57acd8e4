// Copyright 2026 the @evented/io authors. MIT license.
/**
 * TCP and UDP sockets over Winsock, driven either way:
 *
 * - by completions through the IOCP CompletionPort: AcceptEx and ConnectEx
 *   (through their extension pointers), WSARecv and WSASend;
 * - by readiness, with the afd Selector: nonblocking `accept`, `connect`
 *   (WSAEWOULDBLOCK: in progress; `finishConnect()` reads SO_ERROR),
 *   `recv`/`send` and `recvfrom`/`sendto`, each one call that never
 *   blocks (WSAEWOULDBLOCK is `0` or `null`, never an error).
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
 * @module
 */

import { forgetClosedHandle, type IocpPort } from "../backends/iocp.ts";
import { describe } from "../backends/_events.ts";
import { checkCancelOptions } from "../backends/_completion.ts";
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
  FIONBIO,
  INT_SIZE,
  INVALID_SOCKET,
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_MREQ_INTERFACE_OFFSET,
  IP_MREQ_SIZE,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV6_ADD_MEMBERSHIP,
  IPV6_DROP_MEMBERSHIP,
  IPV6_MREQ_INTERFACE_OFFSET,
  IPV6_MREQ_SIZE,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_LOOP,
  IPV6_UNICAST_HOPS,
  IPV6_V6ONLY,
  releaseWs2_32,
  SD_BOTH,
  SD_RECEIVE,
  SD_SEND,
  SIO_UDP_CONNRESET,
  SO_BROADCAST,
  SO_ERROR,
  SO_EXCLUSIVEADDRUSE,
  SO_KEEPALIVE,
  SO_UPDATE_ACCEPT_CONTEXT,
  SO_UPDATE_CONNECT_CONTEXT,
  SOCK_DGRAM,
  SOCK_STREAM,
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
  WSA_FLAG_NO_HANDLE_INHERIT,
  WSA_FLAG_OVERLAPPED,
  WSAECONNRESET,
  WSAEINTR,
  WSAEMSGSIZE,
  WSAENOTCONN,
  WSAESHUTDOWN,
  WSAEWOULDBLOCK,
} from "../ffi/ws2_32.ts";
import {
  type AddressFamilies,
  decodeSockaddr,
  encodeSockaddr,
  formatAddress,
  SOCKADDR_IN6_SIZE,
  type SocketAddress,
  UdpDestinations,
  wildcardOf,
} from "./_address.ts";
import {
  checkFlag,
  checkKeepAlive,
  checkTtl,
  encodeMembership,
  type Multicast,
  parseMulticast,
} from "./_options.ts";
import type {
  CancelOptions,
  KeepAliveOptions,
  MulticastOptions,
  ShutdownHow,
  TcpConn,
  TcpListener,
  UdpAddress,
  UdpSocket,
} from "./_types.ts";

const FAMILIES: AddressFamilies = { inet: AF_INET, inet6: AF_INET6 };
const MEMBERSHIP_SIZES = {
  ipMreq: IP_MREQ_SIZE,
  ipMreqInterface: IP_MREQ_INTERFACE_OFFSET,
  ipv6Mreq: IPV6_MREQ_SIZE,
  ipv6MreqInterface: IPV6_MREQ_INTERFACE_OFFSET,
};
/** What AcceptEx may write for each address (the largest, IPv6, plus its 16 bytes). */
const ACCEPT_ADDRESS_LENGTH = SOCKADDR_IN6_SIZE + ACCEPTEX_ADDRESS_EXTRA;
/** One call moves at most this many bytes (an int count). */
const MAX_IO = 0x7fffffff;

// Scratch space for the calls that fill a struct (JavaScript runs one call
// at a time on a thread, and each module instance belongs to one thread).
const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const storageLength = new Int32Array(1);
const option = new Int32Array(1);
const optionLength = new Int32Array(1);
const ONE = new Uint32Array([1]);

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

/** Whether a SOCKET returned by WSASocketW or accept is INVALID_SOCKET. */
function isInvalid(socket: Deno.PointerValue): socket is null {
  return socket === null || Deno.UnsafePointer.value(socket) === INVALID_SOCKET;
}

/** Makes a socket nonblocking; returns 0 or the Winsock error. */
function setNonblocking(ws: Ws2_32, socket: Socket): number {
  return ws.ioctlsocket(socket, FIONBIO, ONE) === SOCKET_ERROR ? ws.WSAGetLastError() : 0;
}

/**
 * Opens an overlapped, nonblocking, non-inheritable TCP (or UDP) socket,
 * with a use of ws2_32 that `closeSocket()` gives back (given back at once
 * if the open fails).
 */
function openSocket(
  action: string,
  ipv6: boolean,
  udp = false,
): { ws: Ws2_32; socket: Socket } {
  const ws = acquireWs2_32();
  const socket = ws.WSASocketW(
    ipv6 ? AF_INET6 : AF_INET,
    udp ? SOCK_DGRAM : SOCK_STREAM,
    udp ? IPPROTO_UDP : IPPROTO_TCP,
    null,
    0,
    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT,
  );
  if (isInvalid(socket)) {
    const error = win32Error(action, ws.WSAGetLastError());
    releaseWs2_32();
    throw error;
  }
  const error = setNonblocking(ws, socket);
  if (error !== 0) {
    ws.closesocket(socket);
    releaseWs2_32();
    throw win32Error(action, error);
  }
  return { ws, socket };
}

/**
 * Closes a socket, makes every port forget it (one may have associated it
 * through a read or write), and gives its use of ws2_32 back.
 */
function closeSocket(ws: Ws2_32, socket: Socket): void {
  forgetClosedHandle(socket); // first: what is in flight on it is cancelled as a close
  ws.closesocket(socket);
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

function checkBuffer(action: string, buffer: unknown): void {
  if (!(buffer instanceof Uint8Array)) {
    throw new TypeError(`${action}: buffer must be a Uint8Array, got ${describe(buffer)}`);
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
      throw win32Error(`Cannot connect socket ${numberOf(socket)} to ${where}`, error);
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

  constructor(ws: Ws2_32, socket: Socket, ipv6: boolean, addr: Deno.NetAddr) {
    this.#k32 = acquireKernel32();
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
      signal?.throwIfAborted();
      const accepted = await this.#acceptOnce(port, action, signal);
      if (accepted !== RETRY) return accepted;
    }
  }

  accept(): TcpConn | null {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        `Cannot accept on ${formatAddress(this.#addr)}: the listener is closed`,
      );
    }
    const ws = this.#ws;
    for (;;) {
      storageLength[0] = SOCKADDR_STORAGE_SIZE;
      const socket = ws.accept(this.#socket, storage, storageLength);
      if (isInvalid(socket)) {
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
    this.#ws.closesocket(this.#socket);
    forgetClosedHandle(this.#socket);
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
 * @param target the checked address
 * @param signal an abort signal, checked (and not aborted)
 * @returns the connection
 */
export async function connectWinsock(
  port: IocpPort,
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

  private constructor(
    ws: Ws2_32,
    socket: Socket,
    localAddr: Deno.NetAddr | undefined,
    remoteAddr: Deno.NetAddr,
    connecting: boolean,
  ) {
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = numberOf(socket);
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
    const n = ws.recv(this.#socket, buffer, length > MAX_IO ? MAX_IO : length, 0);
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
    const n = ws.send(this.#socket, buffer, length > MAX_IO ? MAX_IO : length, 0);
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

/**
 * Opens a nonblocking UDP socket bound to `address`. An IPv6 socket also
 * takes IPv4 peers (as IPv4-mapped addresses), as on Linux; an ICMP
 * port-unreachable does not fail the next receive (SIO_UDP_CONNRESET off).
 *
 * @param address the checked address
 * @returns the socket
 */
export function bindWinsockUdp(address: SocketAddress): UdpSocket {
  const where = formatAddress(address);
  const { ws, socket } = openSocket(
    `Cannot open a UDP socket to bind to ${where}`,
    address.ipv6,
    true,
  );
  const fd = numberOf(socket);
  try {
    if (address.ipv6) {
      const error = setIntOption(ws, socket, IPPROTO_IPV6, IPV6_V6ONLY, 0);
      if (error !== 0) throw win32Error(`Cannot clear IPV6_V6ONLY on socket ${fd}`, error);
    }
    // Best effort: a provider without it keeps the default.
    const off = new Uint32Array(1);
    ws.WSAIoctl(
      socket,
      SIO_UDP_CONNRESET,
      new Uint8Array(off.buffer),
      INT_SIZE,
      new Uint8Array(0),
      0,
      new Uint8Array(4),
      null,
      null,
    );
    const sockaddr = encodeSockaddr(address, FAMILIES);
    if (ws.bind(socket, sockaddr, sockaddr.length) === SOCKET_ERROR) {
      throw win32Error(`Cannot bind socket ${fd} to ${where}`, ws.WSAGetLastError());
    }
    const addr = socketAddress(
      ws,
      `Cannot read the local address of socket ${fd}`,
      socket,
      "getsockname",
    );
    addr.transport = "udp";
    return new WinsockUdpSocket(ws, socket, address.ipv6, addr);
  } catch (error) {
    closeSocket(ws, socket);
    throw error;
  }
}

/** A bound UDP socket. */
class WinsockUdpSocket implements UdpSocket {
  #ws: Ws2_32;
  #socket: Socket;
  #fd: number;
  #addr: Deno.NetAddr;
  #closed = false;
  #destinations: UdpDestinations;
  #ipv6: boolean;

  constructor(ws: Ws2_32, socket: Socket, ipv6: boolean, addr: Deno.NetAddr) {
    this.#ipv6 = ipv6;
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = numberOf(socket);
    this.#addr = addr;
    this.#destinations = new UdpDestinations(ipv6, formatAddress(addr), FAMILIES);
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

  #checkOpen(action: string): void {
    if (this.#closed) throw new Deno.errors.BadResource(`${action}: the socket is closed`);
  }

  trySend(buffer: Uint8Array, address: UdpAddress): number {
    checkBuffer("Cannot send", buffer);
    const sockaddr = this.#destinations.encode(address);
    this.#checkOpen(`Cannot send from socket ${this.#fd}`);
    const ws = this.#ws;
    const length = buffer.length > MAX_IO ? MAX_IO : buffer.length;
    const n = ws.sendto(this.#socket, buffer, length, 0, sockaddr, sockaddr.length);
    if (n >= 0) return n;
    const error = ws.WSAGetLastError();
    if (error === WSAEWOULDBLOCK) return 0;
    throw win32Error(`Cannot send from socket ${this.#fd} to ${this.#destinations.where}`, error);
  }

  tryReceive(buffer: Uint8Array): [number, Deno.NetAddr] | null {
    checkBuffer("Cannot receive", buffer);
    this.#checkOpen(`Cannot receive on socket ${this.#fd}`);
    const ws = this.#ws;
    const length = buffer.length > MAX_IO ? MAX_IO : buffer.length;
    for (;;) {
      storageLength[0] = SOCKADDR_STORAGE_SIZE;
      const n = ws.recvfrom(this.#socket, buffer, length, 0, storage, storageLength);
      let received = n;
      if (n === SOCKET_ERROR) {
        const error = ws.WSAGetLastError();
        if (error === WSAEWOULDBLOCK) return null;
        // A port-unreachable from an earlier send, where SIO_UDP_CONNRESET is not honoured.
        if (error === WSAECONNRESET) continue;
        // Longer than the buffer: what fits was received, the rest is lost (as on Linux).
        if (error !== WSAEMSGSIZE) throw win32Error(`Cannot receive on socket ${this.#fd}`, error);
        received = length;
      }
      const from = decodeSockaddr(storage, storageLength[0], FAMILIES);
      from.transport = "udp";
      return [received, from];
    }
  }

  /** Sets an int option, or throws naming it and the socket. */
  #set(action: string, level: number, name: number, optionName: string, value: number): void {
    this.#checkOpen(action);
    const error = setIntOption(this.#ws, this.#socket, level, name, value);
    if (error !== 0) throw win32Error(`Cannot set ${optionName} on socket ${this.#fd}`, error);
  }

  /** Sets an int option at this socket's IP level: IPv4's, or IPv6's. */
  #setIp(action: string, v4: [number, string], v6: [number, string], value: number): void {
    const [level, [name, optionName]] = this.#ipv6 ? [IPPROTO_IPV6, v6] : [IPPROTO_IP, v4];
    this.#set(action, level, name, optionName, value);
  }

  setBroadcast(on = true): void {
    const action = `Cannot set SO_BROADCAST on socket ${this.#fd}`;
    checkFlag(action, on);
    this.#set(action, SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST", on ? 1 : 0);
  }

  setTtl(ttl: number): void {
    const action = `Cannot set the TTL of socket ${this.#fd}`;
    checkTtl(action, ttl, 1);
    this.#setIp(action, [IP_TTL, "IP_TTL"], [IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"], ttl);
  }

  setMulticastTtl(ttl: number): void {
    const action = `Cannot set the multicast TTL of socket ${this.#fd}`;
    checkTtl(action, ttl, 0);
    this.#setIp(
      action,
      [IP_MULTICAST_TTL, "IP_MULTICAST_TTL"],
      [IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"],
      ttl,
    );
  }

  setMulticastLoopback(on = true): void {
    const action = `Cannot set multicast loopback on socket ${this.#fd}`;
    checkFlag(action, on);
    this.#setIp(
      action,
      [IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"],
      [IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"],
      on ? 1 : 0,
    );
  }

  joinMulticast(group: string, options?: MulticastOptions): void {
    const action = "Cannot join multicast group";
    this.#membership(action, parseMulticast(action, group, options), true);
  }

  leaveMulticast(group: string, options?: MulticastOptions): void {
    const action = "Cannot leave multicast group";
    this.#membership(action, parseMulticast(action, group, options), false);
  }

  #membership(action: string, multicast: Multicast, join: boolean): void {
    const where = `${action} ${multicast.where} on socket ${this.#fd}`;
    this.#checkOpen(where);
    const mreq = encodeMembership(multicast, MEMBERSHIP_SIZES);
    const [level, name] = multicast.ipv6
      ? [IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP]
      : [IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP];
    if (this.#ws.setsockopt(this.#socket, level, name, mreq, mreq.length) === SOCKET_ERROR) {
      throw win32Error(where, this.#ws.WSAGetLastError());
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSocket(this.#ws, this.#socket);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
