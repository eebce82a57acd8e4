// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The socket types every OS implements (public through `net.ts`): a TCP
 * listener (`Deno.TcpListener`'s shape, less `ref()`/`unref()`, plus
 * `tryAccept()`), a TCP connection (`Deno.TcpConn`'s shape, less
 * `ref()`/`unref()`, plus the nonblocking calls) and a UDP socket (the
 * `send()`/`receive()` of `Deno.DatagramConn`, plus the nonblocking calls).
 *
 * No I/O and no OS here: the sockets live in `net/`.
 *
 * @module
 */

import type { AsyncStream, ReadyOptions } from "./async_fd.ts";

/** Where to connect: `{ hostname, port }`, as `Deno.connect` takes it. */
export interface TcpAddress {
  /**
   * An IPv4 or IPv6 literal, or "localhost" (127.0.0.1); names are not
   * resolved. Default "127.0.0.1".
   */
  hostname?: string;
  /** An integer from 0 to 65535. */
  port: number;
}

/** Options of `listenTcp()`. */
export interface ListenTcpOptions extends TcpAddress {
  /** Port 0 picks a free port (read it from `addr`). */
  port: number;
  /**
   * The length of the queue of connections not yet accepted (default 511;
   * Linux caps it at `net.core.somaxconn`).
   */
  backlog?: number;
  /**
   * Sets SO_REUSEPORT (Linux only): several listeners, one per thread or
   * process, may bind the same address and the kernel spreads connections
   * among them. Default false.
   */
  reusePort?: boolean;
}

/** Options of `connectTcp()`: where to connect, and a signal that gives up. */
export interface ConnectTcpOptions extends TcpAddress {
  /**
   * Gives up the connect: the promise rejects with the signal's reason and
   * the socket is closed.
   */
  signal?: AbortSignal;
}

/** Where a UDP datagram goes: `{ hostname, port }`. */
export type UdpAddress = TcpAddress;

/** Options of `bindUdp()`. */
export interface BindUdpOptions extends TcpAddress {
  /** Port 0 picks a free port (read it from `addr`). */
  port: number;
  /**
   * Sets SO_REUSEPORT (Linux only): several sockets, one per thread or
   * process, may bind the same address, and the kernel spreads the
   * datagrams that arrive among them. Every socket on the address must ask
   * for it. Default false.
   */
  reusePort?: boolean;
}

/** Keepalive timings of `TcpConn.setKeepAlive()`; each left as the OS has it when absent. */
export interface KeepAliveOptions {
  /** Seconds the connection stays idle before the first probe (TCP_KEEPIDLE), 1 to 32767. */
  idleSeconds?: number;
  /** Seconds between probes (TCP_KEEPINTVL), 1 to 32767. */
  intervalSeconds?: number;
  /** Probes left unanswered before the connection is dropped (TCP_KEEPCNT), 1 to 127. */
  count?: number;
}

/** Options of `UdpSocket.joinMulticast()` and `leaveMulticast()`. */
export interface MulticastOptions {
  /**
   * The interface to join on: an IPv4 address of this machine for an IPv4
   * group (default "0.0.0.0": the kernel chooses by its routes), an
   * interface index for an IPv6 group (default 0: the kernel chooses).
   */
  interface?: string | number;
}

/** Options of a socket operation started through a CompletionPort. */
export interface CancelOptions {
  /**
   * Cancels the operation: it rejects with the signal's reason if it was
   * cancelled, and resolves with its result if it completed first.
   */
  signal?: AbortSignal;
}

/** How a connection is shut down: which direction stops. */
export type ShutdownHow = "read" | "write" | "both";

/**
 * A listening TCP socket: `Deno.TcpListener`'s shape (`accept()`, `for
 * await`, `addr`, `close()`), less `ref()` and `unref()`, plus the
 * nonblocking `tryAccept()` for readiness loops.
 */
