// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Unix domain sockets over libc (Linux): a stream listener, its
 * connections (which also carry fds and know their peer's credentials),
 * and datagram sockets; nonblocking and close-on-exec, driven by
 * readiness like the TCP sockets of `_posix.ts`, whose helpers they share.
 *
 * Addresses are checked and encoded by `_unix_address.ts`. The awaitable
 * members (`accept()`, `read()`, `write()`, the streams, `send()`,
 * `receive()`) wait through the reactor when a call would block
 * (`_async_io.ts`); a connection's reads, writes and shutdown are
 * {@linkcode PosixStream}'s, as a TCP connection's.
 *
 * A socket bound here to a path removes its file when it closes, as
 * `Deno.listen({ transport: "unix" })` does in Deno 2.9, but only if the
 * file there is still the one it made (same device and inode, taken with
 * `lstat` after bind, at the absolute path it had then): a file that took
 * its place, or the path seen from another working directory, is left
 * alone. Adopted sockets never remove anything.
 *
 * A connect on a Unix stream socket either completes or fails at once,
 * except when the listener's queue is full (EAGAIN): a blocking connect
 * would then sleep until there is room, and nothing can be polled for
 * that, so {@linkcode connectUnixPosix} tries again on a timer (1 ms,
 * doubling to 64 ms) until it connects, fails, or its signal aborts.
 *
 * Nothing here knows a Selector or a CompletionPort: a port that accepts on
 * a {@linkcode isUnixListener} builds its connections with
 * {@linkcode adoptAcceptedUnix}.
 *
 * @module
 */

import type { PortListener } from "../backends/_port_sockets.ts";
import { describe } from "../backends/shared/_describe.ts";
import { OwnedFd } from "./_owned_fd.ts";
import { osError } from "../ffi/errors.ts";
import {
  acquireLibc,
  AF_UNIX,
  EAGAIN,
  ECONNABORTED,
  EINTR,
  errno,
  ioSize,
  type Libc,
  MSG_NOSIGNAL,
  releaseLibc,
  S_IFMT,
  S_IFSOCK,
  SCM_MAX_FD,
  SO_PEERCRED,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  SOL_SOCKET,
  STAT_DEV_OFFSET,
  STAT_INO_OFFSET,
  STAT_MODE_OFFSET,
  STAT_SIZE,
  UCRED_GID_OFFSET,
  UCRED_SIZE,
  UCRED_UID_OFFSET,
} from "../ffi/libc.ts";
import { abandon, PosixStream, SOCKET_FLAGS } from "./_posix.ts";
import { AsyncDatagrams, AsyncListener } from "./_async_io.ts";
import type { ReadyOptions } from "../types/async_fd.ts";
import { checkBuffer } from "../backends/shared/_checks.ts";
import {
  decodeUnixPath,
  formatUnixPath,
  parseUnixPath,
  type UnixSocketPath,
} from "./_unix_address.ts";
import { receiveWithFds, sendWithFds } from "./_fd_passing.ts";
import type {
  PeerCredentials,
  ReceivedFds,
  ReceiveFdsOptions,
  UnixAddress,
  UnixConn,
  UnixDatagramSocket,
  UnixListener,
} from "../types/unix.ts";

/** A connect that meets a full queue tries again after this long, doubling… */
const FIRST_RETRY_MS = 1;
/** …up to this long. */
const LAST_RETRY_MS = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Scratch space for the calls that fill a struct (JavaScript runs one call
// at a time on a thread, and each module instance belongs to one thread).
const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const storageLength = new Uint32Array(1);
const credentials = new Uint8Array(UCRED_SIZE);
const credentialsView = new DataView(credentials.buffer);
const credentialsLength = new Uint32Array(1);
const stat = new Uint8Array(STAT_SIZE);
const statView = new DataView(stat.buffer);

function unixAddr(path: string, transport: "unix" | "unixpacket" = "unix"): Deno.UnixAddr {
  return { transport, path };
}

/** getsockname or getpeername of `fd`, decoded; throws naming the fd. */
function addressOf(libc: Libc, fd: number, which: "getsockname" | "getpeername"): string {
  storageLength[0] = SOCKADDR_STORAGE_SIZE;
  if (libc[which](fd, storage, storageLength) < 0) {
    throw osError(
      `Cannot read the ${which === "getsockname" ? "local" : "peer"} address of fd ${fd}`,
      errno(),
    );
  }
  return decodeUnixPath(storage, storageLength[0]);
}

/** A file bound to a socket: where it is, and which inode it was. */
interface SocketFile {
  /** The absolute path, NUL-terminated. */
  readonly path: Uint8Array;
  readonly dev: bigint;
  readonly ino: bigint;
}

/** lstat of a NUL-terminated path into `stat`: whether it is a socket there. */
function statSocket(libc: Libc, path: Uint8Array): boolean {
  return libc.lstat(path, stat) === 0 &&
    (statView.getUint32(STAT_MODE_OFFSET, true) & S_IFMT) === S_IFSOCK;
}

/** The working directory, or undefined if it cannot be read (it was removed). */
function workingDirectory(libc: Libc): string | undefined {
  const buffer = new Uint8Array(4096);
  if (libc.getcwd(buffer, ioSize(buffer.length)) === null) return undefined;
  return decoder.decode(buffer.subarray(0, buffer.indexOf(0)));
}

/** The file a bind to `address` has just made, or undefined (abstract, or not found). */
function fileOf(libc: Libc, address: UnixSocketPath): SocketFile | undefined {
  if (address.abstract) return undefined;
  let absolute = address.path;
  if (!absolute.startsWith("/")) {
    const cwd = workingDirectory(libc);
    if (cwd === undefined) return undefined;
    absolute = `${cwd}/${absolute}`;
  }
  const path = encoder.encode(`${absolute}\0`);
  if (!statSocket(libc, path)) return undefined;
  return {
    path,
    dev: statView.getBigUint64(STAT_DEV_OFFSET, true),
    ino: statView.getBigUint64(STAT_INO_OFFSET, true),
  };
}

/** Removes `file` if the same socket file is still there. */
function removeFile(libc: Libc, file: SocketFile): void {
  if (
    statSocket(libc, file.path) &&
    statView.getBigUint64(STAT_DEV_OFFSET, true) === file.dev &&
    statView.getBigUint64(STAT_INO_OFFSET, true) === file.ino
  ) {
    libc.unlink(file.path); // gone meanwhile, or not ours to remove: nothing to do
  }
}

/** Opens an AF_UNIX socket of `type`, nonblocking and close-on-exec; the caller holds libc. */
function openUnixSocket(libc: Libc, action: string, type: number): number {
  const fd = libc.socket(AF_UNIX, type | SOCKET_FLAGS, 0);
  if (fd < 0) throw osError(action, errno());
  return fd;
}

/** Binds `fd` to `address`, or throws naming both. */
function bindTo(libc: Libc, fd: number, address: UnixSocketPath): void {
  if (libc.bind(fd, address.sockaddr, address.sockaddr.length) < 0) {
    throw osError(`Cannot bind fd ${fd} to ${formatUnixPath(address.path)}`, errno());
  }
}

/**
 * Opens a nonblocking listening Unix stream socket at `address`.
 *
 * @param address the checked address
 * @param backlog the checked queue length
 * @returns the listener
 * @throws {Deno.errors.AddrInUse} if a file (of any kind) or a socket already holds the address
 */
export function listenUnixPosix(address: UnixSocketPath, backlog: number): UnixListener {
  const where = formatUnixPath(address.path);
  const libc = acquireLibc();
  let fd = -1;
  let file: SocketFile | undefined;
  try {
    fd = openUnixSocket(libc, `Cannot open a socket to listen on ${where}`, SOCK_STREAM);
    bindTo(libc, fd, address);
    file = fileOf(libc, address);
    if (libc.listen(fd, backlog) < 0) {
      throw osError(`Cannot listen on fd ${fd} at ${where}`, errno());
    }
    return new PosixUnixListener(libc, fd, addressOf(libc, fd, "getsockname"), file);
  } catch (error) {
    if (file !== undefined) removeFile(libc, file); // the file this call made
    abandon(libc, fd);
    throw error;
  }
}

/**
 * Whether `listener` is a listener of this file (from `listenUnix` or adopted).
 *
 * @internal
 */
export function isUnixListener(listener: unknown): listener is UnixListener {
  return listener instanceof PosixUnixListener;
}

/**
 * `value` as a CompletionPort's engines accept on it, if it is a listener
 * of this file (else undefined).
 *
 * @internal
 */
export function unixPortListener(value: unknown): PortListener | undefined {
  if (!(value instanceof PosixUnixListener)) return undefined;
  const listener = value;
  return {
    get fd() {
      return listener.fd;
    },
    get closed() {
      return listener.closed;
    },
    get where() {
      return formatUnixPath(listener.addr.path);
    },
    tryAccept: () => listener.tryAccept(),
    adoptAccepted: adoptAcceptedUnix,
  };
}

/**
 * Makes a UnixConn of a connection a port accepted on a Unix listener,
 * which it takes over with a use of libc of its own.
 *
 * @param fd the accepted fd (nonblocking and close-on-exec, as accept4 made it)
 * @param sockaddr the peer's address as the kernel wrote it
 * @param length the length the kernel gave
 * @returns the connection, which owns `fd`
 * @internal
 */
export function adoptAcceptedUnix(fd: number, sockaddr: Uint8Array, length: number): UnixConn {
  const libc = acquireLibc();
  return new PosixUnixConn(libc, fd, decodeUnixPath(sockaddr, length), undefined);
}

/**
 * Makes the module's own object of a Unix socket whose kind `adoptSocket`
 * has found, which it takes over with a use of libc of its own.
 *
 * @internal
 */
export function adoptUnixSocket(
  libc: Libc,
  fd: number,
  kind: "listener" | "conn" | "datagram",
): UnixListener | UnixConn | UnixDatagramSocket {
  const local = addressOf(libc, fd, "getsockname");
  switch (kind) {
    case "listener":
      acquireLibc();
      return new PosixUnixListener(libc, fd, local, undefined);
    case "conn": {
      const remote = addressOf(libc, fd, "getpeername");
      acquireLibc();
      return new PosixUnixConn(libc, fd, remote, local);
    }
    case "datagram":
      acquireLibc();
      return new PosixUnixDatagram(libc, fd, local, undefined);
  }
}

/** A listening Unix stream socket. */
class PosixUnixListener extends OwnedFd implements UnixListener {
  #addr: Deno.UnixAddr;
  #file: SocketFile | undefined;
  #async: AsyncListener<UnixConn> = new AsyncListener(this);

  constructor(libc: Libc, fd: number, path: string, file: SocketFile | undefined) {
    super(libc, fd);
    this.#addr = unixAddr(path);
    this.#file = file;
  }

  get addr(): Deno.UnixAddr {
    return { ...this.#addr };
  }

  accept(): Promise<UnixConn> {
    return this.#async.accept();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<UnixConn> {
    return this.#async.connections();
  }

  tryAccept(): UnixConn | null {
    const where = formatUnixPath(this.#addr.path);
    const fd = this.open(`Cannot accept on ${where}`, "listener");
    const libc = this.libc;
    for (;;) {
      storageLength[0] = SOCKADDR_STORAGE_SIZE;
      const conn = libc.accept4(fd, storage, storageLength, SOCKET_FLAGS);
      if (conn >= 0) {
        acquireLibc(); // the connection's own use
        return new PosixUnixConn(libc, conn, decodeUnixPath(storage, storageLength[0]), undefined);
      }
      const e = errno();
      if (e === EAGAIN) return null;
      if (e === EINTR || e === ECONNABORTED) continue;
      throw osError(`Cannot accept on fd ${fd} at ${where}`, e);
    }
  }

  override close(): void {
    if (this.closed) return;
    const libc = this.libc;
    const file = this.#file;
    // The use of libc the listener holds is given back by super.close(): take one for the unlink.
    if (file !== undefined) acquireLibc();
    super.close();
    if (file !== undefined) {
      this.#file = undefined;
      removeFile(libc, file);
      releaseLibc();
    }
  }
}

/**
 * Connects a nonblocking Unix stream socket to `target`; the promise
 * resolves once it is connected.
 *
 * @param target the checked address
 * @param signal aborts a connect that waits for room in the listener's queue
 * @returns the connection
 */
export function connectUnixPosix(
  target: UnixSocketPath,
  signal: AbortSignal | undefined,
): Promise<UnixConn> {
  const where = formatUnixPath(target.path);
  signal?.throwIfAborted();
  const libc = acquireLibc();
  let fd = -1;
  try {
    fd = openUnixSocket(libc, `Cannot open a socket to connect to ${where}`, SOCK_STREAM);
  } catch (error) {
    abandon(libc, fd);
    return Promise.reject(error);
  }
  /** One connect: true once connected, false when the queue is full; throws what it met. */
  const attempt = (): boolean => {
    for (;;) {
      if (libc.connect(fd, target.sockaddr, target.sockaddr.length) === 0) return true;
      const e = errno();
      if (e === EAGAIN) return false;
      if (e !== EINTR) throw osError(`Cannot connect fd ${fd} to ${where}`, e);
    }
  };
  const connected = () => new PosixUnixConn(libc, fd, target.path, undefined);
  try {
    if (attempt()) return Promise.resolve(connected());
  } catch (error) {
    abandon(libc, fd);
    return Promise.reject(error);
  }
  return new Promise<UnixConn>((resolve, reject) => {
    let delay = FIRST_RETRY_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (error: unknown, conn?: UnixConn) => {
      signal?.removeEventListener("abort", abort);
      if (conn !== undefined) return resolve(conn);
      abandon(libc, fd);
      reject(error);
    };
    const abort = () => {
      clearTimeout(timer);
      settle(signal!.reason);
    };
    const retry = () => {
      try {
        if (attempt()) return settle(undefined, connected());
      } catch (error) {
        return settle(error);
      }
      timer = setTimeout(retry, delay);
      delay = Math.min(delay * 2, LAST_RETRY_MS);
    };
    signal?.addEventListener("abort", abort, { once: true });
    timer = setTimeout(retry, delay);
    delay *= 2;
  });
}

/** A connected Unix stream socket. */
class PosixUnixConn extends PosixStream implements UnixConn {
  #remote: Deno.UnixAddr;
  #local: Deno.UnixAddr | undefined;

  constructor(libc: Libc, fd: number, remote: string, local: string | undefined) {
    super(libc, fd);
    this.#remote = unixAddr(remote);
    if (local !== undefined) this.#local = unixAddr(local);
  }

  get localAddr(): Deno.UnixAddr {
    if (this.#local === undefined) {
      const fd = this.openConn("Cannot read the local address");
      this.#local = unixAddr(addressOf(this.libc, fd, "getsockname"));
    }
    return { ...this.#local };
  }

  get remoteAddr(): Deno.UnixAddr {
    return { ...this.#remote };
  }

  sendFds(data: Uint8Array, fds: readonly number[]): number {
    const action = "Cannot send fds";
    checkBuffer(action, data);
    if (data.length === 0) {
      throw new TypeError(
        `${action}: data must hold at least one byte (fds travel with bytes on a stream socket)`,
      );
    }
    if (!Array.isArray(fds)) {
      throw new TypeError(`${action}: fds must be an array of fds, got ${describe(fds)}`);
    }
    for (const fd of fds) {
      if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
        throw new TypeError(
          `${action}: each fd must be a non-negative integer, got ${describe(fd)}`,
        );
      }
    }
    if (fds.length > SCM_MAX_FD) {
      throw new RangeError(
        `${action}: at most ${SCM_MAX_FD} fds go in one message (SCM_MAX_FD), got ${fds.length}`,
      );
    }
    const fd = this.openConn(action);
    return sendWithFds(this.libc, fd, data, fds);
  }

  receiveFds(buffer: Uint8Array, options?: ReceiveFdsOptions): ReceivedFds | null {
    const action = "Cannot receive fds";
    checkBuffer(action, buffer);
    if (buffer.length === 0) {
      throw new TypeError(`${action}: buffer must hold at least one byte (fds come with bytes)`);
    }
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
    }
    const maxFds = options?.maxFds ?? SCM_MAX_FD;
    if (
      typeof maxFds !== "number" || !Number.isInteger(maxFds) || maxFds < 0 || maxFds > SCM_MAX_FD
    ) {
      throw new RangeError(
        `${action}: maxFds must be an integer from 0 to ${SCM_MAX_FD}, got ${describe(maxFds)}`,
      );
    }
    const fd = this.openConn(action);
    return receiveWithFds(this.libc, fd, buffer, maxFds);
  }

  peerCredentials(): PeerCredentials {
    const fd = this.openConn("Cannot read the peer's credentials");
    credentialsLength[0] = UCRED_SIZE;
    if (this.libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, credentials, credentialsLength) < 0) {
      throw osError(`Cannot read the peer's credentials (SO_PEERCRED) of fd ${fd}`, errno());
    }
    return {
      pid: credentialsView.getInt32(0, true),
      uid: credentialsView.getUint32(UCRED_UID_OFFSET, true),
      gid: credentialsView.getUint32(UCRED_GID_OFFSET, true),
    };
  }
}

/**
 * Opens a nonblocking Unix datagram socket, bound to `address` if given.
 *
 * @param address the checked address, or undefined for an unbound socket
 * @returns the socket
 * @throws {Deno.errors.AddrInUse} if a file or a socket already holds the address
 */
export function bindUnixDatagramPosix(address: UnixSocketPath | undefined): UnixDatagramSocket {
  const where = address === undefined ? "an unbound socket" : formatUnixPath(address.path);
  const libc = acquireLibc();
  let fd = -1;
  let file: SocketFile | undefined;
  try {
    fd = openUnixSocket(libc, `Cannot open a datagram socket for ${where}`, SOCK_DGRAM);
    let path = "";
    if (address !== undefined) {
      bindTo(libc, fd, address);
      file = fileOf(libc, address);
      path = addressOf(libc, fd, "getsockname");
    }
    return new PosixUnixDatagram(libc, fd, path, file);
  } catch (error) {
    if (file !== undefined) removeFile(libc, file); // the file this call made
    abandon(libc, fd);
    throw error;
  }
}

/** A Unix datagram socket. */
class PosixUnixDatagram extends OwnedFd implements UnixDatagramSocket {
  #addr: Deno.UnixAddr;
  #file: SocketFile | undefined;
  #lastPath: unknown;
  #lastTarget: UnixSocketPath | undefined;
  #async: AsyncDatagrams<UnixAddress, Deno.UnixAddr> = new AsyncDatagrams(this);

  constructor(libc: Libc, fd: number, path: string, file: SocketFile | undefined) {
    super(libc, fd);
    this.#addr = unixAddr(path, "unixpacket");
    this.#file = file;
  }

  get addr(): Deno.UnixAddr {
    return { ...this.#addr };
  }

  #open(action: string): number {
    return this.open(action, "socket");
  }

  /** The checked destination; replies to one peer parse nothing. */
  #target(address: unknown): UnixSocketPath {
    if (typeof address !== "object" || address === null) {
      throw new TypeError(
        `Cannot send: address must be an object { path }, got ${describe(address)}`,
      );
    }
    const path = (address as Record<string, unknown>).path;
    if (this.#lastTarget !== undefined && path === this.#lastPath) return this.#lastTarget;
    const target = parseUnixPath("Cannot send to", path);
    this.#lastPath = path;
    return this.#lastTarget = target;
  }

  send(data: Uint8Array, address: UnixAddress): Promise<number> {
    return this.#async.send(data, address);
  }

  receive(buffer?: undefined): Promise<[Uint8Array<ArrayBuffer>, Deno.UnixAddr]>;
  receive<B extends ArrayBufferLike>(
    buffer: Uint8Array<B>,
  ): Promise<[Uint8Array<B>, Deno.UnixAddr]>;
  receive(buffer?: Uint8Array): Promise<[Uint8Array, Deno.UnixAddr]> {
    return this.#async.receive(buffer);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<[Uint8Array<ArrayBuffer>, Deno.UnixAddr]> {
    return this.#async.datagrams();
  }

  waitReadable(options?: ReadyOptions): Promise<void> {
    return this.#async.waitReadable(options);
  }

  waitWritable(options?: ReadyOptions): Promise<void> {
    return this.#async.waitWritable(options);
  }

  trySend(buffer: Uint8Array, address: UnixAddress): number {
    checkBuffer("Cannot send", buffer);
    const target = this.#target(address);
    const fd = this.#open("Cannot send");
    for (;;) {
      const n = this.libc.sendto(
        fd,
        buffer,
        ioSize(buffer.length),
        MSG_NOSIGNAL,
        target.sockaddr,
        target.sockaddr.length,
      );
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) {
        throw osError(`Cannot send from fd ${fd} to ${formatUnixPath(target.path)}`, e);
      }
    }
  }

  tryReceive(buffer: Uint8Array): [number, Deno.UnixAddr] | null {
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
      if (n >= 0) return [n, unixAddr(decodeUnixPath(storage, storageLength[0]), "unixpacket")];
      const e = errno();
      if (e === EAGAIN) return null;
      if (e !== EINTR) throw osError(`Cannot receive on fd ${fd}`, e);
    }
  }

  override close(): void {
    if (this.closed) return;
    const libc = this.libc;
    const file = this.#file;
    if (file !== undefined) acquireLibc();
    super.close();
    if (file !== undefined) {
      this.#file = undefined;
      removeFile(libc, file);
      releaseLibc();
    }
  }
}
