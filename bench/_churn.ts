// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Connection churn for bench/soak.ts: `--concurrency` connections in
 * flight at once, each of which connects, echoes one `--size`-byte message
 * of its own (its sequence number and bytes made from it), checks it, and
 * closes; each one that ends is replaced at once, for `--seconds`.
 *
 *     deno run --allow-ffi bench/_churn.ts --port 9000 [--concurrency 64] [--size 64] [--seconds 60]
 *
 * Every second it prints one JSON line of running totals,
 * `{"elapsed":…,"connections":…,"corrupt":…,"errors":…,"lastError":…}`
 * (`connections`: echoed, checked and closed; `corrupt`: echoes that came
 * back different; `errors`: connects, reads or writes that failed, and
 * servers that closed before the whole echo), and one last line at the end.
 * It exits 0 when nothing was corrupt and nothing failed, else 1.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  Interest,
  openSelector,
  raiseFdLimit,
  SelectorEvents,
  startConnectTcp,
  type TcpConn,
} from "../mod.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    concurrency: { type: "string", default: "64" },
    size: { type: "string", default: "64" },
    seconds: { type: "string", default: "60" },
  },
});
const port = Number(values.port);
const concurrency = Number(values.concurrency);
const size = Number(values.size);
const seconds = Number(values.seconds);
if (
  !(port > 0) || !Number.isInteger(concurrency) || !(concurrency > 0) ||
  !Number.isInteger(size) || !(size >= 4) || !(seconds > 0)
) {
  console.error(
    "Usage: bench/_churn.ts --port N [--concurrency 64] [--size 64 (at least 4)] [--seconds 60]",
  );
  Deno.exit(2);
}

/** One connection in flight. */
interface Flight {
  conn: TcpConn;
  message: Uint8Array;
  connected: boolean;
  sent: number;
  received: number;
}

raiseFdLimit(concurrency + 64);
using selector = openSelector<Flight>();
const events = new SelectorEvents<Flight>(concurrency + 1);
const buffer = new Uint8Array(64 * 1024);
let sequence = 0;
let connections = 0;
let corrupt = 0;
let errors = 0;
let lastError = "";
const flights = new Set<Flight>();

/** The message of connection number `n`: n in its first 4 bytes, then bytes made from n. */
function messageOf(n: number): Uint8Array {
  const message = new Uint8Array(size);
  new DataView(message.buffer).setUint32(0, n, true);
  for (let i = 4; i < size; i++) message[i] = (n * 131 + i * 7 + (n >>> 8)) & 0xff;
  return message;
}

function failed(error: unknown): void {
  errors++;
  lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Opens one more connection; a failed connect is counted, and retried on the next turn. */
function start(): void {
  let conn: TcpConn;
  try {
    conn = startConnectTcp({ hostname: values.host, port });
  } catch (error) {
    failed(error);
    return;
  }
  const flight = { conn, message: messageOf(sequence++), connected: false, sent: 0, received: 0 };
  selector.register(conn.fd, Interest.WRITABLE, { data: flight });
  flights.add(flight);
}

function end(flight: Flight): void {
  selector.unregister(flight.conn.fd);
  flight.conn.close();
  flights.delete(flight);
}

function step(flight: Flight, readable: boolean): void {
  const { conn, message } = flight;
  if (!flight.connected) {
    conn.finishConnect();
    flight.connected = true;
  }
  if (flight.sent < size) {
    flight.sent += conn.tryWrite(flight.sent === 0 ? message : message.subarray(flight.sent));
    if (flight.sent === size) selector.modify(conn.fd, Interest.READABLE);
    return;
  }
  if (!readable) return;
  const n = conn.tryRead(buffer);
  if (n === null) throw new Error(`The server closed after ${flight.received} of ${size} bytes`);
  for (let i = 0; i < n; i++) {
    if (flight.received + i >= size || buffer[i] !== message[flight.received + i]) {
      corrupt++;
      end(flight);
      return;
    }
  }
  flight.received += n;
  if (flight.received < size) return;
  connections++;
  end(flight);
}

const begin = performance.now();
const stopAt = begin + seconds * 1000;
let nextReport = begin + 1000;
const report = () =>
  console.log(JSON.stringify({
    elapsed: Math.round(performance.now() - begin) / 1000,
    connections,
    corrupt,
    errors,
    lastError,
  }));

while (performance.now() < stopAt) {
  while (flights.size < concurrency) {
    const before = flights.size;
    start();
    if (flights.size === before) break; // the connect failed: try again next turn
  }
  const n = selector.selectInto(events, 10);
  for (let i = 0; i < n; i++) {
    const flight = events.data(i)!;
    try {
      step(flight, events.readable(i));
    } catch (error) {
      failed(error);
      if (flights.has(flight)) end(flight);
    }
  }
  if (performance.now() >= nextReport) {
    report();
    nextReport += 1000;
  }
}
// The connections still in flight are closed, not counted.
for (const flight of flights) end(flight);
report();
Deno.exit(corrupt === 0 && errors === 0 ? 0 : 1);
