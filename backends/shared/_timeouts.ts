// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Timeouts as every wait of the module reads them: milliseconds, `Infinity`
 * or `undefined` for none, `0` or less for at once, fractions rounded up
 * (never early), anything else a TypeError. Knows nothing of what waits.
 *
 * @module
 */

import { type Action, describe } from "./_describe.ts";

/**
 * Normalises a timeout: `Infinity` for none, `0` for at once, else whole
 * milliseconds rounded up.
 *
 * @internal
 */
export function normalizeTimeout(action: Action, timeout: unknown): number {
  if (timeout === undefined) return Infinity;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(
      `${action()}: timeout must be a number of milliseconds, got ${describe(timeout)}`,
    );
  }
  if (timeout <= 0) return 0;
  return Math.ceil(timeout);
}