export interface TcpListener extends AsyncIterable<TcpConn>, Disposable {
  /** The socket (a SOCKET on Windows, an fd on Linux) as a number; -1 once closed. */
  readonly fd: number;
  /** The address it listens on, with the port chosen when 0 was asked. */
  readonly addr: Deno.NetAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Waits for the next connection, as `Deno.Listener.accept()` does. The
   * connection is nonblocking and not inherited by child processes.
   *
   * @returns the connection
   * @throws {Deno.errors.BadResource} (rejects) if the listener is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   * @throws {Error} (rejects) with `code` `"EMFILE"` or `"ENFILE"` when no fd is left
   *   (`"WSAEMFILE"` or `"WSAENOBUFS"` on Windows)
   */
  accept(): Promise<TcpConn>;
  /**
   * Takes the next waiting connection without blocking (readiness: call
   * it when a Selector reports the listener READABLE, until it returns
   * `null`). The connection is nonblocking and not inherited by child
   * processes.
   *
   * @returns the connection, or `null` when none is waiting
   * @throws {Deno.errors.BadResource} if the listener is closed
   * @throws {Error} with `code` `"EMFILE"` or `"ENFILE"` when no fd is left
   *   (`"WSAEMFILE"` or `"WSAENOBUFS"` on Windows)
   */
  tryAccept(): TcpConn | null;
  /**
   * The connections as they come (`for await (const conn of listener)`);
   * the loop ends quietly once the listener is closed.
   *
   * @returns an iterator of the accepted connections
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<TcpConn>;
  /**
   * Closes the socket; idempotent. A pending `accept()` rejects with
   * `Deno.errors.Interrupted` (a `for await` ends), and accepts in flight
   * through a CompletionPort once their cancellation has come back. Its
   * keys in every Selector go with it.
   */
  close(): void;
}

/**
 * A connected TCP socket: `Deno.TcpConn`'s shape (`read()`, `write()`,
 * `readable`, `writable`, `closeWrite()`, `localAddr`, `remoteAddr`,
 * `setNoDelay()`, `setKeepAlive()`, `close()`), less `ref()` and `unref()`,
 * plus readiness waits and the nonblocking calls. Its streams differ from
 * `Deno.Conn`'s at their ends: reading `readable` to its end does not
 * close the connection, and `writable.close()` is `closeWrite()`.
 */
export interface TcpConn extends AsyncStream, Disposable {
  /**
   * The socket (a SOCKET on Windows, an fd on Linux) as a number, for
   * `port.read(conn.fd, …)` and `port.write(conn.fd, …)`; -1 once closed.
   */
  readonly fd: number;
  /** This end's address. */
  readonly localAddr: Deno.NetAddr;
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Reads what is there without blocking (readiness: one `recv`).
   *
   * @param buffer where the bytes go
   * @returns the bytes read; `0` when nothing is there yet (it would
   *   block, or `buffer` is empty); `null` at the end of the stream
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the connection is closed
   * @throws {Deno.errors.ConnectionReset} if the peer reset the connection
   */
  tryRead(buffer: Uint8Array): number | null;
  /**
   * Writes what fits without blocking (readiness: one `send`, with
   * MSG_NOSIGNAL on Linux, so a dead peer is an error, never a SIGPIPE).
   *
   * @param buffer the bytes to write
   * @returns the bytes taken, maybe fewer than `buffer.length`; `0` when
   *   the socket's buffer is full (wait for WRITABLE) or `buffer` is empty
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the connection is closed
   * @throws {Deno.errors.BrokenPipe} if this end has shut writing down or the peer is gone
   * @throws {Deno.errors.ConnectionReset} if the peer reset the connection
   */
  tryWrite(buffer: Uint8Array): number;
  /**
   * Completes a connection from `startConnectTcp()` once a Selector reports it
   * WRITABLE: reads SO_ERROR and throws what the connect met. Returns at
   * once for an accepted connection, or one already complete.
   *
   * @throws {Deno.errors.ConnectionRefused} if nothing listens at the address
   * @throws {Deno.errors.TimedOut} if the peer never answered
   * @throws {Deno.errors.NetworkUnreachable} if no route leads there
   * @throws {Deno.errors.WouldBlock} if the connect is still in progress (wait for WRITABLE)
   * @throws {Deno.errors.BadResource} if the connection is closed
   */
  finishConnect(): void;
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
   * Turns Nagle's algorithm off (`true`, the default) or on: small writes
   * are sent at once instead of being gathered.
   *
   * @param on whether to send without delay
   * @throws {TypeError} if `on` is not a boolean
   * @throws {Deno.errors.BadResource} if the connection is closed
   */
  setNoDelay(on?: boolean): void;
  /**
   * Turns TCP keepalive on (`true`, the default) or off (SO_KEEPALIVE): an
   * idle connection is probed, and one whose peer has vanished is dropped
   * (reads then fail with `TimedOut`). The timings change the OS's defaults
   * (2 hours idle, then 9 probes 75 s apart on Linux) for this connection.
   *
   * @param on whether to probe
   * @param options `idleSeconds`, `intervalSeconds`, `count` (only with `on`)
   * @throws {TypeError} if `on` is not a boolean, or timings come with `on` false
   * @throws {RangeError} if a timing is out of range
   * @throws {Deno.errors.BadResource} if the connection is closed
   */
  setKeepAlive(on?: boolean, options?: KeepAliveOptions): void;
  /**
   * Stops writing (`shutdown("write")`), as `Deno.Conn.closeWrite()`: the
   * peer reads the end of the stream once it has read what was sent; this
   * end can still read.
   *
   * @returns a promise that resolves once done (at once)
   * @throws {Deno.errors.BadResource} (rejects) if the connection is closed
   * @throws {Deno.errors.NotConnected} (rejects) if it is not connected
   */
  closeWrite(): Promise<void>;
  /**
   * Closes the socket; idempotent. Pending `read()`s, `write()`s and
   * waits reject with `Deno.errors.Interrupted`, and reads and writes in
   * flight through a CompletionPort once their cancellation has come back.
   * Its keys in every Selector go with it.
   */
  close(): void;
}

