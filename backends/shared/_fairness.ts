// Copyright 2026 the @evented/io authors. MIT license.
/**
 * How the waits of both models share the event loop, one set of numbers
 * for the Selector core and the CompletionPort core alike: how long work
 * may go on without a turn of the event loop, and how long a wait that
 * just found something looks again before it parks a thread.
 *
 * It must not know what waits, nor a kernel.
 *
 * @module
 */

/**
 * Under constant readiness (or operations started back to back), the event
 * loop is let turn at least this often, in milliseconds.
 */
export const STARVATION_MS = 5;

/**
 * A wait that finds nothing within this long (ms) of the last one that
 * found something keeps looking, on the next turns of the event loop, for
 * up to {@linkcode SPIN_MS} before it parks a thread: under
 * request-response traffic the next event usually comes sooner than the
 * thread hop of a park (~25 µs).
 */
export const SPIN_WINDOW_MS = 1;

/** How long (ms) a wait looks again before it parks; see {@linkcode SPIN_WINDOW_MS}. */
export const SPIN_MS = 0.05;
