// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The Unix socket types (public through `unix.ts`): a listener, a
 * connection that can carry fds, a datagram socket, and what fd passing,
 * peer credentials and socket activation return.
 *
 * The shapes follow the TCP ones of `net.ts`: an `fd` getter (`-1` once
 * closed), `closed`, `close()` (idempotent, and `using` calls it), `try*`
 * calls that never block (`null` or `0` when they would), and the
 * awaitable members (`accept()` and `for await` on a listener; `read()`,
 * `write()`, the streams and `closeWrite()` on a connection, the shape of
 * `Deno.UnixConn` less `ref()`/`unref()`; `send()`, `receive()` and `for
 * await` on a datagram socket).
 *
 * @module
 */

import type { ShutdownHow, TcpConn, TcpListener, UdpSocket } from "./net.ts";
import type { AsyncStream, ReadyOptions } from "./async_fd.ts";

/** Where a Unix socket is: a path, or `"\0name"` in Linux's abstract namespace. */
export interface UnixAddress {
  /**
   * A filesystem path (at most 107 bytes of UTF-8, no NUL), or a NUL
   * followed by a name of 1 to 107 bytes for the abstract namespace, which
   * has no file.
   */
  path: string;
}

/** What {@linkcode UnixConn.receiveFds} took. */
export interface ReceivedFds {
  /** The bytes read into the buffer; `null` at the end of the stream. */
  bytes: number | null;
  /**
   * The fds that came with those bytes, close-on-exec, now this process's
   * own: close them (or adopt them) when done.
   */
  fds: number[];
  /**
   * Whether more fds were sent than `maxFds` allowed (MSG_CTRUNC): those
   * in `fds` arrived, and the kernel closed the rest.
   */
  truncated: boolean;
}

/** The process at the other end of a Unix socket, as the kernel saw it connect (SO_PEERCRED). */
export interface PeerCredentials {
  /** Its process id. */
  pid: number;
  /** Its user id. */
  uid: number;
  /** Its group id. */
  gid: number;
}

/** Options of {@linkcode UnixConn.receiveFds}. */
export interface ReceiveFdsOptions {
  /**
   * The most fds to take with this message, from 0 to 253 (SCM_MAX_FD,
   * the default: as many as one message can carry). The control buffer is
   * sized for exactly this many; fds beyond are closed by the kernel and
   * `truncated` says so.
   */
  maxFds?: number;
}

/**
 * A listening Unix stream socket (Linux): `Deno.UnixListener`'s shape
 * (`accept()`, `for await`, `addr`, `close()`), less `ref()`/`unref()`,
 * plus the nonblocking `tryAccept()`.
 */
export interface UnixListener extends AsyncIterable<UnixConn>, Disposable {
  /** The socket's fd; -1 once closed. */
  readonly fd: number;
  /** The address it listens on (`transport` "unix"). */
  readonly addr: Deno.UnixAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Takes the next waiting connection without blocking (readiness: call it
   * when a Selector reports the listener READABLE, until it returns
   * `null`). The connection is nonblocking and close-on-exec.
   *
   * @returns the connection, or `null` when none is waiting
   * @throws {Deno.errors.BadResource} if the listener is closed
   * @throws {Error} with `code` `"EMFILE"` or `"ENFILE"` when no fd is left
   */
  tryAccept(): UnixConn | null;
  /**
   * Waits for the next connection, as `Deno.Listener.accept()` does. The
   * connection is nonblocking and close-on-exec.
   *
   * @returns the connection
   * @throws {Deno.errors.BadResource} (rejects) if the listener is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   * @throws {Error} (rejects) with `code` `"EMFILE"` or `"ENFILE"` when no fd is left
   */
  accept(): Promise<UnixConn>;
  /**
   * The connections as they come (`for await (const conn of listener)`);
   * the loop ends quietly once the listener is closed.
   *
   * @returns an iterator of the accepted connections
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<UnixConn>;
  /**
   * Closes the socket; idempotent. A pending `accept()` rejects with
   * `Deno.errors.Interrupted` (a `for await` ends), and its keys in every
   * Selector go with it. A listener that made its socket file
   * (`listenUnix` on a path) removes it, unless something else has taken
   * its place; an adopted one leaves the file to whoever made it.
   */
  close(): void;
}

/**
 * A connected Unix stream socket (Linux): the shape of `TcpConn` (and of
 * `Deno.UnixConn`, less `ref()`/`unref()`), plus fd passing and the peer's
 * credentials. Its streams end as `TcpConn`'s do: reading `readable` to
 * its end does not close the connection, and `writable.close()` is
 * `closeWrite()`.
 */
