// Copyright 2026 the @evented/io authors. MIT license.
/**
 * TCP and UDP sockets over libc (Linux), nonblocking and close-on-exec,
 * driven by readiness: register `fd` with a Selector, then `tryAccept()`,
 * `tryRead()`, `tryWrite()`, `finishConnect()`, `trySend()` or
 * `tryReceive()` when it is ready. Every call is one system call that never
 * blocks; EAGAIN is `null` or `0`, never an error. The awaitable members
 * (`accept()`, `read()`, `write()`, the streams, `send()`, `receive()`)
 * are those calls again, waiting through the reactor when they would block
 * (`_async_io.ts`). {@linkcode PosixStream} is what a TCP and a Unix
 * connection share.
 *
 * The hot path (`tryRead`/`tryWrite` of a connection) allocates nothing:
 * the `size_t` count comes from {@linkcode ioSize}, errno is read through a
 * kept view, and addresses are decoded only where they are asked for.
 *
 * Every socket holds one use of libc until it is closed.
 *
 * It must not know a port's engine: the engines reach it through {@linkcode
 * PosixSockets}, handed over by `_platform.ts`.
 *
 * @module
 */

import { checkBuffer } from "../backends/shared/_checks.ts";
import { OwnedFd } from "./_owned_fd.ts";
import { AsyncDatagrams, AsyncIo, AsyncListener } from "./_async_io.ts";
import type { ReadyOptions } from "../types/async_fd.ts";
import { osError } from "../ffi/errors.ts";
import {
  acquireLibc,
  AF_INET,
  AF_INET6,
  EAGAIN,
  ECONNABORTED,
  EINPROGRESS,
  EINTR,
  ENOTCONN,
  errno,
  INT_SIZE,
  ioSize,
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
  IPV6_ADD_MEMBERSHIP,
  IPV6_DROP_MEMBERSHIP,
  IPV6_MREQ_INTERFACE_OFFSET,
  IPV6_MREQ_SIZE,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_LOOP,
  IPV6_UNICAST_HOPS,
  type Libc,
  MSG_NOSIGNAL,
  releaseLibc,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_BROADCAST,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  SOL_SOCKET,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from "../ffi/libc.ts";
import {
  checkFlag,
  checkKeepAlive,
  checkTtl,
  encodeMembership,
  type Multicast,
  parseMulticast,
} from "./_options.ts";
import {
  type AddressFamilies,
  decodeSockaddr,
  encodeSockaddr,
  formatAddress,
  type SocketAddress,
  UdpDestinations,
} from "../backends/shared/_address.ts";
import type {
  KeepAliveOptions,
  MulticastOptions,
  ShutdownHow,
  TcpConn,
  TcpListener,
  UdpAddress,
  UdpSocket,
} from "../types/net.ts";
import type { PortListener, PosixSockets } from "../backends/_port_sockets.ts";
import { describe } from "../backends/shared/_describe.ts";

const FAMILIES: AddressFamilies = { inet: AF_INET, inet6: AF_INET6 };
const MEMBERSHIP_SIZES = {
  ipMreq: IP_MREQ_SIZE,
  ipMreqInterface: IP_MREQ_INTERFACE_OFFSET,
  ipv6Mreq: IPV6_MREQ_SIZE,
  ipv6MreqInterface: IPV6_MREQ_INTERFACE_OFFSET,
};
/** Every socket made or accepted here is nonblocking and close-on-exec. */
export const SOCKET_FLAGS: number = SOCK_NONBLOCK | SOCK_CLOEXEC;
/** shutdown(2)'s `how` for each of ShutdownHow's words. */
export const SHUTDOWN_HOW = { read: SHUT_RD, write: SHUT_WR, both: SHUT_RDWR } as const;

// Scratch space for the calls that fill a struct (JavaScript runs one call
// at a time on a thread, and each module instance belongs to one thread).
const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const storageLength = new Uint32Array(1);
const option = new Int32Array(1);
const optionLength = new Uint32Array(1);

/** Opens a nonblocking, close-on-exec socket; the caller holds a use of libc. */
function openSocket(libc: Libc, action: string, ipv6: boolean, type: number): number {
  const fd = libc.socket(ipv6 ? AF_INET6 : AF_INET, type | SOCKET_FLAGS, 0);
  if (fd < 0) throw osError(action, errno());
  return fd;
}

/** Sets an int socket option, or throws naming it and the fd. */
export function setIntOption(
  libc: Libc,
  fd: number,
  level: number,
  name: number,
  optionName: string,
  value: number,
): void {
  option[0] = value;
  if (libc.setsockopt(fd, level, name, option, INT_SIZE) < 0) {
    throw osError(`Cannot set ${optionName} on fd ${fd}`, errno());
  }
}

/** getsockname or getpeername into `storage`; returns the errno, or 0. */
function fillAddress(libc: Libc, fd: number, which: "getsockname" | "getpeername"): number {
  storageLength[0] = SOCKADDR_STORAGE_SIZE;
  return libc[which](fd, storage, storageLength) < 0 ? errno() : 0;
}

/** getsockname or getpeername, decoded. */
function socketAddress(
  libc: Libc,
  fd: number,
  which: "getsockname" | "getpeername",
  transport: "tcp" | "udp",
): Deno.NetAddr {
  const error = fillAddress(libc, fd, which);
  if (error !== 0) {
    throw osError(
      `Cannot read the ${which === "getsockname" ? "local" : "peer"} address of fd ${fd}`,
      error,
    );
  }
  return decoded(storageLength[0], transport);
}

/** The address in `storage`, `length` bytes long. */
function decoded(length: number, transport: "tcp" | "udp"): Deno.NetAddr {
  const addr = decodeSockaddr(storage, length, FAMILIES);
  if (transport === "udp") addr.transport = "udp";
  return addr;
}

/** Closes an fd that failed half-way through being set up, and gives its use of libc back. */
export function abandon(libc: Libc, fd: number): void {
  if (fd >= 0) libc.close(fd);
  releaseLibc();
}

/**
 * Opens a nonblocking listening TCP socket with SO_REUSEADDR (and
 * SO_REUSEPORT if asked).
 *
 * @param address the checked address
 * @param backlog the checked queue length
 * @param reusePort whether to set SO_REUSEPORT
 * @returns the listener
 */
export function listenPosix(
  address: SocketAddress,
  backlog: number,
  reusePort: boolean,
): TcpListener {
  const where = formatAddress(address);
  const libc = acquireLibc();
  let fd = -1;
  try {
    fd = openSocket(libc, `Cannot open a socket to listen on ${where}`, address.ipv6, SOCK_STREAM);
    setIntOption(libc, fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1);
    if (reusePort) setIntOption(libc, fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", 1);
    const sockaddr = encodeSockaddr(address, FAMILIES);
    if (libc.bind(fd, sockaddr, sockaddr.length) < 0) {
      throw osError(`Cannot bind fd ${fd} to ${where}`, errno());
    }
    if (libc.listen(fd, backlog) < 0) {
      throw osError(`Cannot listen on fd ${fd} at ${where}`, errno());
    }
    const addr = socketAddress(libc, fd, "getsockname", "tcp");
    return new PosixListener(libc, fd, addr);
  } catch (error) {
    abandon(libc, fd);
    throw error;
  }
}

/**
 * The socket layer as the Linux CompletionPort engines see it: listeners of
 * this module accept through them, and connections are made and wrapped
 * here (the engines never import this file: `_platform.ts` hands it over).
 *
 * @internal
 */
export const posixSockets: PosixSockets = {
  listenerOf(value: unknown): PortListener | undefined {
    return value instanceof PosixListener ? value : undefined;
  },
  openStream(target: SocketAddress): number {
    return openSocket(
      acquiredLibc(),
      `Cannot open a socket to connect to ${formatAddress(target)}`,
      target.ipv6,
      SOCK_STREAM,
    );
  },
  sockaddrOf(target: SocketAddress): Uint8Array {
    return encodeSockaddr(target, FAMILIES);
  },
  adoptConnected(fd: number, remote: Deno.NetAddr): TcpConn {
    const libc = acquireLibc(); // the connection's own use
    return new PosixConn(libc, fd, remote, false);
  },
};

/** libc's symbols, for a call that needs them once (the use is given back at once). */
function acquiredLibc(): Libc {
  const libc = acquireLibc();
  releaseLibc();
  return libc;
}

/**
 * Makes the module's own object of a TCP or UDP socket whose kind
 * `adoptSocket` has found, which it takes over with a use of libc of its
 * own.
 *
 * @internal
 */
export function adoptInetSocket(
  libc: Libc,
  fd: number,
  kind: "listener" | "conn" | "datagram",
  ipv6: boolean,
): TcpListener | TcpConn | UdpSocket {
  switch (kind) {
    case "listener": {
      const addr = socketAddress(libc, fd, "getsockname", "tcp");
      acquireLibc();
      return new PosixListener(libc, fd, addr);
    }
    case "conn": {
      const remote = socketAddress(libc, fd, "getpeername", "tcp");
      acquireLibc();
      return new PosixConn(libc, fd, remote, false);
    }
    case "datagram": {
      const addr = socketAddress(libc, fd, "getsockname", "udp");
      acquireLibc();
      return new PosixUdpSocket(libc, fd, ipv6, addr);
    }
  }
}

/** A listening socket; a CompletionPort's engine accepts on it as a {@linkcode PortListener}. */
class PosixListener extends OwnedFd implements TcpListener, PortListener {
  #addr: Deno.NetAddr;
  #async: AsyncListener<TcpConn> = new AsyncListener(this);

  constructor(libc: Libc, fd: number, addr: Deno.NetAddr) {
    super(libc, fd);
    this.#addr = addr;
  }

  accept(): Promise<TcpConn> {
    return this.#async.accept();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TcpConn> {
    return this.#async.connections();
  }

  get addr(): Deno.NetAddr {
    return { ...this.#addr };
  }

  get where(): string {
    return formatAddress(this.#addr);
  }

  adoptAccepted(fd: number, sockaddr: Uint8Array, length: number): TcpConn {
    const remote = decodeSockaddr(sockaddr, length, FAMILIES);
    const libc = acquireLibc(); // the connection's own use
    return new PosixConn(libc, fd, remote, false);
  }

  tryAccept(): TcpConn | null {
    const fd = this.fd;
    if (fd < 0) {
      throw new Deno.errors.BadResource(
        `Cannot accept on ${formatAddress(this.#addr)}: the listener is closed`,
      );
    }
    const libc = this.libc;
    for (;;) {
      storageLength[0] = SOCKADDR_STORAGE_SIZE;
      const conn = libc.accept4(fd, storage, storageLength, SOCKET_FLAGS);
      if (conn >= 0) {
        acquireLibc(); // the connection's own use
        let remote;
        try {
          remote = decoded(storageLength[0], "tcp");
        } catch (error) {
          abandon(libc, conn);
          throw error;
        }
        return new PosixConn(libc, conn, remote, false);
      }
      const e = errno();
      if (e === EAGAIN) return null;
      // A connection reset before it was taken is gone: take the next one.
      if (e === EINTR || e === ECONNABORTED) continue;
      throw osError(`Cannot accept on fd ${fd} at ${formatAddress(this.#addr)}`, e);
    }
  }
}

/**
 * Starts a nonblocking connect to `target`: the connection is returned at
 * once, usually still in progress (EINPROGRESS): wait for WRITABLE, then
 * call `finishConnect()`.
 *
 * @param target the checked address
 * @returns the connection
 */
export function connectPosix(target: SocketAddress): TcpConn {
  const where = formatAddress(target);
  const libc = acquireLibc();
  let fd = -1;
  try {
    fd = openSocket(libc, `Cannot open a socket to connect to ${where}`, target.ipv6, SOCK_STREAM);
    const sockaddr = encodeSockaddr(target, FAMILIES);
    let connecting = false;
    if (libc.connect(fd, sockaddr, sockaddr.length) < 0) {
      const e = errno();
      // After EINTR the connect goes on in the background, as after EINPROGRESS.
      if (e !== EINPROGRESS && e !== EINTR) throw osError(`Cannot connect fd ${fd} to ${where}`, e);
      connecting = true;
    }
    const remote: Deno.NetAddr = { transport: "tcp", hostname: target.hostname, port: target.port };
    return new PosixConn(libc, fd, remote, connecting);
  } catch (error) {
    abandon(libc, fd);
    throw error;
  }
}

/**
 * A connected stream socket over libc, TCP or Unix: the nonblocking
 * `tryRead`/`tryWrite` (`recv`, and `send` with MSG_NOSIGNAL), `shutdown`,
 * `closeWrite`, and the awaitable members over them.
 *
 * @internal
 */
export class PosixStream extends OwnedFd {
  #io: AsyncIo = new AsyncIo(this, {
    noun: "connection",
    closeWrite: () => this.shutdown("write"),
    shortReadDrains: this.shortReadDrains(),
  });

  /**
   * Whether a short read means no more bytes were there: so for TCP; a Unix
   * stream overrides it (a read stops where fds were attached).
   */
  protected shortReadDrains(): boolean {
    return true;
  }

  /** The open fd, or BadResource: "<action>: the connection is closed". */
  protected openConn(action: string): number {
    return this.open(action, "connection");
  }

  tryRead(buffer: Uint8Array): number | null {
    if (!(buffer instanceof Uint8Array)) checkBuffer("Cannot read", buffer);
    const fd = this.fd;
    if (fd < 0) this.openConn("Cannot read");
    const length = buffer.length;
    if (length === 0) return 0;
    const size = ioSize(length);
    for (;;) {
      const n = this.libc.recv(fd, buffer, size, 0);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw osError(`Cannot read from fd ${fd}`, e);
    }
  }

  tryWrite(buffer: Uint8Array): number {
    if (!(buffer instanceof Uint8Array)) checkBuffer("Cannot write", buffer);
    const fd = this.fd;
    if (fd < 0) this.openConn("Cannot write");
    const length = buffer.length;
    if (length === 0) return 0;
    const size = ioSize(length);
    for (;;) {
      const n = this.libc.send(fd, buffer, size, MSG_NOSIGNAL);
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw osError(`Cannot write to fd ${fd}`, e);
    }
  }

  shutdown(how: ShutdownHow = "write"): void {
    if (typeof how !== "string" || !Object.hasOwn(SHUTDOWN_HOW, how)) {
      throw new TypeError(
        `Cannot shut down fd ${this.fd}: how must be "read", "write" or "both", got ${
          describe(how)
        }`,
      );
    }
    const fd = this.openConn("Cannot shut down");
    if (this.libc.shutdown(fd, SHUTDOWN_HOW[how]) < 0) {
      throw osError(`Cannot shut down fd ${fd}`, errno());
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
}

/** A connected (or connecting) TCP socket. */
class PosixConn extends PosixStream implements TcpConn {
  #remoteAddr: Deno.NetAddr;
  #localAddr: Deno.NetAddr | undefined;
  /** Whether a connect is in progress (finishConnect() has not seen it end). */
  #connecting: boolean;
  /** What the connect met, once finishConnect() has seen it fail. */
  #connectError: Error | undefined;

  constructor(libc: Libc, fd: number, remoteAddr: Deno.NetAddr, connecting: boolean) {
    super(libc, fd);
    this.#remoteAddr = remoteAddr;
    this.#connecting = connecting;
  }

  get localAddr(): Deno.NetAddr {
    if (this.#localAddr === undefined) {
      const fd = this.openConn("Cannot read the local address");
      this.#localAddr = socketAddress(this.libc, fd, "getsockname", "tcp");
    }
    return { ...this.#localAddr };
  }

  get remoteAddr(): Deno.NetAddr {
    return { ...this.#remoteAddr };
  }

  finishConnect(): void {
    const where = formatAddress(this.#remoteAddr);
    const fd = this.openConn(`Cannot finish connecting to ${where}`);
    if (this.#connectError !== undefined) throw this.#connectError;
    if (!this.#connecting) return;
    const libc = this.libc;
    option[0] = 0;
    optionLength[0] = INT_SIZE;
    if (libc.getsockopt(fd, SOL_SOCKET, SO_ERROR, option, optionLength) < 0) {
      throw osError(`Cannot read SO_ERROR of fd ${fd}`, errno());
    }
    const failure = option[0];
    if (failure !== 0) {
      this.#connecting = false;
      this.#connectError = osError(`Cannot connect fd ${fd} to ${where}`, failure);
      throw this.#connectError;
    }
    // No error yet: connected, unless the connect is still under way.
    const e = fillAddress(libc, fd, "getpeername");
    if (e === ENOTCONN) {
      throw new Deno.errors.WouldBlock(
        `Cannot finish connecting fd ${fd} to ${where}: the connect is still in progress ` +
          `(wait until the fd is WRITABLE)`,
      );
    }
    if (e !== 0) throw osError(`Cannot read the peer address of fd ${fd}`, e);
    this.#connecting = false;
  }

  setNoDelay(on = true): void {
    if (typeof on !== "boolean") {
      throw new TypeError(
        `Cannot set TCP_NODELAY on fd ${this.fd}: on must be a boolean, got ${describe(on)}`,
      );
    }
    const fd = this.openConn("Cannot set TCP_NODELAY");
    setIntOption(this.libc, fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", on ? 1 : 0);
  }

  setKeepAlive(on = true, options?: KeepAliveOptions): void {
    const action = "Cannot set SO_KEEPALIVE";
    const { idleSeconds, intervalSeconds, count } = checkKeepAlive(action, on, options);
    const fd = this.openConn(action);
    const libc = this.libc;
    if (idleSeconds !== undefined) {
      setIntOption(libc, fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", idleSeconds);
    }
    if (intervalSeconds !== undefined) {
      setIntOption(libc, fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", intervalSeconds);
    }
    if (count !== undefined) setIntOption(libc, fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", count);
    setIntOption(libc, fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", on ? 1 : 0);
  }
}

/**
 * Opens a nonblocking UDP socket bound to `address`.
 *
 * @param address the checked address
 * @param reusePort whether to set SO_REUSEPORT
 * @returns the socket
 */
export function bindPosixUdp(address: SocketAddress, reusePort = false): UdpSocket {
  const where = formatAddress(address);
  const libc = acquireLibc();
  let fd = -1;
  try {
    fd = openSocket(libc, `Cannot open a UDP socket to bind to ${where}`, address.ipv6, SOCK_DGRAM);
    if (reusePort) setIntOption(libc, fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", 1);
    const sockaddr = encodeSockaddr(address, FAMILIES);
    if (libc.bind(fd, sockaddr, sockaddr.length) < 0) {
      throw osError(`Cannot bind fd ${fd} to ${where}`, errno());
    }
    const addr = socketAddress(libc, fd, "getsockname", "udp");
    return new PosixUdpSocket(libc, fd, address.ipv6, addr);
  } catch (error) {
    abandon(libc, fd);
    throw error;
  }
}

/** A bound UDP socket. */
class PosixUdpSocket extends OwnedFd implements UdpSocket {
  #addr: Deno.NetAddr;
  #destinations: UdpDestinations;
  #ipv6: boolean;
  #async: AsyncDatagrams<UdpAddress, Deno.NetAddr> = new AsyncDatagrams(this);

  constructor(libc: Libc, fd: number, ipv6: boolean, addr: Deno.NetAddr) {
    super(libc, fd);
    this.#addr = addr;
    this.#ipv6 = ipv6;
    this.#destinations = new UdpDestinations(ipv6, formatAddress(addr), FAMILIES);
  }

  get addr(): Deno.NetAddr {
    return { ...this.#addr };
  }

  #open(action: string): number {
    return this.open(action, "socket");
  }

  send(data: Uint8Array, address: UdpAddress): Promise<number> {
    return this.#async.send(data, address);
  }

  receive(buffer?: undefined): Promise<[Uint8Array<ArrayBuffer>, Deno.NetAddr]>;
  receive<B extends ArrayBufferLike>(buffer: Uint8Array<B>): Promise<[Uint8Array<B>, Deno.NetAddr]>;
  receive(buffer?: Uint8Array): Promise<[Uint8Array, Deno.NetAddr]> {
    return this.#async.receive(buffer);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<[Uint8Array<ArrayBuffer>, Deno.NetAddr]> {
    return this.#async.datagrams();
  }

  waitReadable(options?: ReadyOptions): Promise<void> {
    return this.#async.waitReadable(options);
  }

  waitWritable(options?: ReadyOptions): Promise<void> {
    return this.#async.waitWritable(options);
  }

  trySend(buffer: Uint8Array, address: UdpAddress): number {
    checkBuffer("Cannot send", buffer);
    const sockaddr = this.#destinations.encode(address);
    const fd = this.#open("Cannot send");
    for (;;) {
      const n = this.libc.sendto(
        fd,
        buffer,
        ioSize(buffer.length),
        MSG_NOSIGNAL,
        sockaddr,
        sockaddr.length,
      );
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw osError(`Cannot send from fd ${fd} to ${this.#destinations.where}`, e);
    }
  }

  tryReceive(buffer: Uint8Array): [number, Deno.NetAddr] | null {
    checkBuffer("Cannot receive", buffer);
    const fd = this.#open("Cannot receive");
    for (;;) {
      storageLength[0] = SOCKADDR_STORAGE_SIZE;
      const n = this.libc.recvfrom(
        fd,
        buffer,
        ioSize(buffer.length),
        0,
        storage,
        storageLength,
      );
      if (n >= 0) return [n, decoded(storageLength[0], "udp")];
      const e = errno();
      if (e === EAGAIN) return null;
      if (e !== EINTR) throw osError(`Cannot receive on fd ${fd}`, e);
    }
  }

  /** Sets an int option named `name` at this socket's IP level: IPv4's, or IPv6's. */
  #setIp(action: string, v4: [number, string], v6: [number, string], value: number): void {
    const fd = this.#open(action);
    const [level, [option, name]] = this.#ipv6 ? [IPPROTO_IPV6, v6] : [IPPROTO_IP, v4];
    setIntOption(this.libc, fd, level, option, name, value);
  }

  setBroadcast(on = true): void {
    const action = "Cannot set SO_BROADCAST";
    checkFlag(action, on);
    setIntOption(
      this.libc,
      this.#open(action),
      SOL_SOCKET,
      SO_BROADCAST,
      "SO_BROADCAST",
      on ? 1 : 0,
    );
  }

  setTtl(ttl: number): void {
    const action = "Cannot set the TTL";
    checkTtl(action, ttl, 1);
    this.#setIp(action, [IP_TTL, "IP_TTL"], [IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"], ttl);
  }

  setMulticastTtl(ttl: number): void {
    const action = "Cannot set the multicast TTL";
    checkTtl(action, ttl, 0);
    this.#setIp(
      action,
      [IP_MULTICAST_TTL, "IP_MULTICAST_TTL"],
      [IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"],
      ttl,
    );
  }

  setMulticastLoopback(on = true): void {
    const action = "Cannot set multicast loopback";
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
    const fd = this.#open(action);
    const mreq = encodeMembership(multicast, MEMBERSHIP_SIZES);
    const [level, option] = multicast.ipv6
      ? [IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP]
      : [IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP];
    if (this.libc.setsockopt(fd, level, option, mreq, mreq.length) < 0) {
      throw osError(`${action} ${multicast.where} on fd ${fd}`, errno());
    }
  }
}
