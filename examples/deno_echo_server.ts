// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The same TCP echo server as examples/echo_server.ts, written the way a
 * Deno user would without this module: `Deno.listen`, one async loop per
 * connection. The demo and bench/echo_run.ts set the two side by side.
 *
 *     deno run --allow-net examples/deno_echo_server.ts --port 9000 [--host 127.0.0.1]
 *
 * Same first line (`listening on 127.0.0.1:9000 (Deno.listen)`), same
 * buffer size (64 KiB, one per connection), TCP_NODELAY on every
 * connection, and the same clean stop on SIGINT or SIGTERM.
 *
 * @module
 */

import { parseArgs } from "node:util";

const USAGE =
  "Usage: deno run --allow-net examples/deno_echo_server.ts --port 9000 [--host 127.0.0.1]";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9000" },
    host: { type: "string", default: "127.0.0.1" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}

const BUFFER_SIZE = 64 * 1024;

const listener = Deno.listen({ hostname: values.host, port: Number(values.port) });
const connections = new Set<Deno.TcpConn>();
const { hostname, port } = listener.addr;
console.log(
  `listening on ${hostname.includes(":") ? `[${hostname}]` : hostname}:${port} (Deno.listen)`,
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
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

async function serve(conn: Deno.TcpConn): Promise<void> {
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
Deno.removeSignalListener("SIGINT", onSignal);
Deno.removeSignalListener("SIGTERM", onSignal);
console.log(`stopped: closed ${open} connections and the listener (${served} served)`);
