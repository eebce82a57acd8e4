// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The nonblocking calls the epoll CompletionPort makes on one fd, each
 * retried on EINTR and answering bytes or `-errno` (never throwing): a read
 * (recv with MSG_DONTWAIT on a socket), a write (send with MSG_NOSIGNAL on
 * a socket; at most PIPE_BUF bytes on a blocking pipe, which is written no
 * more than it takes without blocking once writable), a pread or pwrite at
 * an offset, and what a connecting socket's readiness means (SO_ERROR, then
 * the peer's address).
 *
 * It knows no operation and no core: `epoll_port.ts` decides what an
 * answer means.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  EINTR,
  errno,
  INT_SIZE,
  ioSize,
  type Libc,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  PIPE_BUF,
  SO_ERROR,
  SOCKADDR_STORAGE_SIZE,
  SOL_SOCKET,
} from "../../ffi/libc.ts";
import { type AddressFamilies, decodeSockaddr } from "../shared/_address.ts";

/** The address families of a TCP peer's sockaddr. */
const INET_FAMILIES: AddressFamilies = { inet: AF_INET, inet6: AF_INET6 };
const SEND_FLAGS = MSG_NOSIGNAL | MSG_DONTWAIT;

// Scratch space for the calls that fill a struct (one thread runs this module instance).
const option = new Int32Array(1);
const optionLength = new Uint32Array(1);
const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const storageLength = new Uint32Array(1);

/**
 * One read of up to `length` bytes into `buffer`.
 *
 * @returns the bytes (0 at the end of the stream), or -errno
 */
export function readOnce(
  libc: Libc,
  fd: number,
  socket: boolean,
  buffer: Uint8Array,
  length: number,
): number {
  const size = ioSize(length);
  for (;;) {
    const n = socket ? libc.recv(fd, buffer, size, MSG_DONTWAIT) : libc.read(fd, buffer, size);
    if (n >= 0) return n;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/**
 * One write of `rest` (at most PIPE_BUF bytes of it when the fd blocks).
 *
 * @returns the bytes taken, or -errno
 */
export function writeOnce(
  libc: Libc,
  fd: number,
  socket: boolean,
  blocking: boolean,
  rest: Uint8Array,
  count: number,
): number {
  if (blocking && count > PIPE_BUF) count = PIPE_BUF;
  const size = ioSize(count);
  for (;;) {
    const n = socket ? libc.send(fd, rest, size, SEND_FLAGS) : libc.write(fd, rest, size);
    if (n >= 0) return n;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/**
 * One pread (`read`) or pwrite of all of `rest` at `offset`.
 *
 * @returns the bytes, or -errno
 */
export function fileOnce(
  libc: Libc,
  fd: number,
  read: boolean,
  rest: Uint8Array,
  offset: bigint,
): number {
  const size = ioSize(rest.length);
  for (;;) {
    const n = read ? libc.pread(fd, rest, size, offset) : libc.pwrite(fd, rest, size, offset);
    if (n >= 0) return n;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/**
 * The peer of a connected TCP socket (getpeername).
 *
 * @returns its address, or the errno (ENOTCONN: not connected yet)
 */
export function peerOf(libc: Libc, fd: number): Deno.NetAddr | number {
  storageLength[0] = SOCKADDR_STORAGE_SIZE;
  if (libc.getpeername(fd, storage, storageLength) < 0) return errno();
  return decodeSockaddr(storage, storageLength[0], INET_FAMILIES);
}

/**
 * What a connecting socket's writability means: connected (its peer), or
 * the errno it failed with, or `ENOTCONN` (spuriously ready: still under
 * way).
 */
export function connectOutcome(libc: Libc, fd: number): Deno.NetAddr | number {
  option[0] = 0;
  optionLength[0] = INT_SIZE;
  const e = libc.getsockopt(fd, SOL_SOCKET, SO_ERROR, option, optionLength) < 0
    ? errno()
    : option[0];
  return e === 0 ? peerOf(libc, fd) : e;
}
