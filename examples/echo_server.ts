// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A TCP echo server: every byte a client sends comes back. Three ways to
 * write it on this module, one flag apart:
 *
 *     deno run --allow-ffi examples/echo_server.ts --port 9000 [--host 127.0.0.1]
 *       [--backend epoll|poll|afd] [--mode sync|async|listen]
 *
 * It runs on Linux (epoll by default, or poll) and on Windows (afd, the
 * only backend there).
 *
 * - `--mode sync` (the default) drives one Selector's `selectInto()`,
 *   which blocks this thread in the kernel; `--mode async` drives
 *   `waitInto()`, which parks another thread and leaves the event loop
 *   free (timers, other I/O).
 * - `--mode listen` is written exactly as one writes a `Deno.listen`
 *   server (examples/deno_echo_server.ts, line for line): `for await
 *   (const conn of listener)`, one async function per connection, `await
 *   conn.read()` and `await conn.write()`. The thread's reactor (a
 *   Selector of the OS's default engine) drives it; `--backend` does not
 *   apply.
 * - `--port 0` picks a free port. The first line printed says where it
 *   listens: `listening on 127.0.0.1:9000 (epoll, sync; up to 20000 fds)`
 *   (on Windows, which has no fd limit to raise: `(afd, sync)`).
 * - SIGINT (Ctrl-C) or SIGTERM stops it (on Windows, where Deno listens for
 *   no SIGTERM: Ctrl-C or Ctrl-Break): every connection, the listener and
 *   the selector are closed, it prints `stopped: …`, and it exits 0.
 *
 * How it works: level-triggered, one 64 KiB buffer for all connections.
 * A READABLE connection is read once and what came is written back at
 * once. Bytes the socket did not take are kept with the connection, whose
 * interest turns from READABLE to WRITABLE until they are sent (so one slow
 * reader holds at most 64 KiB, and a client that sends without reading is
 * slowed down by TCP itself); no other event changes an interest. A reset
 * closes that connection; at end of stream (a half-close) everything read
 * has been echoed, so the connection is closed, and its last bytes still
 * go out before the FIN.
 *
 * The hot path allocates nothing per event: the event buffer, the read
 * buffer and, per length, the view written from it are made once, and each
 * connection is its own registration's `data`.
 *
 * Signals in sync mode: a signal listener runs only when the event loop
 * turns, which it cannot while selectInto() blocks the thread. So the
 * server waits in slices of at most 50 ms and lets the event loop turn
 * after a slice that ended idle, and every 500 ms while busy: a signal is
 * noticed within about 50 ms when idle and 500 ms under full load, at a
 * cost of one ~2 ms pause every 500 ms (0.5%). (A Worker could listen for
 * signals and wake the selector at once, but it cannot load this module
 * with --allow-ffi alone.)
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  Interest,
  listenTcp,
  openSelector,
  raiseFdLimit,
  type Selector,
  type SelectorBackend,
  SelectorEvents,
  type TcpConn,
} from "../mod.ts";

