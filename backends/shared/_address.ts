import { describe } from "./_describe.ts";
// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Socket addresses: `{ hostname, port }` checked before any system call,
 * encoded to `struct sockaddr_in`/`sockaddr_in6` bytes, and decoded back to
 * Deno's `NetAddr` shape. No name is resolved: a hostname is an IPv4 or
 * IPv6 literal, or "localhost".
 *
 * The two layouts are the same in Winsock and on Linux (little-endian
 * family, then the port in network order); only the value of AF_INET6
 * differs, so the caller passes the family numbers of its OS.
 *
 * It owns the bytes of an address; it must not know a socket, a call or an
 * OS (the caller brings its family numbers).
 *
 * @module
 */

/** sizeof(struct sockaddr_in). */
export const SOCKADDR_IN_SIZE = 16;
/** sizeof(struct sockaddr_in6). */
export const SOCKADDR_IN6_SIZE = 28;
/** offsetof(sockaddr_in*, sin*_family): a 16-bit family in host (little-endian) order. */
const FAMILY_OFFSET = 0;
/** offsetof(sockaddr_in*, sin*_port): a 16-bit port in network order. */
const PORT_OFFSET = 2;
/** offsetof(struct sockaddr_in, sin_addr). */
const IN_ADDR_OFFSET = 4;
/** offsetof(struct sockaddr_in6, sin6_addr). */
const IN6_ADDR_OFFSET = 8;
/** offsetof(struct sockaddr_in6, sin6_scope_id). */
const IN6_SCOPE_ID_OFFSET = 24;
const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const MAX_PORT = 0xffff;

/** The address-family numbers of an OS. */
export interface AddressFamilies {
  /** AF_INET (2 everywhere). */
  readonly inet: number;
  /** AF_INET6 (23 on Windows, 10 on Linux). */
  readonly inet6: number;
}

/** A checked socket address. */
export interface SocketAddress {
  /** The hostname in its canonical form ("localhost" becomes "127.0.0.1"). */
  readonly hostname: string;
  readonly port: number;
  /** Whether it is an IPv6 address. */
  readonly ipv6: boolean;
  /** The address: 4 bytes (IPv4) or 16 (IPv6), in network order. */
  readonly bytes: Uint8Array;
  /** The IPv6 scope (zone) id, 0 if none. */
  readonly scopeId: number;
}

/**
 * Checks a port: an integer from 0 to 65535.
 *
 * @param action what is being done, for the message
 * @param port the value given
 * @returns the port
 * @throws {RangeError} otherwise
 */
export function checkPort(action: string, port: unknown): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > MAX_PORT) {
    throw new RangeError(
      `${action}: port must be an integer from 0 to 65535, got ${describe(port)}`,
    );
  }
  return port;
}

/**
 * Parses and checks `{ hostname, port }` before any system call.
 *
 * @param action what is being done, ending in a preposition ("Cannot listen on"); messages
 *   read "Cannot listen on example.com:80: hostname must be …"
 * @param hostname an IPv4 literal ("127.0.0.1"), an IPv6 literal ("::1",
 *   "[::1]", "fe80::1%3" with a numeric zone), or "localhost" (127.0.0.1)
 * @param port an integer from 0 to 65535
 * @returns the checked address
 * @throws {RangeError} if the port is not an integer from 0 to 65535
 * @throws {TypeError} if the hostname is not a string, or not an IP literal or "localhost"
 */
