// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Sockets this module did not open: an fd inherited from a launcher
 * (systemd's LISTEN_FDS), received over a Unix socket, or handed over by a
 * native library. The kernel says what it is (SO_DOMAIN, SO_TYPE,
 * SO_PROTOCOL, SO_ACCEPTCONN); the fd is then made nonblocking and
 * close-on-exec and taken over by the module's own object of that kind,
 * built by `_posix.ts` (TCP, UDP) or `_unix.ts` (Unix).
 *
 * Classifying changes nothing, so that a caller with several fds (listenFds)
 * can refuse them all before it adopts any; adopting restores the fd's
 * flags if it fails.
 *
 * @module
 */

import { describe } from "../backends/shared/_describe.ts";
import { osError } from "../ffi/errors.ts";
import {
  acquireLibc,
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_PACKET,
  AF_UNIX,
  ENOTSOCK,
  errno,
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  INT_SIZE,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Libc,
  O_NONBLOCK,
  releaseLibc,
  SO_ACCEPTCONN,
  SO_DOMAIN,
  SO_PROTOCOL,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  SOL_SOCKET,
} from "../ffi/libc.ts";
import { adoptInetSocket } from "./_posix.ts";
import { adoptUnixSocket } from "./_unix.ts";
import type { AdoptedSocket } from "../types/unix.ts";

const FAMILY_NAMES: Readonly<Record<number, string>> = {
  [AF_UNIX]: "AF_UNIX",
  [AF_INET]: "AF_INET",
  [AF_INET6]: "AF_INET6",
  [AF_NETLINK]: "AF_NETLINK",
  [AF_PACKET]: "AF_PACKET",
};
const TYPE_NAMES: Readonly<Record<number, string>> = {
  [SOCK_STREAM]: "SOCK_STREAM",
  [SOCK_DGRAM]: "SOCK_DGRAM",
  [SOCK_RAW]: "SOCK_RAW",
  [SOCK_SEQPACKET]: "SOCK_SEQPACKET",
};

/** What a socket is, as far as adopting it goes. */
export interface SocketKind {
  readonly fd: number;
  readonly family: "inet" | "unix";
  readonly ipv6: boolean;
  readonly kind: "listener" | "conn" | "datagram";
}

const option = new Int32Array(1);
const optionLength = new Uint32Array(1);
const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const storageLength = new Uint32Array(1);

/** An int socket option of `fd`, or the error; ENOTSOCK is a TypeError carrying its code. */
function intOption(libc: Libc, fd: number, name: number, optionName: string): number {
  option[0] = 0;
  optionLength[0] = INT_SIZE;
  if (libc.getsockopt(fd, SOL_SOCKET, name, option, optionLength) < 0) {
    const e = errno();
    throw e === ENOTSOCK
      ? osError(`Cannot adopt fd ${fd}: it is not a socket`, e, TypeError)
      : osError(`Cannot adopt fd ${fd}: cannot read ${optionName}`, e);
  }
  return option[0];
}

/**
 * Checks an fd number.
 *
 * @throws {TypeError} unless it is an integer from 0 to 2^31-1
 */
export function checkFd(action: string, fd: unknown): number {
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new TypeError(`${action}: fd must be a non-negative integer, got ${describe(fd)}`);
  }
  return fd;
}

/**
 * Asks the kernel what `fd` is; changes nothing.
 *
 * @throws {TypeError} (code ENOTSOCK) if it is not a socket
 * @throws {Deno.errors.BadResource} if it is not open
 * @throws {Deno.errors.NotSupported} for a socket this module has no object for
 * @throws {Deno.errors.NotConnected} for a stream socket neither listening nor connected
 */
export function classifySocket(libc: Libc, fd: number): SocketKind {
  const domain = intOption(libc, fd, SO_DOMAIN, "SO_DOMAIN");
  const type = intOption(libc, fd, SO_TYPE, "SO_TYPE");
  const protocol = intOption(libc, fd, SO_PROTOCOL, "SO_PROTOCOL");
  const listening = intOption(libc, fd, SO_ACCEPTCONN, "SO_ACCEPTCONN") !== 0;
  const what = `a ${FAMILY_NAMES[domain] ?? `family ${domain}`} socket of type ${
    TYPE_NAMES[type] ?? type
  }`;
  const unsupported = () =>
    new Deno.errors.NotSupported(
      `Cannot adopt fd ${fd}, ${what}${
        domain === AF_UNIX || domain === AF_INET || domain === AF_INET6
          ? ` and protocol ${protocol}`
          : ""
      }: the module has objects for TCP, UDP, and Unix stream and datagram sockets`,
    );
  let family: "inet" | "unix";
  if (domain === AF_UNIX) {
    if (type !== SOCK_STREAM && type !== SOCK_DGRAM) throw unsupported();
    family = "unix";
  } else if (domain === AF_INET || domain === AF_INET6) {
    const known = (type === SOCK_STREAM && protocol === IPPROTO_TCP) ||
      (type === SOCK_DGRAM && protocol === IPPROTO_UDP);
    if (!known) throw unsupported();
    family = "inet";
  } else {
    throw unsupported();
  }
  const kind = type === SOCK_DGRAM ? "datagram" : listening ? "listener" : "conn";
  if (kind === "conn") {
    storageLength[0] = SOCKADDR_STORAGE_SIZE;
    if (libc.getpeername(fd, storage, storageLength) < 0) {
      throw osError(`Cannot adopt fd ${fd}, ${what} neither listening nor connected`, errno());
    }
  }
  return { fd, family, ipv6: domain === AF_INET6, kind };
}

/**
 * Makes a classified socket nonblocking and close-on-exec and hands it to
 * its object, which owns it from then on; on failure its flags are as they
 * were.
 */
export function adoptClassified(libc: Libc, socket: SocketKind): AdoptedSocket {
  const { fd } = socket;
  const status = libc.fcntl(fd, F_GETFL);
  const fdFlags = status < 0 ? -1 : libc.fcntl(fd, F_GETFD);
  if (status < 0 || fdFlags < 0) {
    throw osError(`Cannot adopt fd ${fd}: cannot read its flags`, errno());
  }
  if (
    libc.fcntl_arg(fd, F_SETFL, status | O_NONBLOCK) < 0 ||
    libc.fcntl_arg(fd, F_SETFD, fdFlags | FD_CLOEXEC) < 0
  ) {
    const error = osError(`Cannot make fd ${fd} nonblocking and close-on-exec`, errno());
    libc.fcntl_arg(fd, F_SETFL, status);
    throw error;
  }
  try {
    return socket.family === "unix"
      ? adoptUnixSocket(libc, fd, socket.kind)
      : adoptInetSocket(libc, fd, socket.kind, socket.ipv6);
  } catch (error) {
    libc.fcntl_arg(fd, F_SETFL, status);
    libc.fcntl_arg(fd, F_SETFD, fdFlags);
    throw error;
  }
}

/**
 * Takes over a socket fd as the module's own object of its kind.
 *
 * @param fd the checked fd
 * @returns the object, which owns `fd`
 */
export function adoptSocketPosix(fd: number): AdoptedSocket {
  const libc = acquireLibc();
  try {
    return adoptClassified(libc, classifySocket(libc, fd));
  } finally {
    releaseLibc(); // the object holds its own use
  }
}
