// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Load for an echo server: `--connections` connections, all open at once,
 * each sending a `--size`-byte message and waiting for all of it to come
 * back before sending the next (ping-pong), for `--seconds` after a
 * `--warmup`, all on one Selector on this thread.
 *
 *     deno run --allow-ffi examples/echo_client.ts --port 9000 [--host 127.0.0.1]
 *       [--connections 64] [--size 64] [--seconds 3] [--warmup 0.5]
 *       [--rounds N | --until-stdin-closes] [--backend epoll|poll|afd] [--json]
 *
 * - `--rounds N`: instead of a time, exactly N round trips per connection
 *   (every one measured, no warm-up); all must be done within 60 s.
 * - `--until-stdin-closes`: instead of `--seconds`, measure until stdin
 *   (a pipe or a terminal) reaches its end: for a side client that runs
 *   as long as something else does.
 *
 * Prints messages per second and the round trip's p50, p99 and maximum,
 * or with `--json` one line: `{"connections":64,"size":64,"seconds":3,
 * "messages":…,"messagesPerSecond":…,"p50Us":…,"p99Us":…,"mismatches":0,
 * "maxUs":…}` (the fields bench/echo_load.c prints, and the maximum;
 * `seconds` is the time measured). Each connection sends bytes of its own
 * (a stretch of one pseudo-random sequence starting at its index), and what
 * comes back is compared with them, so bytes delivered to the wrong
 * connection show too; a mismatch, a server that closes or resets, or a
 * connect that fails makes it exit 1 (a connect the kernel refuses for now,
 * with EAGAIN or EADDRNOTAVAIL, is tried again every 20 ms within the 30 s
 * connecting may take). At the end it stops sending, waits
 * (at most 2 s) for the echoes in flight, and closes every connection.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  Interest,
  openSelector,
  raiseFdLimit,
  type SelectorBackend,
  SelectorEvents,
  startConnectTcp,
  type TcpConn,
} from "../mod.ts";
import { Histogram } from "./_histogram.ts";

const USAGE = "Usage: deno run --allow-ffi examples/echo_client.ts --port 9000 " +
  "[--host 127.0.0.1] [--connections 64] [--size 64] [--seconds 3] [--warmup 0.5] " +
  "[--rounds N | --until-stdin-closes] [--backend epoll|poll|afd] [--json]";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9000" },
    host: { type: "string", default: "127.0.0.1" },
    connections: { type: "string", default: "64" },
    size: { type: "string", default: "64" },
    seconds: { type: "string", default: "3" },
    warmup: { type: "string", default: "0.5" },
    rounds: { type: "string" },
    "until-stdin-closes": { type: "boolean", default: false },
    // Default: the OS's own (epoll on Linux, afd on Windows).
    backend: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
function positive(name: string, text: string, integer: boolean, zero = false): number {
  const value = Number(text);
  if (!(zero ? value >= 0 : value > 0) || (integer && !Number.isInteger(value))) {
    console.error(
      `--${name} must be a ${zero ? "non-negative" : "positive"} ${
        integer ? "integer" : "number"
      }, got ${JSON.stringify(text)}\n${USAGE}`,
    );
    Deno.exit(2);
  }
  return value;
}
const port = positive("port", values.port, true);
const count = positive("connections", values.connections, true);
const size = positive("size", values.size, true);
const seconds = positive("seconds", values.seconds, false);
const warmup = positive("warmup", values.warmup, false, true);
const rounds = values.rounds === undefined ? undefined : positive("rounds", values.rounds, true);
const untilStdinCloses = values["until-stdin-closes"];
if (rounds !== undefined && untilStdinCloses) {
  console.error(`--rounds and --until-stdin-closes exclude each other\n${USAGE}`);
  Deno.exit(2);
}

/** How long connecting may take, in ms. */
const CONNECT_TIMEOUT_MS = 30_000;
/** How long a connect the kernel refused for now (EAGAIN, EADDRNOTAVAIL) waits before it is tried again, in ms. */
const RETRY_MS = 20;
/** What a connect may meet that says "not now", not "no": local ports or routing entries ran short. */
const NOT_NOW = new Set<string | undefined>(["EAGAIN", "EADDRNOTAVAIL"]);

/** Whether `error` is a connect's "not now" (see NOT_NOW). */
function notNow(error: unknown): boolean {
  return NOT_NOW.has((error as { code?: string }).code);
}
/** How long the echoes in flight at the end may take, in ms. */
const DRAIN_MS = 2_000;
/** How long `--rounds` may take, in ms. */
const ROUNDS_TIMEOUT_MS = 60_000;