const USAGE = "Usage: deno run --allow-ffi examples/echo_server.ts --port 9000 " +
  "[--host 127.0.0.1] [--backend epoll|poll|afd] [--mode sync|async|listen]";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9000" },
    host: { type: "string", default: "127.0.0.1" },
    // Default: the OS's own (epoll on Linux, afd on Windows).
    backend: { type: "string" },
    mode: { type: "string", default: "sync" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const port = Number(values.port);
const mode = values.mode;
const backend = values.backend as SelectorBackend | undefined;
const windows = Deno.build.os === "windows";
/** The signals that stop it: Deno on Windows listens for SIGINT and SIGBREAK only. */
const STOP_SIGNALS: Deno.Signal[] = windows ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
if (mode !== "sync" && mode !== "async" && mode !== "listen") {
  console.error(
    `--mode must be "sync", "async" or "listen", got ${JSON.stringify(mode)}\n${USAGE}`,
  );
  Deno.exit(2);
}
if (mode === "listen" && backend !== undefined) {
  console.error(`--backend does not apply to --mode listen (the reactor picks)\n${USAGE}`);
  Deno.exit(2);
}

/** The one buffer every connection is read into. */
const BUFFER_SIZE = 64 * 1024;
/** Sync mode: the slice selectInto() waits at most, after which the event loop turns, in ms. */
const SLICE_MS = 50;
/** Sync mode: while busy (no slice ends idle), the event loop turns this often, in ms. */
const BUSY_TURN_MS = 500;
/** Connections accepted per READABLE event of the listener, before others are served again. */
const ACCEPT_BATCH = 256;
/** How long accepting pauses when no fd is left (EMFILE), in ms. */
const ACCEPT_PAUSE_MS = 100;
/** The codes of an accept that failed for want of fds (Linux) or socket handles (Windows). */
const OUT_OF_FDS = new Set<string | undefined>(["EMFILE", "ENFILE", "WSAEMFILE", "WSAENOBUFS"]);
/** async mode: the wait while accepting is paused. */
const PAUSED_WAIT = { timeout: ACCEPT_PAUSE_MS };

/** One client: its socket, and the bytes it has yet to be sent. */
class Connection {
  readonly conn: TcpConn;
  readonly fd: number;
  /** Unsent bytes are pending[start, end); the buffer is made at the first partial write. */
  pending: Uint8Array | undefined = undefined;
  start = 0;
  end = 0;
  /** Whether the interest is WRITABLE (unsent bytes wait) rather than READABLE. */
  writing = false;

  constructor(conn: TcpConn) {
    this.conn = conn;
    this.fd = conn.fd;
  }
}

/**
 * The readiness server (sync and async modes): one Selector, one buffer,
 * level-triggered, as the header says.
 */
async function serveWithSelector(): Promise<void> {
  // Windows has no fd limit to raise (its sockets are handles).
  const limit = windows ? undefined : raiseFdLimit();
  const selector: Selector<Connection> = openSelector<Connection>({ backend });
  const listener = listenTcp({ hostname: values.host, port, backlog: 4096 });
  const connections = new Set<Connection>();
  const events = new SelectorEvents<Connection>(1024);
  const buffer = new Uint8Array(BUFFER_SIZE);
  /**
   * views[n] is buffer[0, n), made the first time n bytes are echoed (sized
   * up front: an array grown by a far index would be a slow dictionary).
   */
  const views = new Array<Uint8Array | undefined>(BUFFER_SIZE + 1);
  views[BUFFER_SIZE] = buffer;
  let accepting = true;
  let acceptPausedUntil = 0;
  let stopping = false;

  // The listener's events carry no data: that is how they are told apart.
  selector.register(listener.fd, Interest.READABLE);

  function onSignal(): void {
    stopping = true;
    // async mode: end the pending waitInto(); sync mode: the slice ends it.
    if (!selector.closed) selector.wakeup();
  }
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);

  const { hostname: boundHost, port: boundPort } = listener.addr;
  const where = boundHost.includes(":")
    ? `[${boundHost}]:${boundPort}`
    : `${boundHost}:${boundPort}`;
  console.log(
    `listening on ${where} (${selector.backend}, ${mode}` +
      (limit === undefined ? ")" : `; up to ${limit.soft} fds)`),
  );

  function close(c: Connection): void {
    selector.unregister(c.fd);
    c.conn.close();
    connections.delete(c);
  }

  /** Keeps buffer[from, to) as the connection's unsent bytes and waits for WRITABLE. */
  function keep(c: Connection, from: number, to: number): void {
    c.pending ??= new Uint8Array(BUFFER_SIZE);
    c.pending.set(buffer.subarray(from, to));
    c.start = 0;
    c.end = to - from;
    c.writing = true;
    selector.modify(c.fd, Interest.WRITABLE);
  }

  /** Sends unsent bytes (WRITABLE); once all are gone, reads again. */
  function flush(c: Connection): void {
    let w: number;
    try {
      w = c.conn.tryWrite(c.pending!.subarray(c.start, c.end));
    } catch {
      close(c); // reset, or the peer is gone
      return;
    }
    c.start += w;
    if (c.start === c.end) {
      c.writing = false;
      selector.modify(c.fd, Interest.READABLE);
    }
  }

  /** Reads what came (READABLE) and writes it straight back. */
  function echo(c: Connection): void {
    let n: number | null;
    let w: number;
    try {
      n = c.conn.tryRead(buffer);
      if (n === null) {
        // End of stream: all that was read has been echoed or is in the
        // socket's buffer, which close() still sends before the FIN.
        close(c);
        return;
      }
      if (n === 0) return;
      w = c.conn.tryWrite(views[n] ??= buffer.subarray(0, n));
    } catch {
      close(c); // ConnectionReset, BrokenPipe: this connection only
      return;
    }
    if (w < n) keep(c, w, n);
  }

  function accept(): void {
    for (let i = 0; i < ACCEPT_BATCH; i++) {
      let conn: TcpConn | null;
      try {
        conn = listener.tryAccept();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (!OUT_OF_FDS.has(code)) throw error;
        // No fd left: stop accepting for a while, or the listener, still
        // readable, would be reported again and again.
        console.error(`Out of fds at ${connections.size} connections: accepting paused`);
        selector.unregister(listener.fd);
        accepting = false;
        acceptPausedUntil = Date.now() + ACCEPT_PAUSE_MS;
        return;
      }
      if (conn === null) return;
      try {
        conn.setNoDelay(true);
      } catch {
        conn.close(); // reset before it was served
        continue;
      }
      const c = new Connection(conn);
      selector.register(c.fd, Interest.READABLE, { data: c });
      connections.add(c);
    }
  }

  function dispatch(n: number): void {
    for (let i = 0; i < n; i++) {
      const c = events.data(i);
      if (c === undefined) accept();
      else if (c.writing) flush(c);
      else echo(c);
    }
    if (!accepting && Date.now() >= acceptPausedUntil) {
      selector.register(listener.fd, Interest.READABLE);
      accepting = true;
    }
  }

  /**
   * Lets the event loop turn, so that signal listeners run. It takes a timer:
   * a setImmediate() turn does not always poll for signals. A 0 ms timer
   * fires after about 2 ms here, hence the slices and the busy interval.
   */
  function turnEventLoop(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 0));
  }

  try {
    if (mode === "sync") {
      let lastTurn = Date.now();
      while (!stopping) {
        const n = selector.selectInto(events, SLICE_MS);
        dispatch(n);
        if (n === 0 || Date.now() - lastTurn >= BUSY_TURN_MS) {
          await turnEventLoop(); // signal listeners run here
          lastTurn = Date.now();
        }
      }
    } else {
      while (!stopping) {
        dispatch(await selector.waitInto(events, accepting ? undefined : PAUSED_WAIT));
      }
    }
  } finally {
    for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, onSignal);
    const open = connections.size;
    for (const c of connections) close(c);
    if (accepting) selector.unregister(listener.fd);
    listener.close();
    selector.close();
    console.log(`stopped: closed ${open} connections, the listener and the selector`);
  }
}

