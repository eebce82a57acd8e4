// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Taking from the small queues that hot paths keep per fd (the operations
 * or waiters of one direction), without the allocation that V8's `shift()`
 * and `splice(0)` make: an array emptied by either gives its room back, and
 * the next `push()` allocates it again (152 and 208 bytes per message of an
 * echo). `pop()` keeps the room. Most of these queues hold one entry.
 *
 * @module
 */

/**
 * The first entry of `queue`, taken out (undefined if it is empty).
 *
 * @internal
 */
export function takeFirst<T>(queue: T[]): T | undefined {
  return queue.length === 1 ? queue.pop() : queue.shift();
}
