// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The argument checks of a CompletionPort's calls, shared by the core and
 * its engines: keys, packets, buffers, offsets, options and addresses. A
 * bad argument is a TypeError or a RangeError before any system call.
 *
 * It owns the wording of those errors and nothing else: it must not know an
 * engine, a kernel or a port's state (whether it is closed, what is in
 * flight).
 *
 * @module
 */

import type { CancelOptions } from "../types/net.ts";
import { parseAddress, type SocketAddress } from "./shared/_address.ts";
import { describe } from "./shared/_describe.ts";
import { normalizeTimeout } from "./shared/_timeouts.ts";
import type { WaitOptions } from "../types/selector.ts";

/** The largest safe integer key. */
const MAX_KEY = Number.MAX_SAFE_INTEGER;

/**
 * Checks a completion key.
 *
 * @internal
 */
export function checkKey(action: string, key: unknown): number {
  if (typeof key !== "number" || !Number.isSafeInteger(key) || key < 0 || key > MAX_KEY) {
    throw new RangeError(
      `${action}: key must be a non-negative safe integer, got ${describe(key)}`,
    );
  }
  return key;
}

/**
 * Checks the arguments of `post()`: a key, a DWORD byte count and a
 * pointer (or null).
 *
 * @internal
 */
export function checkPost(action: string, key: unknown, bytes: unknown, overlapped: unknown): void {
  checkKey(action, key);
  if (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < 0 || bytes > 0xffffffff) {
    throw new RangeError(
      `${action}: bytes must be an integer from 0 to 2^32-1, got ${describe(bytes)}`,
    );
  }
  if (overlapped !== null && typeof overlapped !== "object") {
    throw new TypeError(
      `${action}: overlapped must be a pointer or null, got ${describe(overlapped)}`,
    );
  }
}

/**
 * Checks an I/O buffer: a Uint8Array over a fixed-length, unshared, attached ArrayBuffer.
 *
 * @internal
 */
export function checkIoBuffer(action: string, buffer: unknown): Uint8Array {
  if (!(buffer instanceof Uint8Array)) {
    throw new TypeError(`${action}: buffer must be a Uint8Array, got ${describe(buffer)}`);
  }
  const backing = buffer.buffer;
  if (!(backing instanceof ArrayBuffer)) {
    throw new TypeError(`${action}: buffer must not be over a SharedArrayBuffer`);
  }
  if (backing.resizable) throw new TypeError(`${action}: buffer must not be resizable`);
  if (backing.detached) throw new TypeError(`${action}: buffer is detached`);
  return buffer;
}

/**
 * Checks an offset: a non-negative integer below 2^63, as a bigint; or
 * undefined.
 *
 * @internal
 */
export function checkOffset(action: string, offset: unknown): bigint | undefined {
  if (offset === undefined) return undefined;
  if (typeof offset === "number") {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`${action}: offset must be a non-negative safe integer, got ${offset}`);
    }
    return BigInt(offset);
  }
  if (typeof offset === "bigint") {
    if (offset < 0n || offset >= 1n << 63n) {
      throw new RangeError(`${action}: offset must be from 0 to 2^63-1, got ${offset}n`);
    }
    return offset;
  }
  throw new TypeError(`${action}: offset must be a number or a bigint, got ${describe(offset)}`);
}

/**
 * Checks the options of a socket operation; returns its signal.
 *
 * @internal
 */
export function checkCancelOptions(action: string, options: unknown): AbortSignal | undefined {
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
 * Checks the address of a port's `connect()`: `{ hostname, port }`.
 *
 * @internal
 */
export function checkConnectAddress(address: unknown): SocketAddress {
  if (typeof address !== "object" || address === null) {
    throw new TypeError(
      `Cannot connect: address must be an object { hostname, port }, got ${describe(address)}`,
    );
  }
  const { hostname = "127.0.0.1", port } = address as Record<string, unknown>;
  return parseAddress("Cannot connect to", hostname, port);
}

/**
 * Checks the options of `wait()`: returns its timeout in milliseconds
 * (Infinity: none) and its signal.
 *
 * @internal
 */
export function checkWaitOptions(
  action: string,
  options: unknown,
): { ms: number; signal: AbortSignal | undefined } {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${action}: options must be an object, got ${describe(options)}`);
  }
  const ms = normalizeTimeout(() => action, (options as WaitOptions | undefined)?.timeout);
  const signal = (options as WaitOptions | undefined)?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${action}: signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return { ms, signal };
}
