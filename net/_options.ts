// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The socket options' arguments, checked before any system call, the same
 * way on every OS: on/off flags, hop limits, keepalive timings, and
 * multicast groups with their interface. The sockets of each OS set the
 * options with their own constants and struct sizes.
 *
 * @module
 */

import { describe } from "../backends/shared/_describe.ts";
import { parseAddress } from "../backends/shared/_address.ts";
import type { KeepAliveOptions, MulticastOptions } from "../types/net.ts";

/** Linux's caps (include/net/tcp.h: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT). */
const MAX_KEEPALIVE_SECONDS = 32767;
const MAX_KEEPALIVE_COUNT = 127;
const MAX_TTL = 255;
const MAX_INTERFACE_INDEX = 0xffffffff;

/**
 * Checks an on/off flag.
 *
 * @throws {TypeError} unless it is a boolean
 */
export function checkFlag(action: string, on: unknown): boolean {
  if (typeof on !== "boolean") {
    throw new TypeError(`${action}: on must be a boolean, got ${describe(on)}`);
  }
  return on;
}

/**
 * Checks a hop limit (TTL): an integer from `min` to 255.
 *
 * @throws {RangeError} otherwise
 */
export function checkTtl(action: string, ttl: unknown, min: number): number {
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < min || ttl > MAX_TTL) {
    throw new RangeError(
      `${action}: ttl must be an integer from ${min} to ${MAX_TTL}, got ${describe(ttl)}`,
    );
  }
  return ttl;
}

/** Checked keepalive timings: each undefined where the OS default stays. */
export interface KeepAlive {
  readonly on: boolean;
  readonly idleSeconds: number | undefined;
  readonly intervalSeconds: number | undefined;
  readonly count: number | undefined;
}

function checkCount(action: string, name: string, value: unknown, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(
      `${action}: ${name} must be an integer from 1 to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks `setKeepAlive(on, options)`'s arguments.
 *
 * @throws {TypeError} if `on` is not a boolean, `options` not an object, or timings are given
 *   with `on` false
 * @throws {RangeError} if a timing is out of range
 */
export function checkKeepAlive(action: string, on: unknown, options: unknown): KeepAlive {
  checkFlag(action, on);
  if (options === undefined) {
    return {
      on: on as boolean,
      idleSeconds: undefined,
      intervalSeconds: undefined,
      count: undefined,
    };
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
  }
  const { idleSeconds, intervalSeconds, count } = options as KeepAliveOptions;
  const checked = {
    on: on as boolean,
    idleSeconds: checkCount(action, "idleSeconds", idleSeconds, MAX_KEEPALIVE_SECONDS),
    intervalSeconds: checkCount(action, "intervalSeconds", intervalSeconds, MAX_KEEPALIVE_SECONDS),
    count: checkCount(action, "count", count, MAX_KEEPALIVE_COUNT),
  };
  if (
    !on &&
    (checked.idleSeconds !== undefined || checked.intervalSeconds !== undefined ||
      checked.count !== undefined)
  ) {
    throw new TypeError(`${action}: timings are for turning keepalive on, not off`);
  }
  return checked;
}

/** A checked multicast group and the interface to join it on. */
export interface Multicast {
  /** Whether the group is IPv6 (ff00::/8) rather than IPv4 (224.0.0.0/4). */
  readonly ipv6: boolean;
  /** The group's address, 4 or 16 bytes in network order. */
  readonly group: Uint8Array;
  /** IPv4: the interface's address, 4 bytes (0.0.0.0: the kernel chooses). */
  readonly interfaceAddress: Uint8Array;
  /** IPv6: the interface's index (0: the kernel chooses). */
  readonly interfaceIndex: number;
  /** The group and interface as text, for messages. */
  readonly where: string;
}

/**
 * Checks a multicast group and its interface.
 *
 * @param action what is being done, for messages
 * @param group an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast literal
 * @param options `interface`: an IPv4 address of this machine for an IPv4 group, an
 *   interface index for an IPv6 group
 * @throws {TypeError} if the group is not a multicast literal, or the interface is not
 *   of the group's kind
 * @throws {RangeError} if an interface index is out of range
 */
export function parseMulticast(action: string, group: unknown, options: unknown): Multicast {
  if (typeof group !== "string") {
    throw new TypeError(`${action}: group must be a string, got ${describe(group)}`);
  }
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
  }
  const address = parseAddress(action, group, 0);
  const multicast = address.ipv6 ? address.bytes[0] === 0xff : (address.bytes[0] & 0xf0) === 224;
  if (!multicast) {
    throw new TypeError(
      `${action} ${group}: group must be a multicast address (224.0.0.0/4 or ff00::/8)`,
    );
  }
  const where = `${action} ${address.hostname}`;
  const chosen = (options as MulticastOptions | undefined)?.interface;
  if (address.ipv6) {
    const index = chosen ?? 0;
    if (typeof index !== "number") {
      throw new TypeError(
        `${where}: an IPv6 group's interface is an interface index (a number), got ${
          describe(index)
        }`,
      );
    }
    if (!Number.isInteger(index) || index < 0 || index > MAX_INTERFACE_INDEX) {
      throw new RangeError(
        `${where}: interface must be an integer from 0 to 2^32-1, got ${describe(index)}`,
      );
    }
    return {
      ipv6: true,
      group: address.bytes,
      interfaceAddress: new Uint8Array(4),
      interfaceIndex: index,
      where: `${address.hostname} on interface ${index}`,
    };
  }
  const local = chosen ?? "0.0.0.0";
  if (typeof local !== "string") {
    throw new TypeError(
      `${where}: an IPv4 group's interface is an IPv4 address of this machine, got ${
        describe(local)
      }`,
    );
  }
  const iface = parseAddress(where, local, 0);
  if (iface.ipv6) {
    throw new TypeError(`${where}: an IPv4 group's interface must be IPv4, got ${local}`);
  }
  return {
    ipv6: false,
    group: address.bytes,
    interfaceAddress: iface.bytes,
    interfaceIndex: 0,
    where: `${address.hostname} on ${iface.hostname}`,
  };
}

/**
 * The `struct ip_mreq` (group, then interface address) or `struct
 * ipv6_mreq` (group, then interface index) of a checked group, the same on
 * Linux and Windows.
 *
 * @param multicast the checked group
 * @param sizes the OS's struct sizes and the offset of the interface in each
 * @returns the struct's bytes
 */
export function encodeMembership(
  multicast: Multicast,
  sizes: { ipMreq: number; ipMreqInterface: number; ipv6Mreq: number; ipv6MreqInterface: number },
): Uint8Array {
  if (multicast.ipv6) {
    const bytes = new Uint8Array(sizes.ipv6Mreq);
    bytes.set(multicast.group, 0);
    new DataView(bytes.buffer).setUint32(sizes.ipv6MreqInterface, multicast.interfaceIndex, true);
    return bytes;
  }
  const bytes = new Uint8Array(sizes.ipMreq);
  bytes.set(multicast.group, 0);
  bytes.set(multicast.interfaceAddress, sizes.ipMreqInterface);
  return bytes;
}
