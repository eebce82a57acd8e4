// Copyright 2026 the @evented/io authors. MIT license.
// This file only re-exports the public files: it declares nothing, opens nothing and picks no
// engine (`_platform.ts` is the one place that switches on the OS).
/**
 * Scalable I/O event facilities of the kernel, bound through Deno FFI with
 * no native code of its own and no dependencies.
 *
 * - {@linkcode openSelector} gives readiness notification ("tell me when
 *   fd 7 can be read") over Linux epoll (or poll(2) beside it), and over
 *   AFD poll for sockets on Windows.
 * - {@linkcode openPipe}, {@linkcode openSocketPair} and
 *   {@linkcode openEventFd} open nonblocking fds to watch (Linux).
 * - {@linkcode listenTcp}, {@linkcode startConnectTcp} and {@linkcode bindUdp}
 *   open nonblocking TCP and UDP sockets (Linux and Windows), whose
 *   `tryAccept()`, `tryRead()`, `tryWrite()`, `trySend()` and `tryReceive()`
 *   never block; {@linkcode raiseFdLimit} makes room for many of them.
 * - {@linkcode listenUnix}, {@linkcode connectUnix} and
 *   {@linkcode bindUnixDatagram} open Unix sockets (Linux) that also pass
 *   fds between processes; {@linkcode adoptSocket} takes over a socket fd
 *   from elsewhere, and {@linkcode listenFds} and {@linkcode notify} speak
 *   systemd's socket activation and notification.
 * - {@linkcode openCompletionPort} gives completion notification ("tell me
 *   when this read has finished") over Windows IOCP, and over Linux
 *   io_uring (or, where io_uring is refused, completions emulated over
 *   epoll): files, pipes, and TCP sockets ({@linkcode listenTcp}, then the
 *   port's `accept()`, `connect()`, `read()` and `write()`).
 *
 * Only `--allow-ffi` is needed, and only once a selector or an fd is
 * opened: importing this module needs no permission.
 *
 * Errors from the kernel are `Deno.errors` classes (`BadResource` for
 * EBADF or ERROR_INVALID_HANDLE, `NotFound`, `AlreadyExists`,
 * `NotSupported`, …) with `code` (such as `"EBADF"` or
 * `"ERROR_INVALID_HANDLE"`) and `errno`, and a message naming the call and
 * the fd or handle; the few codes Deno has no class for (`EMSGSIZE`,
 * `EMFILE`, …) are a plain `Error` with the same `code` and `errno` (the
 * README's error table lists every code and its class). Bad arguments are a
 * `TypeError` or `RangeError` thrown before any system call, and a failed
 * call changes nothing.
 *
 * @example Watch a pipe
 * ```ts
 * import { Interest, openPipe, openSelector } from "@evented/io";
 * import { deepEqual } from "node:assert/strict";
 *
 * if (Deno.build.os === "linux") {
 *   using selector = openSelector();
 *   using pipe = openPipe();
 *   selector.register(pipe.reader.fd, Interest.READABLE);
 *   pipe.writer.tryWrite(new Uint8Array([1]));
 *   const [event] = selector.select(1_000);
 *   deepEqual(event.fd, pipe.reader.fd);
 *   deepEqual(event.readable, true);
 *   selector.unregister(pipe.reader.fd);
 * }
 * ```
 *
 * @module
 */

export * from "./selector.ts";
export * from "./fds.ts";
export * from "./completion_port.ts";
export * from "./windows.ts";
export * from "./net.ts";
export * from "./async_fd.ts";
export * from "./unix.ts";
