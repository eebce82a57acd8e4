// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A promise made with no closure of its own, for the hot paths that make
 * one per operation (a completion port's read, a read that waits for its
 * fd): one executor serves every promise and leaves the promise's resolve
 * and reject in {@linkcode settlers}, to be taken at once.
 *
 * @module
 */

/**
 * The resolve and reject of the promise {@linkcode newPromise} made last.
 *
 * @internal
 */
export const settlers = {
  // deno-lint-ignore no-explicit-any
  resolve: noop as (value: any) => void,
  reject: noop as (reason: unknown) => void,
};

function noop(): void {}

// deno-lint-ignore no-explicit-any
function capture(resolve: (value: any) => void, reject: (reason: unknown) => void): void {
  settlers.resolve = resolve;
  settlers.reject = reject;
}

/**
 * A new pending promise; its resolve and reject are in {@linkcode settlers}
 * until the next call.
 *
 * @internal
 */
export function newPromise<T>(): Promise<T> {
  return new Promise<T>(capture);
}