/** One connection: where its current message stands. */
class Client {
  /** The connection (undefined while a connect the kernel refused for now waits to be tried again). */
  conn: TcpConn | undefined;
  fd = -1;
  /** The bytes this connection sends, each message. */
  readonly payload: Uint8Array;
  connected = false;
  /** Round trips done (counted for `--rounds`). */
  rounds = 0;
  sent = 0;
  received = 0;
  /** performance.now() when the current message was sent. */
  started = 0;
  /** Whether WRITABLE is asked for (the message did not fit at once). */
  writing = false;
  /** Whether a message is out (sent, not all of it back). */
  busy = false;

  /** When the connect is tried again, after the kernel refused it for now. */
  retryAt = 0;

  constructor(payload: Uint8Array) {
    this.payload = payload;
  }

  /** The connection, once connecting has started. */
  get tcp(): TcpConn {
    return this.conn!;
  }
}

// Windows has no fd limit to raise (its sockets are handles).
if (Deno.build.os !== "windows") raiseFdLimit(count + 64);
/** Connection i sends source[i, i + size): a shifted pseudo-random sequence differs everywhere. */
const source = new Uint8Array(size + count);
for (let i = 0, x = 0x9e3779b9; i < source.length; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  source[i] = x & 0xff;
}
const buffer = new Uint8Array(Math.max(size, 64 * 1024));
const histogram = new Histogram();
using selector = openSelector<Client>({
  backend: values.backend as SelectorBackend | undefined,
});
const events = new SelectorEvents<Client>(1024);
const clients: Client[] = [];
let failure: string | undefined;
let mismatches = 0;
let messages = 0;
/** The longest round trip measured, in ms. */
let maxMs = 0;
/** Measured from, and to (when it ends early: stdin closed, or the rounds done). */
let measuredFrom = 0;
let measuredTo = 0;

function fail(message: string): void {
  failure ??= message;
}

/** Writes what remains of the current message; asks for WRITABLE while some does not fit. */
function sendRest(c: Client): void {
  c.sent += c.tcp.tryWrite(c.sent === 0 ? c.payload : c.payload.subarray(c.sent));
  const writing = c.sent < size;
  if (writing !== c.writing) {
    c.writing = writing;
    selector.modify(c.fd, writing ? Interest.READABLE | Interest.WRITABLE : Interest.READABLE);
  }
}

/** Connects the kernel refused for now, oldest first: each is tried again RETRY_MS after. */
const retrying: Client[] = [];

/** Puts `c` among the connects tried again after RETRY_MS. */
function retryLater(c: Client): void {
  c.retryAt = performance.now() + RETRY_MS;
  retrying.push(c);
}

/**
 * Starts `c`'s connect; one the kernel refuses for now (its local ports or
 * routing entries ran short: EAGAIN, EADDRNOTAVAIL) is tried again after
 * RETRY_MS, within the time connecting may take.
 */
function startConnect(c: Client, host: string): void {
  let conn: TcpConn;
  try {
    conn = startConnectTcp({ hostname: host, port });
  } catch (error) {
    if (!notNow(error)) throw error;
    return retryLater(c);
  }
  c.conn = conn;
  c.fd = conn.fd;
  selector.register(conn.fd, Interest.WRITABLE, { data: c });
}

function start(c: Client, now: number): void {
  c.sent = 0;
  c.received = 0;
  c.started = now;
  c.busy = true;
  sendRest(c);
}

