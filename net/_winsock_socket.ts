// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What every Winsock socket of this module shares, TCP or UDP: opening one
 * (overlapped, nonblocking, not inherited, with a use of ws2_32 until it
 * is closed), closing one (every port forgets it first), options, its
 * addresses, and the scratch space of calls that fill a struct.
 *
 * It knows no connection, listener or datagram: `_winsock.ts` (TCP) and
 * `_winsock_udp.ts` build on it.
 *
 * @module
 */

import { pointerValue } from "../ffi/_pointer.ts";
import { announceClose } from "../backends/shared/_close_hook.ts";
import { win32Error } from "../ffi/errors.ts";
import {
  acquireWs2_32,
  AF_INET,
  AF_INET6,
  FIONBIO,
  INT_SIZE,
  INVALID_SOCKET,
  IPPROTO_TCP,
  IPPROTO_UDP,
  releaseWs2_32,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  SOCKET_ERROR,
  type Ws2_32,
  WSA_FLAG_NO_HANDLE_INHERIT,
  WSA_FLAG_OVERLAPPED,
} from "../ffi/ws2_32.ts";
import { type AddressFamilies, decodeSockaddr } from "../backends/shared/_address.ts";

export const FAMILIES: AddressFamilies = { inet: AF_INET, inet6: AF_INET6 };
/** One call moves at most this many bytes (an int count). */

// Scratch space for the calls that fill a struct (JavaScript runs one call
// at a time on a thread, and each module instance belongs to one thread).
export const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
export const storageLength = new Int32Array(1);
export const option = new Int32Array(1);
export const optionLength = new Int32Array(1);
const ONE = new Uint32Array([1]);

/** A SOCKET: its value as a pointer (for calls) and as a number (its `fd`). */
export type Socket = Deno.PointerObject;

/** Whether a SOCKET returned by WSASocketW or accept is INVALID_SOCKET. */
export function isInvalidSocket(socket: Deno.PointerValue): socket is null {
  return socket === null || Deno.UnsafePointer.value(socket) === INVALID_SOCKET;
}

/** Makes a socket nonblocking; returns 0 or the Winsock error. */
export function setNonblocking(ws: Ws2_32, socket: Socket): number {
  return ws.ioctlsocket(socket, FIONBIO, ONE) === SOCKET_ERROR ? ws.WSAGetLastError() : 0;
}

/**
 * Opens an overlapped, nonblocking, non-inheritable TCP (or UDP) socket,
 * with a use of ws2_32 that `closeSocket()` gives back (given back at once
 * if the open fails).
 */
export function openSocket(
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
  if (isInvalidSocket(socket)) {
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
export function closeSocket(ws: Ws2_32, socket: Socket): void {
  announceClose(pointerValue(socket)); // first: what is in flight on it is cancelled as a close
  ws.closesocket(socket);
  releaseWs2_32();
}

/** Calls setsockopt with an int value; returns 0 or the Winsock error. */
export function setIntOption(
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
export function socketAddress(
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
