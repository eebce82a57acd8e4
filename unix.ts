// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Unix domain sockets and fds across processes (Linux): stream listeners
 * and connections on a path or an abstract name, datagram sockets, fd
 * passing (SCM_RIGHTS), peer credentials, adopting a socket fd this module
 * did not open, and systemd's socket activation and notification.
 *
 * Every socket is nonblocking and close-on-exec and driven by readiness,
 * as the TCP ones of `net.ts` are: register `fd` with a Selector, and call
 * `tryAccept()`, `tryRead()`, `tryWrite()`, `sendFds()`, `receiveFds()`,
 * `trySend()` or `tryReceive()` when it is ready (`null` or `0` when they
 * would block). Addresses have Deno's shape, `{ transport: "unix", path }`,
 * and a path that starts with a NUL (`"\0name"`) is a name in Linux's
 * abstract namespace, which has no file. Errors are `Deno.errors` classes
 * with `code` and `errno`; bad arguments are a `TypeError` or
 * `RangeError` thrown before any system call.
 *
 * On Windows these throw `NotSupported`: Windows 10 has AF_UNIX stream
 * sockets, but Wine 10, under which this module's Windows build is tested,
 * has none, so none is built untested; fd passing, peer credentials,
 * adopting and systemd's protocols are Linux's own.
 *
 * @module
 */

import { describe } from "./backends/shared/_describe.ts";
import { requireLinux } from "./_platform.ts";
import { adoptSocketPosix, checkFd } from "./net/_adopt.ts";
import { listenFdsPosix, notifyPosix } from "./net/_systemd.ts";
import { bindUnixDatagramPosix, connectUnixPosix, listenUnixPosix } from "./net/_unix.ts";
import { formatUnixPath, parseUnixPath } from "./net/_unix_address.ts";
import type {
  AdoptedSocket,
  ListenedSocket,
  UnixConn,
  UnixDatagramSocket,
  UnixListener,
} from "./types/unix.ts";

export type {
  AdoptedSocket,
  ListenedSocket,
  PeerCredentials,
  ReceivedFds,
  ReceiveFdsOptions,
  UnixAddress,
  UnixConn,
  UnixDatagramSocket,
  UnixListener,
} from "./types/unix.ts";

/** The backlog of a listener when none is given (as `listenTcp` and libuv). */
const DEFAULT_BACKLOG = 511;
const MAX_BACKLOG = 0x7fffffff;

/** Options of {@linkcode listenUnix}. */
export interface ListenUnixOptions {
  /**
   * Where to listen: a filesystem path (it must not exist; at most 107
   * bytes of UTF-8), or `"\0name"` for a name in the abstract namespace
   * (no file).
   */
  path: string;
  /**
   * The length of the queue of connections not yet accepted (default 511;
   * Linux caps it at `net.core.somaxconn`).
   */
  backlog?: number;
}