try {
  // Connect them all (nonblocking: WRITABLE says the connect is over).
  const host = values.host;
  for (let i = 0; i < count; i++) {
    const c = new Client(source.subarray(i, i + size));
    clients.push(c);
    startConnect(c, host);
  }
  let connecting = count;
  const connectBy = performance.now() + CONNECT_TIMEOUT_MS;
  while (connecting > 0 && failure === undefined) {
    if (performance.now() > connectBy) {
      fail(`${connecting} of ${count} connections still connecting after ${CONNECT_TIMEOUT_MS} ms`);
      break;
    }
    // The connects due again (the oldest first: they fell due first).
    const now = performance.now();
    while (retrying.length > 0 && retrying[0].retryAt <= now) startConnect(retrying.shift()!, host);
    const n = selector.selectInto(events, retrying.length > 0 ? RETRY_MS : 100);
    for (let i = 0; i < n; i++) {
      const c = events.data(i)!;
      if (c.connected) continue;
      try {
        c.tcp.finishConnect();
      } catch (error) {
        if (error instanceof Deno.errors.WouldBlock) continue;
        if (notNow(error)) {
          selector.unregister(c.fd);
          c.tcp.close();
          c.conn = undefined;
          retryLater(c);
          continue;
        }
        fail(`Cannot connect to ${host}:${port}: ${(error as Error).message}`);
        break;
      }
      c.connected = true;
      connecting--;
      c.tcp.setNoDelay(true);
      selector.modify(c.fd, Interest.READABLE);
    }
  }

  // Ping-pong.
  const begin = performance.now();
  // With --rounds every round trip counts, and only the deadline bounds it.
  const measureFrom = rounds === undefined ? begin + warmup * 1000 : begin;
  let measureTo = rounds === undefined ? measureFrom + seconds * 1000 : Infinity;
  let drainTo = rounds === undefined ? measureTo + DRAIN_MS : begin + ROUNDS_TIMEOUT_MS;
  measuredFrom = measureFrom;
  if (untilStdinCloses) {
    measureTo = drainTo = Infinity;
    // Its events carry no data; a pipe's end (or a tty's hangup) makes it readable.
    selector.register(0, Interest.READABLE);
  }
  let busy = 0;
  if (failure === undefined) {
    for (const c of clients) start(c, begin);
    busy = count;
  }
  let sending = true;
  while (busy > 0 && failure === undefined) {
    const n = selector.selectInto(events, 100);
    for (let i = 0; i < n; i++) {
      const c = events.data(i);
      if (c === undefined) {
        // stdin is readable: at its end, stop; what it says is ignored.
        if (Deno.stdin.readSync(buffer) !== null) continue;
        selector.unregister(0);
        measureTo = Math.max(performance.now(), measureFrom);
        drainTo = measureTo + DRAIN_MS;
        continue;
      }
      try {
        if (c.writing && events.writable(i)) sendRest(c);
        if (!events.readable(i)) continue;
        const r = c.tcp.tryRead(buffer);
        if (r === null) {
          fail(`The server closed a connection`);
          break;
        }
        if (r === 0) continue;
        // Compare what came back with what was sent.
        const from = c.received;
        if (from + r > c.sent) mismatches++;
        else {
          const payload = c.payload;
          for (let j = 0; j < r; j++) {
            if (buffer[j] !== payload[from + j]) {
              mismatches++;
              break;
            }
          }
        }
        c.received = from + r;
        if (c.received < size) continue;
        const now = performance.now();
        c.rounds++;
        if (c.started >= measureFrom && now <= measureTo) {
          const ms = now - c.started;
          histogram.record(ms);
          if (ms > maxMs) maxMs = ms;
          messages++;
        }
        if (sending && now < measureTo && (rounds === undefined || c.rounds < rounds)) {
          start(c, now);
        } else {
          sending = false;
          c.busy = false;
          busy--;
        }
      } catch (error) {
        fail(`A connection failed: ${(error as Error).message}`);
        break;
      }
    }
    const now = performance.now();
    if (now >= measureTo) sending = false;
    if (now >= drainTo) {
      fail(
        rounds === undefined
          ? `${busy} echoes still in flight ${DRAIN_MS} ms after the end`
          : `${busy} of ${count} connections not done with ${rounds} rounds after ` +
            `${ROUNDS_TIMEOUT_MS} ms`,
      );
      break;
    }
  }
  measuredTo = Math.min(performance.now(), measureTo);
} catch (error) {
  fail((error as Error).message);
} finally {
  for (const c of clients) {
    if (c.conn === undefined) continue;
    if (selector.getKey(c.fd)) selector.unregister(c.fd);
    c.conn.close();
  }
}

// The time measured: --seconds, unless the run was cut short or ran by rounds or until stdin closed.
const measured = rounds === undefined && !untilStdinCloses
  ? seconds
  : Math.round(Math.max(measuredTo - measuredFrom, 0)) / 1000;
const result = {
  connections: count,
  size,
  seconds: measured,
  messages,
  messagesPerSecond: measured > 0 ? Math.round(messages / measured * 10) / 10 : 0,
  p50Us: Math.round(histogram.percentile(0.5) * 10) / 10,
  p99Us: Math.round(histogram.percentile(0.99) * 10) / 10,
  mismatches,
  maxUs: Math.round(maxMs * 10_000) / 10,
};
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    `${count} connection${count === 1 ? "" : "s"} × ${size} bytes for ${measured} s: ` +
      `${Math.round(result.messagesPerSecond).toLocaleString("en")} messages/s, ` +
      `round trip p50 ${result.p50Us} µs, p99 ${result.p99Us} µs, max ${result.maxUs} µs` +
      (mismatches ? `, ${mismatches} MISMATCHES` : ""),
  );
}
if (failure !== undefined) console.error(failure);
if (failure !== undefined || mismatches > 0) Deno.exit(1);
