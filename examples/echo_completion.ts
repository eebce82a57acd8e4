// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A TCP echo server on one CompletionPort: every byte a client sends comes
 * back. The same program serves on Linux (io_uring, or completions
 * emulated over epoll) and on Windows (IOCP).
 *
 *     deno run --allow-ffi examples/echo_completion.ts --port 9000 [--host 127.0.0.1]
 *       [--backend io_uring|epoll|iocp]
 *
 * - `--backend` picks the engine; without it, `openCompletionPort()` picks
 *   (io_uring where the kernel allows it, else epoll, on Linux; IOCP on
 *   Windows). `--hostname` is accepted for `--host`.
 * - `--port 0` picks a free port. The first line printed says where it
 *   listens: `listening on 127.0.0.1:9000 (io_uring, completion)`.
 * - SIGINT (Ctrl-C) or SIGTERM stops it (SIGINT or SIGBREAK, Ctrl-Break, on
 *   Windows, which has no SIGTERM): the port is closed, which cancels every
 *   operation in flight, then every connection and the listener are
 *   closed; it prints `stopped: …` and exits 0.
 *
 * How it works: one accept in flight on the listener (`port.accept()`),
 * and per connection one loop: `port.read()` into the connection's own
 * buffer, then `port.write()` of what came, until end of stream (all that
 * was read has then been echoed, so the connection is closed) or an error
 * (a reset: that connection only is closed). Only one operation per
 * connection is ever in flight, so a client that sends without reading is
 * slowed down by TCP itself, and each connection holds one 16 KiB buffer,
 * from the port's own memory (`allocate()`), which the kernel uses with no
 * copy (an ordinary buffer would be copied through port memory).
 * The kernel does the waiting: no readiness is looked at, and nothing but
 * the operations' own promises drive the loops.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type CompletionBackend,
  type CompletionPort,
  listenTcp,
  openCompletionPort,
  raiseFdLimit,
  type TcpConn,
} from "../mod.ts";

const USAGE = "Usage: deno run --allow-ffi examples/echo_completion.ts --port 9000 " +
  "[--host 127.0.0.1] [--backend io_uring|epoll|iocp]";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9000" },
    host: { type: "string" },
    hostname: { type: "string" },
    backend: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const port = Number(values.port);
const hostname = values.host ?? values.hostname ?? "127.0.0.1";
const backend = values.backend as CompletionBackend | undefined;
if (backend !== undefined && !["io_uring", "epoll", "iocp"].includes(backend)) {
  console.error(
    `--backend must be "io_uring", "epoll" or "iocp", got ${JSON.stringify(backend)}\n${USAGE}`,
  );
  Deno.exit(2);
}

/** Each connection's buffer. */
const BUFFER_SIZE = 16 * 1024;
/** How long accepting pauses when no fd is left (EMFILE), in ms. */
const ACCEPT_PAUSE_MS = 100;
/** The signals that stop it: Windows has SIGINT (Ctrl-C) and SIGBREAK (Ctrl-Break) only. */
const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

const limit = Deno.build.os === "linux" ? raiseFdLimit() : undefined;
const completions: CompletionPort = openCompletionPort({ backend });
const listener = listenTcp({ hostname, port, backlog: 4096 });
/** The connections open, each with the promise of its loop. */
const connections = new Map<TcpConn, Promise<void>>();
let stopping = false;
let stop!: () => void;
const stopped = new Promise<void>((resolve) => stop = resolve);

function onSignal(): void {
  if (stopping) return;
  stopping = true;
  // Cancels the accept and every read and write in flight: each loop ends.
  completions.close();
  stop();
}
for (const signal of SIGNALS) Deno.addSignalListener(signal, onSignal);

const { hostname: boundHost, port: boundPort } = listener.addr;
const where = boundHost.includes(":") ? `[${boundHost}]:${boundPort}` : `${boundHost}:${boundPort}`;
console.log(
  `listening on ${where} (${completions.backend}, completion` +
    (limit ? `; up to ${limit.soft} fds)` : ")"),
);

/** Whether an error means this connection is gone (reset, broken, or cancelled by the stop). */
function connectionEnded(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    (stopping && error instanceof Deno.errors.Interrupted);
}

/** Echoes one connection until end of stream, a reset, or the stop. */
async function serve(conn: TcpConn): Promise<void> {
  // Port memory: the kernel reads into it and writes from it with no copy.
  const buffer = completions.allocate(BUFFER_SIZE);
  const fd = conn.fd;
  // buffer[0, n) of the last n echoed: messages of one size reuse it (a view
  // made per message was 5% of this server's time in JavaScript).
  let view = buffer;
  try {
    for (;;) {
      const n = await completions.read(fd, buffer);
      if (n === null) break; // end of stream: everything read has been echoed
      if (view.length !== n) view = buffer.subarray(0, n);
      // A socket's write takes all of its bytes unless it fails; the loop
      // is for the rule's sake.
      let sent = await completions.write(fd, view);
      while (sent < n) sent += await completions.write(fd, buffer.subarray(sent, n));
    }
  } catch (error) {
    if (!connectionEnded(error)) console.error(`Connection ${fd}: ${error}`);
  }
  // After the stop, the stop closes what is left (and counts it).
  if (!stopping) {
    connections.delete(conn);
    conn.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Accepts connections until the stop, and starts a loop for each. */
async function acceptAll(): Promise<void> {
  while (!stopping) {
    let conn: TcpConn;
    try {
      conn = await completions.accept(listener);
    } catch (error) {
      if (stopping) return;
      const code = (error as { code?: string }).code;
      if (code === "EMFILE" || code === "ENFILE") {
        // No fd left: pause for a while rather than fail again at once.
        console.error(`Out of fds at ${connections.size} connections: accepting paused`);
        await delay(ACCEPT_PAUSE_MS);
        continue;
      }
      if (connectionEnded(error)) continue; // the client gave up before it was accepted
      throw error;
    }
    if (stopping) {
      conn.close();
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch {
      conn.close(); // reset before it was served
      continue;
    }
    connections.set(conn, serve(conn));
  }
}

const accepting = acceptAll();
try {
  await Promise.race([stopped, accepting]);
} finally {
  stopping = true;
  for (const signal of SIGNALS) Deno.removeSignalListener(signal, onSignal);
  // Waits until every cancelled operation has come back.
  await completions[Symbol.asyncDispose]();
  await accepting.catch(() => {});
  await Promise.all(connections.values());
  const open = connections.size;
  for (const conn of connections.keys()) conn.close();
  listener.close();
  console.log(`stopped: closed ${open} connections, the listener and the port`);
}
