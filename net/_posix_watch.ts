// Copyright 2026 the @evented/io authors. MIT license.
/**
 * `watchFd()` on Linux: any pollable fd a program holds, awaited through
 * the reactor. Its mode is read with fcntl (O_NONBLOCK) and left alone
 * unless `nonblocking` asks to set it (put back on `close()` when the fd is
 * not owned); reads and writes are refused on a blocking fd, before any
 * I/O, since they would block the event loop. `writable.close()` shuts an
 * owned socket down for writing and closes another owned fd; it leaves an
 * fd not owned as it is. A regular file or a
 * directory, which epoll cannot watch (it is always ready), is refused.
 *
 * It must not know the reactor's waiters or a Selector: `AsyncIo` and the
 * reactor hold those.
 *
 * @module
 */

import { osError } from "../ffi/errors.ts";
import {
  acquireLibc,
  EAGAIN,
  EINTR,
  errno,
  F_GETFL,
  F_SETFL,
  ioSize,
  type Libc,
  O_NONBLOCK,
  releaseLibc,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SHUT_WR,
  STAT_MODE_OFFSET,
  STAT_SIZE,
} from "../ffi/libc.ts";
import { announceClose } from "../backends/shared/_close_hook.ts";
import { checkBuffer } from "../backends/shared/_checks.ts";
import { reactor } from "../backends/_reactor.ts";
import type { AsyncFd, ReadyOptions } from "../types/async_fd.ts";
import { AsyncIo } from "./_async_io.ts";

/**
 * Watches `fd` (checked: an integer in range).
 *
 * @param fd the fd
 * @param owned whether `close()` closes it
 * @param nonblocking whether to set O_NONBLOCK
 * @returns the watched fd
 * @throws {Deno.errors.BadResource} if `fd` is not open
 * @throws {Deno.errors.NotSupported} if it is a regular file or a directory
 */
export function watchPosixFd(fd: number, owned: boolean, nonblocking: boolean): AsyncFd {
  const action = `Cannot watch fd ${fd}`;
  const libc = acquireLibc();
  try {
    const stat = new Uint8Array(STAT_SIZE);
    if (libc.fstat(fd, stat) < 0) throw osError(action, errno());
    const type = new DataView(stat.buffer).getUint32(STAT_MODE_OFFSET, true) & S_IFMT;
    if (type === S_IFREG || type === S_IFDIR) {
      throw new Deno.errors.NotSupported(
        `${action}: a ${type === S_IFREG ? "regular file" : "directory"} is always ready; ` +
          `epoll cannot watch it (read it with a CompletionPort)`,
      );
    }
    const flags = libc.fcntl(fd, F_GETFL);
    if (flags < 0) throw osError(action, errno());
    let restore: number | undefined;
    if (nonblocking && (flags & O_NONBLOCK) === 0) {
      if (libc.fcntl_arg(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw osError(action, errno());
      if (!owned) restore = flags;
    }
    const nonblock = nonblocking || (flags & O_NONBLOCK) !== 0;
    return new PosixWatchedFd(libc, fd, owned, nonblock, restore, type === S_IFSOCK);
  } catch (error) {
    releaseLibc();
    throw error;
  }
}

/** An fd watched through the reactor. */
class PosixWatchedFd implements AsyncFd {
  readonly #libc: Libc;
  #fd: number;
  readonly #owned: boolean;
  readonly #nonblocking: boolean;
  /** The flags to put back on close (O_NONBLOCK was set on an fd not owned). */
  readonly #restore: number | undefined;
  readonly #io: AsyncIo;

  constructor(
    libc: Libc,
    fd: number,
    owned: boolean,
    nonblocking: boolean,
    restore: number | undefined,
    socket: boolean,
  ) {
    this.#libc = libc;
    this.#fd = fd;
    this.#owned = owned;
    this.#nonblocking = nonblocking;
    this.#restore = restore;
    this.#io = new AsyncIo(this, {
      noun: "fd",
      // An owned socket ends its writing side; another owned fd (a pipe's
      // write end) is closed; an fd not owned is left as it is.
      closeWrite: !owned ? undefined : socket ? () => this.#shutdownWrite() : () => this.close(),
      checkIo: (action) => this.#checkIo(action),
    });
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  #checkIo(action: string): number {
    const fd = this.#fd;
    if (fd < 0) throw new Deno.errors.BadResource(`${action}: the fd is closed`);
    if (!this.#nonblocking) {
      throw new TypeError(
        `${action}: fd ${fd} is in blocking mode, and a read or write would block the event ` +
          `loop (watch it with { nonblocking: true }, or only wait for readiness)`,
      );
    }
    return fd;
  }

  #shutdownWrite(): void {
    const fd = this.#fd;
    if (fd >= 0 && this.#libc.shutdown(fd, SHUT_WR) < 0) {
      throw osError(`Cannot shut down fd ${fd}`, errno());
    }
  }

  tryRead(buffer: Uint8Array): number | null {
    checkBuffer("Cannot read", buffer);
    const fd = this.#checkIo(`Cannot read from fd ${this.#fd}`);
    if (buffer.length === 0) return 0;
    const size = ioSize(buffer.length);
    for (;;) {
      const n = this.#libc.read(fd, buffer, size);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw osError(`Cannot read from fd ${fd}`, e);
    }
  }

  tryWrite(buffer: Uint8Array): number {
    checkBuffer("Cannot write", buffer);
    const fd = this.#checkIo(`Cannot write to fd ${this.#fd}`);
    if (buffer.length === 0) return 0;
    const size = ioSize(buffer.length);
    for (;;) {
      const n = this.#libc.write(fd, buffer, size);
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw osError(`Cannot write to fd ${fd}`, e);
    }
  }

  waitReadable(options?: ReadyOptions): Promise<void> {
    return this.#io.waitReadable(options);
  }

  waitWritable(options?: ReadyOptions): Promise<void> {
    return this.#io.waitWritable(options);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#io.read(buffer);
  }

  write(buffer: Uint8Array): Promise<number> {
    return this.#io.write(buffer);
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#io.readable;
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#io.writable;
  }

  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    const libc = this.#libc;
    if (this.#owned) {
      announceClose(fd); // the reactor and every selector let it go first
      libc.close(fd);
    } else {
      reactor().forget(fd);
      if (this.#restore !== undefined) libc.fcntl_arg(fd, F_SETFL, this.#restore);
    }
    releaseLibc();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