/** Options of {@linkcode connectUnix}. */
export interface ConnectUnixOptions {
  /** Where to connect: a path, or `"\0name"` in the abstract namespace. */
  path: string;
  /**
   * Gives up a connect that waits for room in the listener's queue: the
   * promise rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode bindUnixDatagram}. */
export interface BindUnixDatagramOptions {
  /**
   * Where to bind: a path (it must not exist), or `"\0name"` in the
   * abstract namespace. Without one the socket is unbound: it can send,
   * and nobody can answer it.
   */
  path?: string;
}

/** Why Unix stream sockets are Linux only here. */
const NO_UNIX_STREAMS =
  "Unix sockets are Linux only here (Windows 10 has AF_UNIX stream sockets, but Wine 10, " +
  "under which the Windows build is tested, has none: WSAEAFNOSUPPORT)";

/** Checks that `options` is an object. */
function checkOptions(action: string, options: unknown): asserts options is object {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${action}: options must be an object { path }, got ${describe(options)}`);
  }
}

/**
 * Opens a Unix stream socket listening on a path or an abstract name.
 *
 * The socket is nonblocking and not inherited by child processes: register
 * `fd` with a Selector for READABLE and call `tryAccept()` until it returns
 * `null`. A path must not exist (a stale socket file of an earlier run
 * too: remove it first); `close()` removes the file again, as
 * `Deno.listen({ transport: "unix" })` does, unless something else has
 * taken its place. Needs `--allow-ffi`. Close it (or declare it with
 * `using`) when done.
 *
 * @param options the path, and the backlog (default 511)
 * @returns the listener
 * @throws {TypeError} if the path is not a string, is empty, or holds a NUL past its start
 * @throws {RangeError} if the path is longer than 107 bytes, or the backlog is out of range
 * @throws {Deno.errors.AddrInUse} if the path exists, or the abstract name is taken
 * @throws {Deno.errors.NotFound} if the path's directory does not exist
 * @throws {Deno.errors.PermissionDenied} if the directory cannot be written
 * @throws {Deno.errors.NotSupported} on an OS other than Linux
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example A connection over an abstract name
 * ```ts
 * import { connectUnix, Interest, listenUnix, openSelector } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   const path = `\0evented-io-example-${crypto.randomUUID()}`; // abstract: no file
 *   using listener = listenUnix({ path });
 *   using client = await connectUnix({ path });
 *   using server = listener.tryAccept()!;
 *   equal(listener.tryAccept(), null); // no other connection waits
 *   equal(client.tryWrite(new TextEncoder().encode("hi")), 2);
 *   using selector = openSelector();
 *   selector.register(server.fd, Interest.READABLE);
 *   selector.select(1_000);
 *   const buffer = new Uint8Array(8);
 *   equal(server.tryRead(buffer), 2);
 *   equal(server.peerCredentials().pid, Deno.pid); // the client is this process
 *   selector.unregister(server.fd);
 * }
 * ```
 */
export function listenUnix(options: ListenUnixOptions): UnixListener {
  checkOptions("Cannot listen", options);
  const { path, backlog = DEFAULT_BACKLOG } = options;
  const address = parseUnixPath("Cannot listen on", path);
  const where = `Cannot listen on ${formatUnixPath(address.path)}`;
  if (
    typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 0 ||
    backlog > MAX_BACKLOG
  ) {
    throw new RangeError(
      `${where}: backlog must be an integer from 0 to 2^31-1, got ${describe(backlog)}`,
    );
  }
  requireLinux(where, NO_UNIX_STREAMS);
  return listenUnixPosix(address, backlog);
}

/**
 * Connects a Unix stream socket to a path or an abstract name; the promise
 * resolves once it is connected.
 *
 * A Unix connect completes at once, unless the listener's queue is full:
 * then, as a blocking `connect(2)` would, it waits for room (trying again
 * every few milliseconds, at most 64 ms apart: the kernel offers nothing to
 * poll for it) until it connects, fails, or `signal` aborts it. The
 * connection is nonblocking and not inherited by child processes. Needs
 * `--allow-ffi`. Close it (or declare it with `using`) when done.
 *
 * @param options the path, and a signal that gives up waiting
 * @returns the connection; `remoteAddr.path` is the path given
 * @throws {TypeError} if the path is not a string, is empty, or holds a NUL past its start
 * @throws {RangeError} if the path is longer than 107 bytes
 * @throws {Deno.errors.NotFound} (rejects) if nothing exists at the path
 * @throws {Deno.errors.ConnectionRefused} (rejects) if nothing listens there (a stale socket
 *   file, or an abstract name nobody holds)
 * @throws {Deno.errors.PermissionDenied} (rejects) if the socket file may not be written
 * @throws {Deno.errors.NotSupported} on an OS other than Linux
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example A refused connect
 * ```ts
 * import { connectUnix } from "@evented/io";
 * import { rejects } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   await rejects(
 *     connectUnix({ path: `\0evented-io-nobody-${crypto.randomUUID()}` }),
 *     Deno.errors.ConnectionRefused,
 *   );
 * }
 * ```
 */
export function connectUnix(options: ConnectUnixOptions): Promise<UnixConn> {
  try {
    checkOptions("Cannot connect", options);
    const { path, signal } = options;
    const target = parseUnixPath("Cannot connect to", path);
    const where = `Cannot connect to ${formatUnixPath(target.path)}`;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`${where}: signal must be an AbortSignal, got ${describe(signal)}`);
    }
    requireLinux(where, NO_UNIX_STREAMS);
    return connectUnixPosix(target, signal);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Opens a Unix datagram socket, bound to a path or an abstract name, or
 * unbound: `trySend()` sends to any path, `tryReceive()` takes what was
 * sent to this one. For `/dev/log`, systemd's notify socket, and your own
 * services.
 *
 * The socket is nonblocking and not inherited by child processes. A path
 * must not exist; `close()` removes the file again, unless something else
 * has taken its place (`Deno.listenDatagram` leaves it). Needs
 * `--allow-ffi`. Close it (or declare it with `using`) when done.
 *
 * @param options the path to bind to, if any
 * @returns the socket; `addr.path` is `""` when unbound
 * @throws {TypeError} if the path is not a string, is empty, or holds a NUL past its start
 * @throws {RangeError} if the path is longer than 107 bytes
 * @throws {Deno.errors.AddrInUse} if the path exists, or the abstract name is taken
 * @throws {Deno.errors.NotSupported} on an OS other than Linux
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example A datagram to an abstract name
 * ```ts
 * import { bindUnixDatagram } from "@evented/io";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   const path = `\0evented-io-log-${crypto.randomUUID()}`;
 *   using log = bindUnixDatagram({ path });
 *   using client = bindUnixDatagram({}); // unbound
 *   equal(client.trySend(new TextEncoder().encode("<14>hello"), { path }), 9);
 *   const buffer = new Uint8Array(64);
 *   const [length, from] = log.tryReceive(buffer)!;
 *   equal(length, 9);
 *   deepEqual(from, { transport: "unixpacket", path: "" }); // the sender has no name
 *   equal(log.tryReceive(buffer), null); // nothing else waits
 * }
 * ```
 */
export function bindUnixDatagram(options: BindUnixDatagramOptions = {}): UnixDatagramSocket {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot bind: options must be an object { path? }, got ${describe(options)}`,
    );
  }
  const { path } = options;
  const address = path === undefined ? undefined : parseUnixPath("Cannot bind to", path);
  requireLinux(
    address === undefined
      ? "Cannot open a Unix datagram socket"
      : `Cannot bind to ${formatUnixPath(address.path)}`,
    "Unix datagram sockets are Linux only (Windows has none)",
  );
  return bindUnixDatagramPosix(address);
}