export function parseAddress(action: string, hostname: unknown, port: unknown): SocketAddress {
  const shown = typeof hostname === "string"
    ? (hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname)
    : describe(hostname);
  const where = `${action} ${shown}:${typeof port === "number" ? port : describe(port)}`;
  checkPort(where, port);
  if (typeof hostname !== "string") {
    throw new TypeError(`${where}: hostname must be a string, got ${describe(hostname)}`);
  }
  const checkedPort = port as number;
  if (hostname.toLowerCase() === "localhost") {
    return {
      hostname: "127.0.0.1",
      port: checkedPort,
      ipv6: false,
      bytes: LOOPBACK_V4,
      scopeId: 0,
    };
  }
  const v4 = parseIpv4(hostname);
  if (v4 !== undefined) {
    return { hostname: formatIpv4(v4), port: checkedPort, ipv6: false, bytes: v4, scopeId: 0 };
  }
  let literal = hostname;
  if (literal.startsWith("[") && literal.endsWith("]")) literal = literal.slice(1, -1);
  let scopeId = 0;
  const percent = literal.indexOf("%");
  if (percent >= 0) {
    const zone = literal.slice(percent + 1);
    if (!/^[0-9]{1,10}$/.test(zone) || Number(zone) > 0xffffffff) {
      throw new TypeError(
        `${where}: an IPv6 zone must be a number (an interface index), got ${JSON.stringify(zone)}`,
      );
    }
    scopeId = Number(zone);
    literal = literal.slice(0, percent);
  }
  const v6 = parseIpv6(literal);
  if (v6 !== undefined) {
    const text = formatIpv6(v6) + (scopeId !== 0 ? `%${scopeId}` : "");
    return { hostname: text, port: checkedPort, ipv6: true, bytes: v6, scopeId };
  }
  throw new TypeError(
    `${where}: hostname must be an IPv4 or IPv6 literal or "localhost" ` +
      `(names are not resolved), got ${JSON.stringify(hostname)}`,
  );
}

/**
 * The text of an address with its port, as messages show it: "127.0.0.1:80", "[::1]:80".
 *
 * @param address a checked address, or a decoded one
 * @returns the text
 */
export function formatAddress(address: { hostname: string; port: number }): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

/**
 * The wildcard address (0.0.0.0 or ::, port 0) of the family of `address`.
 *
 * @param address any checked address
 * @returns the wildcard of its family
 */
export function wildcardOf(address: SocketAddress): SocketAddress {
  return address.ipv6
    ? { hostname: "::", port: 0, ipv6: true, bytes: new Uint8Array(IPV6_BYTES), scopeId: 0 }
    : { hostname: "0.0.0.0", port: 0, ipv6: false, bytes: new Uint8Array(IPV4_BYTES), scopeId: 0 };
}

/**
 * Encodes a checked address as a `sockaddr_in` or `sockaddr_in6`.
 *
 * @param address the address
 * @param families the OS's family numbers
 * @returns the struct's bytes (16 or 28)
 */
export function encodeSockaddr(address: SocketAddress, families: AddressFamilies): Uint8Array {
  const bytes = new Uint8Array(address.ipv6 ? SOCKADDR_IN6_SIZE : SOCKADDR_IN_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint16(FAMILY_OFFSET, address.ipv6 ? families.inet6 : families.inet, true);
  view.setUint16(PORT_OFFSET, address.port, false);
  if (address.ipv6) {
    bytes.set(address.bytes, IN6_ADDR_OFFSET);
    view.setUint32(IN6_SCOPE_ID_OFFSET, address.scopeId, true);
  } else {
    bytes.set(address.bytes, IN_ADDR_OFFSET);
  }
  return bytes;
}

/**
 * Decodes a `sockaddr_in` or `sockaddr_in6` into Deno's address shape.
 *
 * @param bytes the struct (at least as long as its family's struct)
 * @param length the length the kernel gave
 * @param families the OS's family numbers
 * @returns `{ transport: "tcp", hostname, port }`
 * @throws {TypeError} if the family is neither, or the struct is too short
 */
export function decodeSockaddr(
  bytes: Uint8Array,
  length: number,
  families: AddressFamilies,
): Deno.NetAddr {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = view.getUint16(FAMILY_OFFSET, true);
  const port = view.getUint16(PORT_OFFSET, false);
  if (family === families.inet && length >= SOCKADDR_IN_SIZE) {
    const hostname = formatIpv4(bytes.subarray(IN_ADDR_OFFSET, IN_ADDR_OFFSET + IPV4_BYTES));
    return { transport: "tcp", hostname, port };
  }
  if (family === families.inet6 && length >= SOCKADDR_IN6_SIZE) {
    const scopeId = view.getUint32(IN6_SCOPE_ID_OFFSET, true);
    const hostname = formatIpv6(bytes.subarray(IN6_ADDR_OFFSET, IN6_ADDR_OFFSET + IPV6_BYTES)) +
      (scopeId !== 0 ? `%${scopeId}` : "");
    return { transport: "tcp", hostname, port };
  }
  throw new TypeError(`Cannot decode a socket address of family ${family} and ${length} bytes`);
}

const LOOPBACK_V4 = new Uint8Array([127, 0, 0, 1]);

/** Four decimal octets from 0 to 255, without leading zeros; or undefined. */
function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== IPV4_BYTES) return undefined;
  const bytes = new Uint8Array(IPV4_BYTES);
  for (let i = 0; i < IPV4_BYTES; i++) {
    const part = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function formatIpv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * Eight groups of 1 to 4 hex digits, one run of them replaceable by "::",
 * the last two writable as an IPv4 literal; or undefined.
 */
function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups: number[][] = [];
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h];
    const words: number[] = [];
    if (half !== "") {
      const parts = half.split(":");
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i];
        if (i === parts.length - 1 && h === halves.length - 1 && part.includes(".")) {
          const v4 = parseIpv4(part);
          if (v4 === undefined) return undefined;
          words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
          words.push(parseInt(part, 16));
        } else {
          return undefined;
        }
      }
    }
    groups.push(words);
  }
  let words: number[];
  if (groups.length === 1) {
    if (groups[0].length !== 8) return undefined;
    words = groups[0];
  } else {
    const missing = 8 - groups[0].length - groups[1].length;
    if (missing < 1) return undefined;
    words = [...groups[0], ...new Array<number>(missing).fill(0), ...groups[1]];
  }
  const bytes = new Uint8Array(IPV6_BYTES);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = words[i] >> 8;
    bytes[2 * i + 1] = words[i] & 0xff;
  }
  return bytes;
}