export interface UnixConn extends AsyncStream, Disposable {
  /** The socket's fd; -1 once closed. */
  readonly fd: number;
  /** This end's address: `path` is `""` when it is unnamed (a connecting client usually is). */
  readonly localAddr: Deno.UnixAddr;
  /** The peer's address: `path` is `""` when it is unnamed (an accepted client usually is). */
  readonly remoteAddr: Deno.UnixAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Reads what is there without blocking (one `recv`). Fds that a peer
   * sent with these bytes are closed by the kernel: where fds may come,
   * read with {@linkcode UnixConn.receiveFds}.
   *
   * @param buffer where the bytes go
   * @returns the bytes read; `0` when nothing is there yet (or `buffer` is
   *   empty); `null` at the end of the stream
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the connection is closed
   * @throws {Deno.errors.ConnectionReset} if the peer reset the connection
   */
  tryRead(buffer: Uint8Array): number | null;
  /**
   * Writes what fits without blocking (one `send` with MSG_NOSIGNAL: a dead
   * peer is an error, never a SIGPIPE).
   *
   * @param buffer the bytes to write
   * @returns the bytes taken, maybe fewer than `buffer.length`; `0` when
   *   the socket's buffer is full (wait for WRITABLE) or `buffer` is empty
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the connection is closed
   * @throws {Deno.errors.BrokenPipe} if this end has shut writing down or the peer is gone
   */
  tryWrite(buffer: Uint8Array): number;
  /**
   * Sends `data` with copies of `fds` attached (one `sendmsg` with an
   * SCM_RIGHTS message), without blocking. The fds travel with the first
   * byte: a partial send returns the bytes taken and the fds went with
   * them; write the rest with `tryWrite`. The fds stay open here: close
   * them when this process no longer needs them.
   *
   * @param data the bytes the fds travel with: at least one
   * @param fds the fds to send, at most 253 (SCM_MAX_FD)
   * @returns the bytes taken; `0` when the socket's buffer is full (then no
   *   fd was sent either)
   * @throws {TypeError} if `data` is not a non-empty Uint8Array, or `fds` not an array of fds
   * @throws {RangeError} if more than 253 fds are given
   * @throws {Deno.errors.BadResource} if the connection is closed, or an fd is not open
   *   (code `"EBADF"`)
   * @throws {Deno.errors.BrokenPipe} if the peer is gone
   * @throws {Error} with `code` `"ETOOMANYREFS"` if fds in flight exceed the kernel's limit
   */
  sendFds(data: Uint8Array, fds: readonly number[]): number;
  /**
   * Reads what is there, and the fds that came with it, without blocking
   * (one `recvmsg` with MSG_CMSG_CLOEXEC). Fds come with the bytes they
   * were sent with, and a call ends with those bytes: bytes sent without
   * fds before them may come in the same call, the bytes after them come
   * in the next, and one call never returns the fds of two messages.
   *
   * @param buffer where the bytes go (at least one byte long)
   * @param options `maxFds`: the most fds to take (default 253)
   * @returns the bytes, the fds and whether fds were lost (beyond `maxFds`, or beyond what
   *   this process had room for: RLIMIT_NOFILE), or `null` when nothing is there yet
   * @throws {TypeError} if `buffer` is not a non-empty Uint8Array
   * @throws {RangeError} if `maxFds` is not an integer from 0 to 253
   * @throws {Deno.errors.BadResource} if the connection is closed
   * @throws {Deno.errors.ConnectionReset} if the peer reset the connection
   */
  receiveFds(buffer: Uint8Array, options?: ReceiveFdsOptions): ReceivedFds | null;
  /**
   * The credentials of the process that made the other end (SO_PEERCRED):
   * for a connection, the process that called connect or listen, as it was
   * then.
   *
   * @returns its pid, uid and gid
   * @throws {Deno.errors.BadResource} if the connection is closed
   */
  peerCredentials(): PeerCredentials;
  /**
   * Shuts one direction, or both, down: after "write", the peer reads the
   * end of the stream once it has read what was sent.
   *
   * @param how "write" (the default), "read" or "both"
   * @throws {TypeError} if `how` is none of those
   * @throws {Deno.errors.BadResource} if the connection is closed
   * @throws {Deno.errors.NotConnected} if it is not connected
   */
  shutdown(how?: ShutdownHow): void;
  /**
   * Stops writing (`shutdown("write")`), as `Deno.Conn.closeWrite()`: the
   * peer reads the end of the stream; this end can still read.
   *
   * @returns a promise that resolves once done (at once)
   * @throws {Deno.errors.BadResource} (rejects) if the connection is closed
   */
  closeWrite(): Promise<void>;
  /**
   * Closes the socket; idempotent. Pending `read()`s, `write()`s and waits
   * reject with `Deno.errors.Interrupted`; its keys in every Selector go
   * with it.
   */
  close(): void;
}

/**
 * A Unix datagram socket (Linux): `/dev/log`, systemd's notify socket, and
 * your own. `send()`, `receive()` and `for await` as a `UdpSocket` has them.
 */
