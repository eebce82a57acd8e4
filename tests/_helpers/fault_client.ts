// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A client for tests/contract/reliability_test.ts to kill with SIGKILL: it opens
 * `--connections` connections to `--port` and puts them in a state, prints
 * `ready` once they are in it, and stays so until it is killed.
 *
 *     deno run --allow-ffi tests/_helpers/fault_client.ts --port 9000 --mode send|idle [--connections 100]
 *
 * - `send`: each connection writes without ever reading, until the server,
 *   blocked echoing into this client's full receive buffers, stops taking
 *   bytes; `ready` then, and it keeps trying to write. Killed, its sockets
 *   are reset (unread bytes are left).
 * - `idle`: each connection has one byte echoed, then nothing happens.
 *   Killed, its sockets end with a FIN.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Interest, openSelector, raiseFdLimit, startConnectTcp, type TcpConn } from "../../mod.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    mode: { type: "string" },
    connections: { type: "string", default: "100" },
  },
});
const port = Number(values.port);
const count = Number(values.connections);
const mode = values.mode;
if (!(port > 0) || !(count > 0) || (mode !== "send" && mode !== "idle")) {
  console.error(
    "Usage: tests/_helpers/fault_client.ts --port N --mode send|idle [--connections N]",
  );
  Deno.exit(2);
}
/** How long connections may take to get into their state, in ms. */
const SETUP_MS = 30_000;
/** Writes that stall this long mean the server has stopped taking bytes, in ms. */
const STALL_MS = 200;

raiseFdLimit(count + 64);
const selector = openSelector<number>();
const conns: TcpConn[] = [];
for (let i = 0; i < count; i++) {
  const conn = startConnectTcp({ hostname: "127.0.0.1", port });
  conns.push(conn);
  selector.register(conn.fd, Interest.WRITABLE, { data: i });
}
const connected = new Array<boolean>(count).fill(false);
const deadline = performance.now() + SETUP_MS;
const payload = new Uint8Array(64 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
const one = new Uint8Array([7]);
const sink = new Uint8Array(64);

if (mode === "send") {
  // Write until nothing has been taken for STALL_MS, on every connection.
  let lastTaken = performance.now();
  let sending = 0;
  for (;;) {
    if (performance.now() > deadline) throw new Error(`only ${sending} connections sending`);
    for (const event of selector.select(50)) {
      const i = event.data!;
      if (!connected[i]) {
        conns[i].finishConnect();
        connected[i] = true;
        sending++;
      }
      if (conns[i].tryWrite(payload) > 0) lastTaken = performance.now();
    }
    if (sending === count && performance.now() - lastTaken > STALL_MS) break;
  }
  console.log("ready");
  // Go on trying to write: mid-send when the kill comes.
  for (;;) {
    for (const event of selector.select(1_000)) conns[event.data!].tryWrite(payload);
  }
} else {
  let echoed = 0;
  while (echoed < count) {
    if (performance.now() > deadline) throw new Error(`only ${echoed} connections echoed`);
    for (const event of selector.select(100)) {
      const i = event.data!;
      if (!connected[i]) {
        conns[i].finishConnect();
        connected[i] = true;
        if (conns[i].tryWrite(one) !== 1) throw new Error("a 1-byte write was not taken");
        selector.modify(conns[i].fd, Interest.READABLE);
      } else if (conns[i].tryRead(sink) === 1) {
        selector.unregister(conns[i].fd);
        echoed++;
      }
    }
  }
  console.log("ready");
  // Idle until killed.
  setInterval(() => {}, 60_000);
}
