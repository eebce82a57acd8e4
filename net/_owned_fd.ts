// Copyright 2026 the @evented/io authors. MIT license.
/**
 * An fd this module opened through libc and closes with it: what the fd
 * helpers and the Linux sockets share.
 *
 * @module
 */

import { type Libc, releaseLibc } from "../ffi/libc.ts";

/** Called with the fd just before an {@linkcode OwnedFd} closes it. */
export type CloseWatcher = (fd: number) => void;

const watchers = new Set<CloseWatcher>();

/**
 * Calls `watcher` with the fd just before any {@linkcode OwnedFd} closes
 * it (a CompletionPort cancels what it has in flight on that fd), until
 * {@linkcode unwatchCloses}.
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

/** An open fd holding one use of libc, given back when it is closed. */
export class OwnedFd implements Disposable {
  #fd: number;
  #libc: Libc;

  /**
   * @param libc the bound libc, one use of which this fd now holds
   * @param fd the open fd
   */
  constructor(libc: Libc, fd: number) {
    this.#libc = libc;
    this.#fd = fd;
  }

  /** The fd number (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The bound libc. */
  protected get libc(): Libc {
    return this.#libc;
  }

  /** The open fd, or a BadResource error: "<action>: the <noun> is closed". */
  protected open(action: string, noun = "fd"): number {
    if (this.#fd < 0) throw new Deno.errors.BadResource(`${action}: the ${noun} is closed`);
    return this.#fd;
  }

  /** Closes the fd; idempotent. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    if (watchers.size > 0) { for (const watcher of watchers) watcher(fd); }
    this.#libc.close(fd);
    this.#fd = -1;
    releaseLibc();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
