// Copyright 2026 the @evented/io authors. MIT license.
/**
 * `watchFd()` on Windows: a SOCKET a program holds (its value as the fd),
 * awaited through the reactor (afd). Windows cannot tell whether a socket
 * is nonblocking, so reads and writes need `nonblocking: true` (FIONBIO is
 * set then, and cleared again on `close()` when the socket is not owned);
 * readiness waits work on any socket. `writable.close()` shuts an owned
 * socket down for sending; it leaves a socket not owned as it is.
 *
 * It must not know the reactor's waiters or a Selector: `AsyncIo` and the
 * reactor hold those.
 *
 * @module
 */

import { win32Error } from "../ffi/errors.ts";
import { pointerAt } from "../ffi/_pointer.ts";
import { MAX_WIN32_IO } from "../ffi/kernel32.ts";
import {
  acquireWs2_32,
  FIONBIO,
  releaseWs2_32,
  SD_SEND,
  SO_TYPE,
  SOCKET_ERROR,
  SOL_SOCKET,
  type Ws2_32,
  WSAEINTR,
  WSAEWOULDBLOCK,
} from "../ffi/ws2_32.ts";
import { announceClose } from "../backends/shared/_close_hook.ts";
import { checkBuffer } from "../backends/shared/_checks.ts";
import { reactor } from "../backends/_reactor.ts";
import type { AsyncFd, ReadyOptions } from "../types/async_fd.ts";
import { AsyncIo } from "./_async_io.ts";

/**
 * Watches the socket whose value is `fd` (checked: an integer in range).
 *
 * @param fd the SOCKET's value
 * @param owned whether `close()` closes it
 * @param nonblocking whether to set FIONBIO
 * @returns the watched socket
 * @throws {Deno.errors.BadResource} if `fd` is not a socket
 */
export function watchWinsockFd(fd: number, owned: boolean, nonblocking: boolean): AsyncFd {
  const action = `Cannot watch socket ${fd}`;
  const ws = acquireWs2_32();
  try {
    const socket = pointerAt(fd) as Deno.PointerObject;
    const type = new Int32Array(1);
    const length = new Int32Array([4]);
    if (
      ws.getsockopt(
        socket,
        SOL_SOCKET,
        SO_TYPE,
        new Uint8Array(type.buffer),
        new Uint8Array(length.buffer),
      ) === SOCKET_ERROR
    ) {
      throw win32Error(action, ws.WSAGetLastError());
    }
    if (nonblocking && setMode(ws, socket, 1) !== 0) {
      throw win32Error(action, ws.WSAGetLastError());
    }
    return new WinsockWatchedFd(ws, socket, fd, owned, nonblocking);
  } catch (error) {
    releaseWs2_32();
    throw error;
  }
}

/** Sets or clears FIONBIO; returns 0 or SOCKET_ERROR. */
function setMode(ws: Ws2_32, socket: Deno.PointerObject, on: number): number {
  return ws.ioctlsocket(socket, FIONBIO, new Uint8Array(new Uint32Array([on]).buffer));
}

/** A socket watched through the reactor. */
class WinsockWatchedFd implements AsyncFd {
  readonly #ws: Ws2_32;
  readonly #socket: Deno.PointerObject;
  #fd: number;
  readonly #owned: boolean;
  readonly #nonblocking: boolean;
  readonly #io: AsyncIo;

  constructor(
    ws: Ws2_32,
    socket: Deno.PointerObject,
    fd: number,
    owned: boolean,
    nonblocking: boolean,
  ) {
    this.#ws = ws;
    this.#socket = socket;
    this.#fd = fd;
    this.#owned = owned;
    this.#nonblocking = nonblocking;
    this.#io = new AsyncIo(this, {
      noun: "socket",
      closeWrite: owned ? () => this.#shutdownSend() : undefined,
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
    if (fd < 0) throw new Deno.errors.BadResource(`${action}: the socket is closed`);
    if (!this.#nonblocking) {
      throw new TypeError(
        `${action}: Windows cannot tell whether socket ${fd} blocks, and a read or write ` +
          `that blocks would block the event loop (watch it with { nonblocking: true }, or ` +
          `only wait for readiness)`,
      );
    }
    return fd;
  }

  #shutdownSend(): void {
    if (this.#fd >= 0 && this.#ws.shutdown(this.#socket, SD_SEND) === SOCKET_ERROR) {
      throw win32Error(`Cannot shut down socket ${this.#fd}`, this.#ws.WSAGetLastError());
    }
  }

  tryRead(buffer: Uint8Array): number | null {
    checkBuffer("Cannot read", buffer);
    const fd = this.#checkIo(`Cannot read from socket ${this.#fd}`);
    if (buffer.length === 0) return 0;
    const length = buffer.length > MAX_WIN32_IO ? MAX_WIN32_IO : buffer.length;
    for (;;) {
      const n = this.#ws.recv(this.#socket, buffer, length, 0);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = this.#ws.WSAGetLastError();
      if (e === WSAEWOULDBLOCK) return 0;
      if (e !== WSAEINTR) throw win32Error(`Cannot read from socket ${fd}`, e);
    }
  }

  tryWrite(buffer: Uint8Array): number {
    checkBuffer("Cannot write", buffer);
    const fd = this.#checkIo(`Cannot write to socket ${this.#fd}`);
    if (buffer.length === 0) return 0;
    const length = buffer.length > MAX_WIN32_IO ? MAX_WIN32_IO : buffer.length;
    for (;;) {
      const n = this.#ws.send(this.#socket, buffer, length, 0);
      if (n >= 0) return n;
      const e = this.#ws.WSAGetLastError();
      if (e === WSAEWOULDBLOCK) return 0;
      if (e !== WSAEINTR) throw win32Error(`Cannot write to socket ${fd}`, e);
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
    if (this.#owned) {
      announceClose(fd); // the reactor and every selector let it go first
      this.#ws.closesocket(this.#socket);
    } else {
      reactor().forget(fd);
      if (this.#nonblocking) setMode(this.#ws, this.#socket, 0);
    }
    releaseWs2_32();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