/** RFC 5952 text: lowercase, the longest run of two or more zero groups as "::". */
function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  // IPv4-mapped (::ffff:a.b.c.d) is shown with its IPv4 tail.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes.subarray(12))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((w) => w.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/** ::ffff:0:0/96, the prefix of an IPv4-mapped IPv6 address. */
const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * The destinations of a UDP socket: each `{ hostname, port }` checked and
 * encoded for the socket's family (IPv4 peers of an IPv6 socket as
 * v4-mapped addresses), the last one kept so that replies to one peer
 * parse nothing.
 *
 * @internal
 */
export class UdpDestinations {
  #ipv6: boolean;
  #bound: string;
  #families: AddressFamilies;
  #lastHostname: unknown;
  #lastPort: unknown;
  #lastSockaddr: Uint8Array | undefined;
  #lastWhere = "";

  /**
   * @param ipv6 whether the socket is IPv6
   * @param bound the socket's own address, for messages
   * @param families the OS's address family numbers
   */
  constructor(ipv6: boolean, bound: string, families: AddressFamilies) {
    this.#ipv6 = ipv6;
    this.#bound = bound;
    this.#families = families;
  }

  /** The last destination encoded, as text, for messages. */
  get where(): string {
    return this.#lastWhere;
  }

  /** The sockaddr of `address`, or a TypeError/RangeError. */
  encode(address: unknown): Uint8Array {
    if (typeof address !== "object" || address === null) {
      throw new TypeError(
        `Cannot send: address must be an object { hostname, port }, got ${describe(address)}`,
      );
    }
    const { hostname = "127.0.0.1", port } = address as Record<string, unknown>;
    if (
      this.#lastSockaddr !== undefined && hostname === this.#lastHostname &&
      port === this.#lastPort
    ) {
      return this.#lastSockaddr;
    }
    let target = parseAddress("Cannot send to", hostname, port);
    if (target.port === 0) {
      throw new RangeError(
        `Cannot send to ${formatAddress(target)}: port must be an integer from 1 to 65535`,
      );
    }
    if (target.ipv6 && !this.#ipv6) {
      throw new TypeError(
        `Cannot send to ${formatAddress(target)}: the socket is bound to IPv4 ` +
          `(${this.#bound}), the address is IPv6`,
      );
    }
    if (!target.ipv6 && this.#ipv6) {
      const bytes = new Uint8Array(16);
      bytes.set(V4_MAPPED_PREFIX);
      bytes.set(target.bytes, V4_MAPPED_PREFIX.length);
      target = { ...target, ipv6: true, bytes };
    }
    const sockaddr = encodeSockaddr(target, this.#families);
    this.#lastHostname = hostname;
    this.#lastPort = port;
    this.#lastSockaddr = sockaddr;
    this.#lastWhere = formatAddress(target);
    return sockaddr;
  }
}