/**
 * The listen mode: examples/deno_echo_server.ts on this module's sockets,
 * the same code but for `listenTcp()` and the stop signals of Windows.
 */
async function serveAsDenoListenWould(): Promise<void> {
  const listener = listenTcp({ hostname: values.host, port, backlog: 4096 });
  const connections = new Set<TcpConn>();
  const { hostname, port: bound } = listener.addr;
  console.log(
    `listening on ${hostname.includes(":") ? `[${hostname}]` : hostname}:${bound} (listen)`,
  );

  let stopping = false;
  let open = 0;
  function onSignal(): void {
    if (stopping) return;
    stopping = true;
    listener.close(); // ends the accept loop below
    open = connections.size;
    for (const conn of connections) conn.close(); // ends each connection's loop
    connections.clear();
  }
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);

  async function serve(conn: TcpConn): Promise<void> {
    const buffer = new Uint8Array(BUFFER_SIZE);
    try {
      conn.setNoDelay(true);
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break; // end of stream: all of it was echoed
        let sent = 0;
        while (sent < n) sent += await conn.write(buffer.subarray(sent, n));
      }
    } catch {
      // A reset, or closed by onSignal: this connection only.
    } finally {
      if (connections.delete(conn)) conn.close();
    }
  }

  let served = 0;
  const loops = new Set<Promise<void>>();
  try {
    for await (const conn of listener) {
      connections.add(conn);
      served++;
      const loop = serve(conn).finally(() => loops.delete(loop));
      loops.add(loop);
    }
  } catch (error) {
    if (!stopping) throw error;
  }
  await Promise.all(loops);
  for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, onSignal);
  console.log(`stopped: closed ${open} connections and the listener (${served} served)`);
}

if (mode === "listen") await serveAsDenoListenWould();
else await serveWithSelector();