/**
 * Takes over a socket fd this module did not open (inherited from a
 * launcher, received with `receiveFds()`, handed over by a native library)
 * as the module's own object of its kind: `TcpListener`, `TcpConn`,
 * `UdpSocket`, `UnixListener`, `UnixConn` or `UnixDatagramSocket`. The
 * kernel says which (SO_DOMAIN, SO_TYPE, SO_PROTOCOL, SO_ACCEPTCONN). The
 * fd is made nonblocking (a flag of the open file: every copy of it sees
 * it) and close-on-exec, and the object owns it from then on: its
 * `close()` closes it. An adopted Unix listener never removes its socket
 * file: that is whoever made it's to do. Needs `--allow-ffi`.
 *
 * @param fd the socket's fd; do not use or close it by number afterwards
 * @returns the object
 * @throws {TypeError} if `fd` is not a non-negative integer, or is not a socket (its `code`
 *   is then `"ENOTSOCK"`)
 * @throws {Deno.errors.BadResource} if `fd` is not open
 * @throws {Deno.errors.NotSupported} for a socket the module has no object for (SEQPACKET,
 *   raw, netlink, SCTP, …), or on an OS other than Linux
 * @throws {Deno.errors.NotConnected} for a stream socket neither listening nor connected
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example A listening TCP socket handed over through a Unix connection
 * ```ts
 * import { adoptSocket, connectUnix, listenTcp, listenUnix, type TcpListener } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   const path = `\0evented-io-handoff-${crypto.randomUUID()}`;
 *   using listener = listenUnix({ path });
 *   using sender = await connectUnix({ path });
 *   using receiver = listener.tryAccept()!;
 *   const tcp = listenTcp({ port: 0 });
 *   const port = tcp.addr.port;
 *   equal(sender.sendFds(new Uint8Array([1]), [tcp.fd]), 1);
 *   tcp.close(); // the copy in flight keeps the socket open
 *   const { bytes, fds, truncated } = receiver.receiveFds(new Uint8Array(8))!;
 *   equal(bytes, 1);
 *   equal(truncated, false);
 *   using adopted = adoptSocket(fds[0]) as TcpListener;
 *   equal(adopted.addr.port, port); // the same socket, now owned here
 * }
 * ```
 */
