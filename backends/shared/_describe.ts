// Copyright 2026 the @evented/io authors. MIT license.
/**
 * How the module words its error messages: a bad argument described
 * without running any of its code, and the lazily built start of a
 * message. Knows nothing of selectors, ports or sockets.
 *
 * @module
 */

/** A short description of a bad argument for an error message: never calls its `valueOf` or `toString`. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  return typeof value;
}

/**
 * @internal What a call was doing, as the start of its error messages:
 * `action(fd)` gives "Cannot register fd 7 with epoll". Built once per
 * selector and called only when something fails, so that no call pays for
 * a message it does not throw.
 */
export type Action = (fd?: unknown) => string;
