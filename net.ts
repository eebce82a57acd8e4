// Copyright 2026 the @evented/io authors. MIT license.
/**
 * TCP sockets: {@linkcode listenTcp} opens a listener; a CompletionPort's
 * `accept()` and `connect()` make connections, and its `read()` and
 * `write()` move their bytes (Windows, over Winsock). Linux sockets are
 * planned.
 *
 * Addresses have Deno's shape, `{ hostname, port }`, IPv4 and IPv6; no
 * name is resolved (a hostname is an IP literal or "localhost"). Errors
 * are `Deno.errors` classes (`ConnectionRefused`, `ConnectionReset`,
 * `AddrInUse`, `AddrNotAvailable`, …) with `code` (such as
 * `"WSAECONNREFUSED"`) and `errno`.
 *
 * @module
 */

import { describe } from "./backends/_events.ts";
import { formatAddress, parseAddress } from "./net/_address.ts";
import type { ListenTcpOptions, TcpListener } from "./net/_types.ts";
import { listenWinsock } from "./net/_winsock.ts";

/** The backlog of a listener when none is given (as Node.js and libuv do). */
const DEFAULT_BACKLOG = 511;
const MAX_BACKLOG = 0x7fffffff;

export type {
  CancelOptions,
  ListenTcpOptions,
  ShutdownHow,
  TcpAddress,
  TcpConn,
  TcpListener,
} from "./net/_types.ts";

/**
 * Opens a TCP socket listening on `hostname:port`; accept its connections
 * with a CompletionPort's `accept()`.
 *
 * On Windows the socket is overlapped and bound with SO_EXCLUSIVEADDRUSE
 * (no other socket may take the same address while it is open). Needs
 * `--allow-ffi`. Close it (or declare it with `using`) when done.
 *
 * @param options the address (hostname default "127.0.0.1"; port 0 picks a free port) and the backlog
 * @returns the listener; `addr` tells the port chosen
 * @throws {RangeError} if the port is not an integer from 0 to 65535, or the backlog is out of range
 * @throws {TypeError} if the hostname is not an IPv4 or IPv6 literal or "localhost"
 * @throws {Deno.errors.AddrInUse} if another socket holds the address
 * @throws {Deno.errors.AddrNotAvailable} if the address is not one of this machine's
 * @throws {Deno.errors.NotSupported} on an OS other than Windows (for now)
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Echo one message over loopback
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
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot listen: options must be an object { hostname, port }, got ${describe(options)}`,
    );
  }
  const { hostname = "127.0.0.1", port, backlog = DEFAULT_BACKLOG } = options;
  const address = parseAddress("Cannot listen on", hostname, port);
  if (
    typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 0 ||
    backlog > MAX_BACKLOG
  ) {
    throw new RangeError(
      `Cannot listen on ${formatAddress(address)}: backlog must be an integer from 0 to 2^31-1, ` +
        `got ${describe(backlog)}`,
    );
  }
  const os = Deno.build.os;
  if (os !== "windows") {
    throw new Deno.errors.NotSupported(
      `Cannot listen on ${formatAddress(address)} on ${os}: no TCP sockets exist for ${os} yet` +
        (os === "linux" ? " (nonblocking libc sockets are planned)" : ""),
    );
  }
  return listenWinsock(address, backlog);
}
