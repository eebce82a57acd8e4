// Copyright 2026 the @evented/io authors. MIT license.
/**
 * TCP and UDP sockets, with Deno's address shape `{ hostname, port }`, IPv4
 * and IPv6; no name is resolved (a hostname is an IP literal or
 * "localhost").
 *
 * The sockets can be awaited as Deno's own are: {@linkcode listenTcp}
 * gives a listener with `accept()` and `for await`, {@linkcode connectTcp}
 * resolves once connected, and a connection has `read()`, `write()`,
 * `readable`, `writable` and `closeWrite()` (the shape of `Deno.TcpConn`,
 * less `ref()`/`unref()`); {@linkcode bindUdp} gives `send()` and
 * `receive()`. One reactor per thread (a Selector) serves them all.
 *
 * The same sockets are nonblocking and can be driven by readiness on both
 * OSes: their `fd` goes to a Selector (epoll or poll on Linux, afd on
 * Windows), {@linkcode startConnectTcp} starts a connect without waiting,
 * and `tryAccept()`, `tryRead()`, `tryWrite()`, `finishConnect()`,
 * `trySend()` and `tryReceive()` never block (`null` or `0` when they
 * would).
 *
 * The TCP sockets can also be driven by completions, through a
 * CompletionPort: its `accept()` and `connect()` make connections, and its
 * `read()` and `write()` move their bytes (on Windows every socket is
 * overlapped as well as nonblocking, so that IOCP can drive it).
 *
 * Errors are `Deno.errors` classes (`ConnectionRefused`, `ConnectionReset`,
 * `AddrInUse`, `AddrNotAvailable`, …) with `code` (such as
 * `"ECONNREFUSED"` or `"WSAECONNREFUSED"`) and `errno`, and a message naming
 * the call and the fd. Bad ports and hosts are a `RangeError` or
 * `TypeError` thrown before any system call.
 *
 * It owns the public socket functions and their argument checks; it must
 * not know an engine or switch on the OS (`_platform.ts` picks the socket
 * code).
 *
 * @module
 */

import { formatAddress, parseAddress } from "./backends/shared/_address.ts";
import { socketsHere } from "./_platform.ts";
import type {
  BindUdpOptions,
  ConnectTcpOptions,
  ListenTcpOptions,
  TcpAddress,
  TcpConn,
  TcpListener,
  UdpSocket,
} from "./types/net.ts";

/** The backlog of a listener when none is given (as Node.js and libuv do). */
const DEFAULT_BACKLOG = 511;
const MAX_BACKLOG = 0x7fffffff;

export type {
  BindUdpOptions,
  CancelOptions,
  ConnectTcpOptions,
  KeepAliveOptions,
  ListenTcpOptions,
  MulticastOptions,
  ShutdownHow,
  TcpAddress,
  TcpConn,
  TcpListener,
  UdpAddress,
  UdpSocket,
} from "./types/net.ts";
import { describe } from "./backends/shared/_describe.ts";