export interface UnixDatagramSocket
  extends AsyncIterable<[Uint8Array<ArrayBuffer>, Deno.UnixAddr]>, Disposable {
  /** The socket's fd; -1 once closed. */
  readonly fd: number;
  /**
   * The address it is bound to; `path` is `""` for an unbound socket.
   * `transport` is "unixpacket", the name Deno gives its own Unix
   * datagram sockets (`Deno.listenDatagram`).
   */
  readonly addr: Deno.UnixAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Sends one datagram without blocking (one `sendto`).
   *
   * @param buffer the datagram
   * @param address where it goes (a path or an abstract name)
   * @returns the bytes sent (all of `buffer`), or `0` when the receiver's queue is full
   * @throws {TypeError} if `buffer` is not a Uint8Array, or the path is not one
   * @throws {Deno.errors.NotFound} if nothing exists at the path
   * @throws {Deno.errors.ConnectionRefused} if no socket is bound there
   * @throws {Deno.errors.BadResource} if the socket is closed
   * @throws {Error} with `code` `"EMSGSIZE"` if the datagram is too large
   */
  trySend(buffer: Uint8Array, address: UnixAddress): number;
  /**
   * Takes one waiting datagram without blocking (one `recvfrom`); what does
   * not fit in `buffer` is lost.
   *
   * @param buffer where the datagram goes
   * @returns its length (up to `buffer.length`) and its sender (`path` `""`
   *   for an unbound one), or `null` when no datagram is waiting
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  tryReceive(buffer: Uint8Array): [number, Deno.UnixAddr] | null;
  /**
   * Sends one datagram, waiting while the receiver's queue is full.
   *
   * @param data the datagram
   * @param address where it goes (a path or an abstract name)
   * @returns the bytes sent (all of `data`)
   * @throws {TypeError} (rejects) if `data` is not a Uint8Array, or the path is not one
   * @throws {Deno.errors.NotFound} (rejects) if nothing exists at the path
   * @throws {Deno.errors.ConnectionRefused} (rejects) if no socket is bound there
   * @throws {Deno.errors.BadResource} (rejects) if the socket is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   */
  send(data: Uint8Array, address: UnixAddress): Promise<number>;
  /**
   * Receives one datagram, waiting until one comes; what does not fit in
   * the buffer is lost.
   *
   * @param buffer where the datagram goes (default: a new buffer of 65,507 bytes)
   * @returns the datagram (a view of the buffer, as long as what came) and its sender
   * @throws {TypeError} (rejects) if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} (rejects) if the socket is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   */
  receive(buffer?: undefined): Promise<[Uint8Array<ArrayBuffer>, Deno.UnixAddr]>;
  /**
   * Receives one datagram, waiting until one comes; what does not fit in
   * the buffer is lost.
   *
   * @param buffer where the datagram goes (default: a new buffer of 65,507 bytes)
   * @returns the datagram (a view of the buffer, as long as what came) and its sender
   * @throws {TypeError} (rejects) if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} (rejects) if the socket is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   */
  receive<B extends ArrayBufferLike>(
    buffer: Uint8Array<B>,
  ): Promise<[Uint8Array<B>, Deno.UnixAddr]>;
  /**
   * The datagrams as they come, each in a buffer of its own; the loop ends
   * quietly once the socket is closed.
   *
   * @returns an iterator of the datagrams and their senders
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<[Uint8Array<ArrayBuffer>, Deno.UnixAddr]>;
  /**
   * Waits until a datagram waits (or the socket failed).
   *
   * @param options an abort signal and a timeout
   * @returns a promise that resolves once the socket is readable
   * @throws {Deno.errors.TimedOut} (rejects) after `timeout` ms
   * @throws {Deno.errors.Interrupted} (rejects) if the socket is closed meanwhile
   * @throws {Deno.errors.BadResource} (rejects) if it is closed already
   */
  waitReadable(options?: ReadyOptions): Promise<void>;
  /**
   * Waits until a datagram can be sent.
   *
   * @param options an abort signal and a timeout
   * @returns a promise that resolves once the socket is writable
   * @throws {Deno.errors.TimedOut} (rejects) after `timeout` ms
   * @throws {Deno.errors.Interrupted} (rejects) if the socket is closed meanwhile
   * @throws {Deno.errors.BadResource} (rejects) if it is closed already
   */
  waitWritable(options?: ReadyOptions): Promise<void>;
  /**
   * Closes the socket; idempotent. Pending `send()`s, `receive()`s and
   * waits reject with `Deno.errors.Interrupted` (a `for await` ends), and
   * its keys in every Selector go with it. A socket bound to a path
   * removes its file, unless something else has taken its place.
   */
  close(): void;
}

/** What `adoptSocket()` returns: the module's own object for the socket's kind. */
export type AdoptedSocket =
  | TcpListener
  | TcpConn
  | UdpSocket
  | UnixListener
  | UnixConn
  | UnixDatagramSocket;

/** One socket that systemd (or another launcher) passed with LISTEN_FDS. */
export interface ListenedSocket {
  /** Its name from LISTEN_FDNAMES (systemd's `FileDescriptorName=`), or "unknown". */
  name: string;
  /** The socket, adopted: the module's own object, which owns the fd. */
  socket: AdoptedSocket;
}
