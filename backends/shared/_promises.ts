// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A promise made with no closure of its own, for the hot paths that make
 * one per operation (a completion port's read, a read that waits for its
 * fd): one executor serves every promise and leaves the promise's resolve
 * and reject in {@linkcode settlers}, to be taken at once, or in an object
 * of the caller's ({@linkcode newPromiseInto}).
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

/**
 * Where the one executor puts the settlers of the promise being made:
 * {@linkcode settlers}, except within {@linkcode newPromiseInto}.
 */
let target: typeof settlers = settlers;

// deno-lint-ignore no-explicit-any
function capture(resolve: (value: any) => void, reject: (reason: unknown) => void): void {
  target.resolve = resolve;
  target.reject = reject;
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

/**
 * A new pending promise whose resolve and reject are stored in `into`
 * itself: for a long-lived object (a completion port's operation slot),
 * each young function is stored once, not twice (each store of a young
 * object into an old one goes through V8's slow write barrier).
 *
 * @param into where `resolve` and `reject` go
 * @returns the promise
 * @internal
 */
export function newPromiseInto<T>(into: typeof settlers): Promise<T> {
  target = into;
  const promise = new Promise<T>(capture); // (capture cannot throw)
  target = settlers; // not kept alive here
  return promise;
}