/**
 * A nonblocking UDP socket: `send()` and `receive()` as
 * `Deno.DatagramConn` has them, a `for await` over what arrives, readiness
 * waits, and the nonblocking `trySend()`/`tryReceive()`.
 */
export interface UdpSocket
  extends AsyncIterable<[Uint8Array<ArrayBuffer>, Deno.NetAddr]>, Disposable {
  /** The socket's fd; -1 once closed. */
  readonly fd: number;
  /** The address it is bound to (`transport` "udp"), with the port chosen when 0 was asked. */
  readonly addr: Deno.NetAddr;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /**
   * Sends one datagram without blocking (one `sendto`). A socket bound to
   * IPv6 sends to an IPv4 address as its IPv4-mapped form.
   *
   * @param buffer the datagram
   * @param address where it goes
   * @returns the bytes sent (all of `buffer`), or `0` when the socket's buffer is full (an
   *   empty datagram is sent, and 0 returned)
   * @throws {TypeError} if `buffer` is not a Uint8Array, the hostname is not an IP
   *   literal or "localhost", or it is IPv6 and the socket IPv4
   * @throws {RangeError} if the port is not an integer from 1 to 65535
   * @throws {Deno.errors.BadResource} if the socket is closed
   * @throws {Error} with `code` `"EMSGSIZE"` if the datagram is too large
   */
  trySend(buffer: Uint8Array, address: UdpAddress): number;
  /**
   * Takes one waiting datagram without blocking (one `recvfrom`); what does
   * not fit in `buffer` is lost.
   *
   * @param buffer where the datagram goes
   * @returns its length (up to `buffer.length`) and its sender, or `null`
   *   when no datagram is waiting
   * @throws {TypeError} if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  tryReceive(buffer: Uint8Array): [number, Deno.NetAddr] | null;
  /**
   * Sends one datagram, waiting while the socket's buffer is full, as
   * `Deno.DatagramConn.send()` does.
   *
   * @param data the datagram
   * @param address where it goes (a `Deno.NetAddr` will do)
   * @returns the bytes sent (all of `data`)
   * @throws {TypeError} (rejects) if `data` is not a Uint8Array, the hostname is not an IP
   *   literal or "localhost", or it is IPv6 and the socket IPv4
   * @throws {RangeError} (rejects) if the port is not an integer from 1 to 65535
   * @throws {Deno.errors.BadResource} (rejects) if the socket is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   */
  send(data: Uint8Array, address: UdpAddress): Promise<number>;
  /**
   * Receives one datagram, waiting until one comes, as
   * `Deno.DatagramConn.receive()` does; what does not fit in the buffer
   * is lost.
   *
   * @param buffer where the datagram goes (default: a new buffer of 65,507 bytes)
   * @returns the datagram (a view of the buffer, as long as what came) and its sender
   * @throws {TypeError} (rejects) if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} (rejects) if the socket is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   */
  receive(buffer?: undefined): Promise<[Uint8Array<ArrayBuffer>, Deno.NetAddr]>;
  /**
   * Receives one datagram, waiting until one comes, as
   * `Deno.DatagramConn.receive()` does; what does not fit in the buffer
   * is lost.
   *
   * @param buffer where the datagram goes (default: a new buffer of 65,507 bytes)
   * @returns the datagram (a view of the buffer, as long as what came) and its sender
   * @throws {TypeError} (rejects) if `buffer` is not a Uint8Array
   * @throws {Deno.errors.BadResource} (rejects) if the socket is closed
   * @throws {Deno.errors.Interrupted} (rejects) if it is closed meanwhile
   */
  receive<B extends ArrayBufferLike>(buffer: Uint8Array<B>): Promise<[Uint8Array<B>, Deno.NetAddr]>;
  /**
   * The datagrams as they come (`for await (const [data, from] of socket)`),
   * each in a buffer of its own; the loop ends quietly once the socket is
   * closed.
   *
   * @returns an iterator of the datagrams and their senders
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<[Uint8Array<ArrayBuffer>, Deno.NetAddr]>;
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
   * Allows (`true`, the default) or forbids sending to a broadcast address
   * (SO_BROADCAST). Without it such a send is `PermissionDenied`.
   *
   * @param on whether broadcasts may be sent
   * @throws {TypeError} if `on` is not a boolean
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  setBroadcast(on?: boolean): void;
  /**
   * Sets the hop limit of the datagrams this socket sends to one peer (IP_TTL,
   * or IPV6_UNICAST_HOPS on an IPv6 socket).
   *
   * @param ttl from 1 to 255
   * @throws {RangeError} if `ttl` is out of range
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  setTtl(ttl: number): void;
  /**
   * Sets the hop limit of the multicast datagrams this socket sends
   * (IP_MULTICAST_TTL, or IPV6_MULTICAST_HOPS; the OS's default is 1: the
   * local network only).
   *
   * @param ttl from 0 (this host only) to 255
   * @throws {RangeError} if `ttl` is out of range
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  setMulticastTtl(ttl: number): void;
  /**
   * Whether multicast datagrams this socket sends come back to this host's
   * own members of the group (IP_MULTICAST_LOOP, or IPV6_MULTICAST_LOOP; on
   * by default).
   *
   * @param on whether they loop back
   * @throws {TypeError} if `on` is not a boolean
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  setMulticastLoopback(on?: boolean): void;
  /**
   * Joins a multicast group (IP_ADD_MEMBERSHIP, or IPV6_ADD_MEMBERSHIP):
   * datagrams sent to the group and this socket's port arrive here.
   *
   * @param group an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address
   * @param options the interface to join on
   * @throws {TypeError} if `group` is not a multicast address, or the interface not of its kind
   * @throws {RangeError} if an interface index is out of range
   * @throws {Deno.errors.AddrInUse} if this socket has joined the group on that interface
   * @throws {Deno.errors.AddrNotAvailable} if the interface address is not this machine's
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  joinMulticast(group: string, options?: MulticastOptions): void;
  /**
   * Leaves a multicast group joined with `joinMulticast()` (IP_DROP_MEMBERSHIP,
   * or IPV6_DROP_MEMBERSHIP).
   *
   * @param group the group, as joined
   * @param options the interface, as joined
   * @throws {TypeError} if `group` is not a multicast address, or the interface not of its kind
   * @throws {Deno.errors.AddrNotAvailable} if this socket has not joined the group there
   * @throws {Deno.errors.BadResource} if the socket is closed
   */
  leaveMulticast(group: string, options?: MulticastOptions): void;
  /**
   * Closes the socket; idempotent. Pending `send()`s, `receive()`s and
   * waits reject with `Deno.errors.Interrupted` (a `for await` ends). Its
   * keys in every Selector go with it.
   */
  close(): void;
}
