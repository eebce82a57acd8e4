// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The one close hook: "one of this module's fds or handles is about to be
 * closed". Whatever this module opens and closes (pipes, eventfds, sockets,
 * listeners, named pipes, files) announces it here first, with its fd
 * (Linux) or its HANDLE's address (Windows); what keeps state by that
 * number (a CompletionPort cancels the operations in flight on it and
 * forgets it) watches here. Numbers are reused at once by the kernel, so
 * such state must go before the close, not after.
 *
 * It knows nothing of who closes or who watches.
 *
 * @module
 */

/** Called with the fd, or the HANDLE's address, just before it is closed. */
export type CloseWatcher = (key: number) => void;

const watchers = new Set<CloseWatcher>();

/**
 * Calls `watcher` before each of this module's fds or handles is closed,
 * until {@linkcode unwatchCloses}.
 *
 * @internal
 */
export function watchCloses(watcher: CloseWatcher): void {
  watchers.add(watcher);
}

/**
 * Stops calling `watcher`.
 *
 * @internal
 */
export function unwatchCloses(watcher: CloseWatcher): void {
  watchers.delete(watcher);
}

/**
 * Announces that the fd or handle `key` is about to be closed: every
 * watcher is called, now.
 *
 * @internal
 */
export function announceClose(key: number): void {
  if (watchers.size > 0) {
    for (const watcher of watchers) watcher(key);
  }
}
