// Copyright 2026 the @evented/io authors. MIT license.
/**
 * An fd this module opened through libc and closes with it: what the fd
 * helpers and the Linux sockets share. Its close is announced on the close
 * hook (`backends/shared/_close_hook.ts`) first.
 *
 * It must not know what the fd is used for (pipe, socket, eventfd) nor any
 * port or selector: only the close hook hears of its close.
 *
 * @module
 */

import { announceClose } from "../backends/shared/_close_hook.ts";
import { type Libc, releaseLibc } from "../ffi/libc.ts";

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
    announceClose(fd); // first: a port cancels what it has in flight on it
    this.#libc.close(fd);
    this.#fd = -1;
    releaseLibc();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
