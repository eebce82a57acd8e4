// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Unix socket addresses: a path checked before any system call and
 * encoded as a `struct sockaddr_un`, and decoded back to Deno's
 * `{ transport: "unix", path }`. A path is NUL-terminated in the struct; a
 * name in Linux's abstract namespace, written `"\0name"` as Deno writes it,
 * is not: its length is the address's length. An unnamed socket's address
 * is the family alone, and its path `""`.
 *
 * @module
 */

import { describe } from "../backends/shared/_describe.ts";
import { AF_UNIX, SOCKADDR_UN_SIZE, SUN_PATH_OFFSET } from "../ffi/libc.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes of `sun_path`. */
const SUN_PATH_SIZE = SOCKADDR_UN_SIZE - SUN_PATH_OFFSET;
/** The longest path: `sun_path` less its terminating NUL. */
export const MAX_UNIX_PATH_BYTES = SUN_PATH_SIZE - 1;

/** A checked Unix socket address. */
export interface UnixSocketPath {
  /** The path as given (`"\0name"` for an abstract name). */
  readonly path: string;
  /** Whether it is in the abstract namespace (no file). */
  readonly abstract: boolean;
  /** The `struct sockaddr_un`, exactly as long as the address. */
  readonly sockaddr: Uint8Array;
}

/**
 * How messages show a Unix address: the path, `@name` for an abstract
 * one (as `ss` and systemd write it), `(unnamed)` for none.
 *
 * @param path the path, `"\0name"`, or `""`
 * @returns the text
 */
export function formatUnixPath(path: string): string {
  if (path === "") return "(unnamed)";
  return path.startsWith("\0") ? `@${path.slice(1)}` : path;
}

/**
 * Checks a Unix socket path before any system call and encodes it.
 *
 * @param action what is being done, for messages ("Cannot listen on")
 * @param path a filesystem path, or `"\0name"`
 * @returns the checked address
 * @throws {TypeError} if it is not a string, is empty, or holds a NUL other than an abstract
 *   name's first character
 * @throws {RangeError} if it is too long for `sun_path`
 */
export function parseUnixPath(action: string, path: unknown): UnixSocketPath {
  if (typeof path !== "string") {
    throw new TypeError(`${action}: path must be a string, got ${describe(path)}`);
  }
  const abstract = path.startsWith("\0");
  const where = `${action} ${JSON.stringify(formatUnixPath(path))}`;
  if (path === "" || path === "\0") {
    throw new TypeError(
      `${where}: path must be a filesystem path, or "\\0" followed by an abstract name`,
    );
  }
  if (path.indexOf("\0", abstract ? 1 : 0) >= 0) {
    throw new TypeError(`${where}: path holds a NUL character`);
  }
  const bytes = encoder.encode(path);
  // A path needs room for its NUL; an abstract name has none, but its leading NUL counts.
  const limit = abstract ? SUN_PATH_SIZE : MAX_UNIX_PATH_BYTES;
  if (bytes.length > limit) {
    throw new RangeError(
      `${where}: path must be at most ${limit} bytes of UTF-8${
        abstract ? " (the leading NUL included)" : ""
      }, got ${bytes.length}`,
    );
  }
  const sockaddr = new Uint8Array(SUN_PATH_OFFSET + bytes.length + (abstract ? 0 : 1));
  new DataView(sockaddr.buffer).setUint16(0, AF_UNIX, true);
  sockaddr.set(bytes, SUN_PATH_OFFSET);
  return { path, abstract, sockaddr };
}

/**
 * The path in a `struct sockaddr_un` the kernel filled, `length` bytes long.
 *
 * @param bytes the struct
 * @param length the length the kernel gave
 * @returns the path, `"\0name"` for an abstract one, `""` for an unnamed socket
 */
export function decodeUnixPath(bytes: Uint8Array, length: number): string {
  if (length <= SUN_PATH_OFFSET) return "";
  const end = Math.min(length, SOCKADDR_UN_SIZE);
  if (bytes[SUN_PATH_OFFSET] === 0) {
    return "\0" + decoder.decode(bytes.subarray(SUN_PATH_OFFSET + 1, end));
  }
  const nul = bytes.indexOf(0, SUN_PATH_OFFSET);
  return decoder.decode(bytes.subarray(SUN_PATH_OFFSET, nul >= 0 && nul < end ? nul : end));
}