/** Checks that `options` is an object, naming what was expected. */
function checkObject(action: string, options: unknown): asserts options is object {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${action}: options must be an object { hostname, port }, got ${describe(options)}`,
    );
  }
}

/**
 * Opens a TCP socket listening on `hostname:port`.
 *
 * The socket is nonblocking and not inherited by child processes: register
 * `fd` with a Selector for READABLE and call `tryAccept()` until it returns
 * `null`, or accept its connections with a CompletionPort's `accept()`. On
 * Linux it is bound with SO_REUSEADDR (and SO_REUSEPORT if `reusePort`); on
 * Windows it is overlapped and bound with SO_EXCLUSIVEADDRUSE (no other
 * socket may take the same address while it is open). Needs `--allow-ffi`.
 * Close it (or declare it with `using`) when done.
 *
 * @param options the address (hostname default "127.0.0.1"; port 0 picks a free port), the
 *   backlog (default 511), and `reusePort`
 * @returns the listener; `addr` tells the port chosen
 * @throws {RangeError} if the port is not an integer from 0 to 65535, or the backlog is out of range
 * @throws {TypeError} if the hostname is not an IPv4 or IPv6 literal or "localhost"
 * @throws {Deno.errors.AddrInUse} if another socket holds the address
 * @throws {Deno.errors.AddrNotAvailable} if the address is not one of this machine's
 * @throws {Deno.errors.NotSupported} on an OS other than Linux and Windows, or for
 *   `reusePort` on Windows
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Accept a connection with a Selector
 * ```ts
 * import { startConnectTcp, Interest, listenTcp, openSelector } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux" || Deno.build.os === "windows") {
 *   using selector = openSelector();
 *   using listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
 *   using client = startConnectTcp({ hostname: "127.0.0.1", port: listener.addr.port });
 *   selector.register(listener.fd, Interest.READABLE);
 *   selector.select(1_000); // the listener is readable: a connection waits
 *   using server = listener.tryAccept()!;
 *   equal(server.remoteAddr.port, client.localAddr.port);
 *   equal(listener.tryAccept(), null); // no other connection waits
 *   selector.unregister(listener.fd);
 * }
 * ```
 *
 * @example Echo one message over loopback on Windows, with a CompletionPort
 * ```ts
 * import { listenTcp, openCompletionPort } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "windows") {
 *   await using port = openCompletionPort();
 *   using listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
 *   const accepting = port.accept(listener);
 *   using client = await port.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 *   using server = await accepting;
 *   equal(await port.write(client.fd, new TextEncoder().encode("hello")), 5);
 *   const buffer = new Uint8Array(16);
 *   equal(await port.read(server.fd, buffer), 5);
 *   client.shutdown("write");
 *   equal(await port.read(server.fd, buffer), null);
 * }
 * ```
 */
export function listenTcp(options: ListenTcpOptions): TcpListener {
  checkObject("Cannot listen", options);
  const {
    hostname = "127.0.0.1",
    port,
    backlog = DEFAULT_BACKLOG,
    reusePort = false,
  } = options;
  const address = parseAddress("Cannot listen on", hostname, port);
  const where = `Cannot listen on ${formatAddress(address)}`;
  if (
    typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 0 ||
    backlog > MAX_BACKLOG
  ) {
    throw new RangeError(
      `${where}: backlog must be an integer from 0 to 2^31-1, got ${describe(backlog)}`,
    );
  }
  if (typeof reusePort !== "boolean") {
    throw new TypeError(`${where}: reusePort must be a boolean, got ${describe(reusePort)}`);
  }
  return socketsHere(where).listen(address, backlog, reusePort);
}

/**
 * Connects a TCP socket to `hostname:port`, as `Deno.connect()` does: the
 * promise resolves once the connection is made (it waits through the
 * thread's reactor, and never blocks the event loop). The connection is
 * nonblocking and not inherited by child processes. Needs `--allow-ffi`.
 * Close it (or declare it with `using`) when done.
 *
 * ({@linkcode startConnectTcp} starts a connect without waiting, for
 * readiness loops; a CompletionPort's `connect()` connects by completion.)
 *
 * @param options where to connect (hostname default "127.0.0.1"), and a signal that gives up
 * @returns the connection; `remoteAddr` is the address given
 * @throws {RangeError} if the port is not an integer from 1 to 65535
 * @throws {TypeError} if the hostname is not an IPv4 or IPv6 literal or "localhost", or
 *   `signal` not an AbortSignal
 * @throws {Deno.errors.ConnectionRefused} (rejects) if nothing listens at the address
 * @throws {Deno.errors.TimedOut} (rejects) if the peer never answered
 * @throws {Deno.errors.NetworkUnreachable} (rejects) if no route leads to the address
 * @throws {Deno.errors.NotSupported} on an OS other than Linux and Windows
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Connect, write, read the echo, as with Deno.connect
 * ```ts
 * import { connectTcp, listenTcp } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux" || Deno.build.os === "windows") {
 *   using listener = listenTcp({ port: 0 });
 *   const serving = (async () => {
 *     using conn = await listener.accept();
 *     const buffer = new Uint8Array(64);
 *     for (let n; (n = await conn.read(buffer)) !== null;) {
 *       await conn.write(buffer.subarray(0, n));
 *     }
 *   })();
 *   using client = await connectTcp({ port: listener.addr.port });
 *   await client.write(new TextEncoder().encode("hello"));
 *   const buffer = new Uint8Array(64);
 *   equal(await client.read(buffer), 5);
 *   await client.closeWrite(); // the server reads the end of the stream and returns
 *   await serving;
 *   equal(await client.read(buffer), null);
 * }
 * ```
 *
 * @example A refused connect
 * ```ts
 * import { connectTcp, listenTcp } from "@evented/io";
 * import { rejects } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   const listener = listenTcp({ port: 0 });
 *   const port = listener.addr.port;
 *   listener.close(); // nothing listens there now
 *   await rejects(connectTcp({ port }), Deno.errors.ConnectionRefused);
 * }
 * ```
 */
export function connectTcp(options: ConnectTcpOptions): Promise<TcpConn> {
  let conn: TcpConn;
  let signal: AbortSignal | undefined;
  try {
    checkObject("Cannot connect", options);
    signal = options.signal;
    const { hostname = "127.0.0.1", port } = options;
    const target = parseAddress("Cannot connect to", hostname, port);
    const where = `Cannot connect to ${formatAddress(target)}`;
    if (target.port === 0) {
      throw new RangeError(`${where}: port must be an integer from 1 to 65535`);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`${where}: signal must be an AbortSignal, got ${describe(signal)}`);
    }
    signal?.throwIfAborted();
    conn = socketsHere(where).connect(target);
  } catch (error) {
    return Promise.reject(error);
  }
  return connected(conn, signal);
}

/** `conn` once its connect has ended: closed, and the error thrown, if it failed. */
async function connected(conn: TcpConn, signal: AbortSignal | undefined): Promise<TcpConn> {
  const options = signal === undefined ? undefined : { signal };
  try {
    for (;;) {
      await conn.waitWritable(options); // an ended connect, failed or not, is writable
      try {
        conn.finishConnect();
        return conn;
      } catch (error) {
        if (!(error instanceof Deno.errors.WouldBlock)) throw error;
      }
    }
  } catch (error) {
    conn.close();
    throw error;
  }
}

/**
 * Starts connecting a nonblocking TCP socket to `hostname:port`
 * (readiness), without waiting ({@linkcode connectTcp} waits). The
 * connection is returned at once, usually still in
 * progress: register its `fd` with a Selector for WRITABLE, and when it is
 * reported call `finishConnect()`, which throws what the connect met
 * (`ConnectionRefused`, …). The socket is not inherited by child
 * processes. Needs `--allow-ffi`. Close it (or declare it with `using`)
 * when done.
 *
 * (A CompletionPort's `connect()` connects by completion instead.)
 *
 * @param address where to connect (hostname default "127.0.0.1")
 * @returns the connection, maybe still connecting; `remoteAddr` is `address`
 * @throws {RangeError} if the port is not an integer from 1 to 65535
 * @throws {TypeError} if the hostname is not an IPv4 or IPv6 literal or "localhost"
 * @throws {Deno.errors.ConnectionRefused} if the kernel refuses at once (usually
 *   `finishConnect()` tells)
 * @throws {Deno.errors.NetworkUnreachable} if no route leads to the address
 * @throws {Deno.errors.NotSupported} on an OS other than Linux and Windows
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Connect, then talk
 * ```ts
 * import { startConnectTcp, Interest, listenTcp, openSelector } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux" || Deno.build.os === "windows") {
 *   using selector = openSelector();
 *   using listener = listenTcp({ port: 0 });
 *   using client = startConnectTcp({ hostname: "127.0.0.1", port: listener.addr.port });
 *   selector.register(client.fd, Interest.WRITABLE);
 *   selector.select(1_000); // writable: the connect has ended
 *   client.finishConnect(); // it succeeded (else this throws)
 *   selector.unregister(client.fd);
 *   using server = listener.tryAccept()!;
 *   equal(client.tryWrite(new TextEncoder().encode("hi")), 2);
 *   selector.register(server.fd, Interest.READABLE);
 *   selector.select(1_000);
 *   const buffer = new Uint8Array(16);
 *   equal(server.tryRead(buffer), 2);
 *   equal(server.tryRead(buffer), 0); // nothing more yet
 *   client.close();
 *   selector.select(1_000);
 *   equal(server.tryRead(buffer), null); // end of stream
 *   selector.unregister(server.fd);
 * }
 * ```
 */
export function startConnectTcp(address: TcpAddress): TcpConn {
  checkObject("Cannot connect", address);
  const { hostname = "127.0.0.1", port } = address;
  const target = parseAddress("Cannot connect to", hostname, port);
  const where = `Cannot connect to ${formatAddress(target)}`;
  if (target.port === 0) {
    throw new RangeError(`${where}: port must be an integer from 1 to 65535`);
  }
  return socketsHere(where).connect(target);
}

/**
 * Opens a nonblocking UDP socket bound to `hostname:port` (readiness),
 * not inherited by child processes: register its `fd` with a Selector for
 * READABLE and call `tryReceive()` until it returns `null`; `trySend()`
 * sends. Needs `--allow-ffi`. Close it (or declare it with `using`) when
 * done.
 *
 * Options are set on the socket afterwards: `setBroadcast()`, `setTtl()`,
 * `setMulticastTtl()`, `setMulticastLoopback()`, `joinMulticast()` and
 * `leaveMulticast()`; `reusePort` (SO_REUSEPORT, Linux) lets several
 * sockets that all ask for it bind one address, the kernel spreading the
 * datagrams among them.
 *
 * @param options the address (hostname default "127.0.0.1"; port 0 picks a free port), and
 *   `reusePort`
 * @returns the socket; `addr` tells the port chosen
 * @throws {RangeError} if the port is not an integer from 0 to 65535
 * @throws {TypeError} if the hostname is not an IPv4 or IPv6 literal or "localhost", or
 *   `reusePort` not a boolean
 * @throws {Deno.errors.AddrInUse} if another socket holds the address (without `reusePort`
 *   on every socket there)
 * @throws {Deno.errors.AddrNotAvailable} if the address is not one of this machine's
 * @throws {Deno.errors.NotSupported} on an OS other than Linux and Windows, or for
 *   `reusePort` on Windows
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example A datagram there and back
 * ```ts
 * import { bindUdp, Interest, openSelector } from "@evented/io";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux" || Deno.build.os === "windows") {
 *   using selector = openSelector();
 *   using a = bindUdp({ hostname: "127.0.0.1", port: 0 });
 *   using b = bindUdp({ hostname: "127.0.0.1", port: 0 });
 *   equal(a.trySend(new Uint8Array([1, 2, 3]), b.addr), 3);
 *   selector.register(b.fd, Interest.READABLE);
 *   selector.select(1_000);
 *   const buffer = new Uint8Array(1500);
 *   const [length, from] = b.tryReceive(buffer)!;
 *   equal(length, 3);
 *   deepEqual(from, a.addr);
 *   equal(b.tryReceive(buffer), null); // nothing else waits
 *   selector.unregister(b.fd);
 * }
 * ```
 */
export function bindUdp(options: BindUdpOptions): UdpSocket {
  checkObject("Cannot bind", options);
  const { hostname = "127.0.0.1", port, reusePort = false } = options;
  const address = parseAddress("Cannot bind to", hostname, port);
  const where = `Cannot bind to ${formatAddress(address)}`;
  if (typeof reusePort !== "boolean") {
    throw new TypeError(`${where}: reusePort must be a boolean, got ${describe(reusePort)}`);
  }
  return socketsHere(where).bindUdp(address, reusePort);
}