export function adoptSocket(fd: number): AdoptedSocket {
  const action = "Cannot adopt a socket";
  checkFd(action, fd);
  requireLinux(
    `Cannot adopt fd ${fd}`,
    "adopting a socket is Linux only (Windows shares sockets with WSADuplicateSocket)",
  );
  return adoptSocketPosix(fd);
}

/**
 * Takes the sockets that systemd's socket activation (or a launcher that
 * follows its protocol, such as `systemd-socket-activate`) passed to this
 * process, as `sd_listen_fds_with_names()` does: only if LISTEN_PID is
 * this process, fds 3 to 3 + LISTEN_FDS - 1, named by LISTEN_FDNAMES
 * ("unknown" without it). LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are
 * removed from the environment once read, whoever they were for, so child
 * processes do not inherit them. Each socket is adopted as
 * {@linkcode adoptSocket} does. An fd that is not a socket (systemd's
 * `ListenFIFO=`, its fd store) fails the call before any socket is
 * adopted: read those yourself. Needs `--allow-ffi` and `--allow-env`
 * (for those three variables at least).
 *
 * @returns each socket with its name, in fd order; empty when none was passed to this process
 * @throws {TypeError} if LISTEN_PID or LISTEN_FDS is malformed, LISTEN_FDNAMES names another
 *   count of fds, or a passed fd is not a socket (code `"ENOTSOCK"`)
 * @throws {Deno.errors.NotSupported} for a socket the module has no object for, or on an OS
 *   other than Linux
 * @throws {Deno.errors.NotCapable} without `--allow-env` or `--allow-ffi`
 *
 * @example Serve on the sockets systemd passed, if any
 * ```ts
 * import { listenFds } from "@evented/io";
 *
 * const granted = (await Deno.permissions.query({ name: "env" })).state === "granted";
 * if (Deno.build.os === "linux" && granted) {
 *   for (const { name, socket } of listenFds()) {
 *     console.log(`serving ${name} on fd ${socket.fd}`);
 *     socket.close();
 *   }
 * }
 * ```
 */
export function listenFds(): ListenedSocket[] {
  requireLinux(
    "Cannot take the sockets of LISTEN_FDS",
    "socket activation is systemd's, Linux only",
  );
  return listenFdsPosix();
}

/**
 * Tells the service manager about this service's state, as systemd's
 * `sd_notify(0, state)` does: one datagram to NOTIFY_SOCKET (a path, or
 * `@name` in the abstract namespace). NOTIFY_SOCKET is left in the
 * environment: a service notifies more than once. Needs `--allow-ffi` and
 * `--allow-env` (for NOTIFY_SOCKET at least).
 *
 * @param state newline-separated assignments: "READY=1", "STATUS=…", "RELOADING=1",
 *   "STOPPING=1", "WATCHDOG=1", …
 * @returns `true` once sent; `false` when NOTIFY_SOCKET is not set (not run by a manager)
 * @throws {TypeError} if `state` is not a string, or NOTIFY_SOCKET is neither an absolute
 *   path nor an `@` name
 * @throws {Deno.errors.NotFound} if nothing exists at its path
 * @throws {Deno.errors.ConnectionRefused} if nothing is bound there
 * @throws {Deno.errors.WouldBlock} if the manager's queue is full
 * @throws {Deno.errors.NotSupported} for an AF_VSOCK NOTIFY_SOCKET, or on an OS other than Linux
 * @throws {Deno.errors.NotCapable} without `--allow-env` or `--allow-ffi`
 *
 * @example Ready, when run by systemd (Type=notify)
 * ```ts
 * import { notify } from "@evented/io";
 *
 * const granted = (await Deno.permissions.query({ name: "env" })).state === "granted";
 * if (Deno.build.os === "linux" && granted) {
 *   notify("READY=1\nSTATUS=serving"); // false, and nothing sent, outside systemd
 * }
 * ```
 */
export function notify(state: string): boolean {
  if (typeof state !== "string") {
    throw new TypeError(`Cannot notify: state must be a string, got ${describe(state)}`);
  }
  requireLinux("Cannot notify the service manager", "sd_notify is systemd's, Linux only");
  return notifyPosix(state);
}
