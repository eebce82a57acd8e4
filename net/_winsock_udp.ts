// Copyright 2026 the @evented/io authors. MIT license.
/**
 * UDP sockets over Winsock, driven by readiness (the afd Selector):
 * nonblocking `sendto`/`recvfrom`, each one call that never blocks
 * (WSAEWOULDBLOCK is `0` or `null`, never an error), and `send()`/
 * `receive()` that wait through the reactor when they would block. An
 * IPv6 socket also takes IPv4 peers; an ICMP port-unreachable does not
 * fail the next receive.
 *
 * It knows no port and no TCP connection.
 *
 * @module
 */

import {
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_MREQ_INTERFACE_OFFSET,
  IP_MREQ_SIZE,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_TTL,
  IPPROTO_IP,
  IPV6_ADD_MEMBERSHIP,
  IPV6_DROP_MEMBERSHIP,
  IPV6_MREQ_INTERFACE_OFFSET,
  IPV6_MREQ_SIZE,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_LOOP,
  IPV6_UNICAST_HOPS,
  SO_BROADCAST,
  SOL_SOCKET,
} from "../ffi/ws2_32.ts";
import {
  checkFlag,
  checkTtl,
  encodeMembership,
  type Multicast,
  parseMulticast,
} from "./_options.ts";
import type { MulticastOptions } from "../types/net.ts";
import { checkBuffer } from "../backends/shared/_checks.ts";
import { MAX_WIN32_IO } from "../ffi/kernel32.ts";
import { pointerValue } from "../ffi/_pointer.ts";
import { win32Error } from "../ffi/errors.ts";
import {
  INT_SIZE,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SIO_UDP_CONNRESET,
  SOCKADDR_STORAGE_SIZE,
  SOCKET_ERROR,
  type Ws2_32,
  WSAECONNRESET,
  WSAEMSGSIZE,
  WSAEWOULDBLOCK,
} from "../ffi/ws2_32.ts";
import {
  decodeSockaddr,
  encodeSockaddr,
  formatAddress,
  type SocketAddress,
  UdpDestinations,
} from "../backends/shared/_address.ts";
import type { UdpAddress, UdpSocket } from "../types/net.ts";
import type { ReadyOptions } from "../types/async_fd.ts";
import { AsyncDatagrams } from "./_async_io.ts";

import {
  closeSocket,
  FAMILIES,
  openSocket,
  setIntOption,
  type Socket,
  socketAddress,
  storage,
  storageLength,
} from "./_winsock_socket.ts";

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
  const fd = pointerValue(socket);
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

const MEMBERSHIP_SIZES = {
  ipMreq: IP_MREQ_SIZE,
  ipMreqInterface: IP_MREQ_INTERFACE_OFFSET,
  ipv6Mreq: IPV6_MREQ_SIZE,
  ipv6MreqInterface: IPV6_MREQ_INTERFACE_OFFSET,
};

/** A bound UDP socket. */
class WinsockUdpSocket implements UdpSocket {
  #ws: Ws2_32;
  #socket: Socket;
  #fd: number;
  #addr: Deno.NetAddr;
  #closed = false;
  #destinations: UdpDestinations;
  #ipv6: boolean;
  #async: AsyncDatagrams<UdpAddress, Deno.NetAddr> = new AsyncDatagrams(this);

  constructor(ws: Ws2_32, socket: Socket, ipv6: boolean, addr: Deno.NetAddr) {
    this.#ipv6 = ipv6;
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = pointerValue(socket);
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
    this.#checkOpen(`Cannot send from socket ${this.#fd}`);
    const ws = this.#ws;
    const length = buffer.length > MAX_WIN32_IO ? MAX_WIN32_IO : buffer.length;
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
    const length = buffer.length > MAX_WIN32_IO ? MAX_WIN32_IO : buffer.length;
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
