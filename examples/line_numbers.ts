// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A line-numbering TCP service written with web streams: each connection's
 * bytes are decoded, split into lines, numbered and sent back, by one
 * `pipeThrough(…).pipeTo(conn.writable)` chain per connection.
 *
 *     deno run --allow-ffi examples/line_numbers.ts --port 9000 [--host 127.0.0.1]
 *     printf 'one\ntwo\n' | nc -N 127.0.0.1 9000     # "1: one" and "2: two" come back
 *
 * When the client ends its side, the last line (even one without a
 * newline) is numbered, `pipeTo` closes the writable stream, which is
 * `closeWrite()` (the client reads the end of the stream), and the
 * connection is closed. SIGINT or SIGTERM stops the service (on Windows:
 * Ctrl-C or Ctrl-Break); it prints `stopped: …` and exits 0.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { listenTcp, type TcpConn } from "../mod.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9000" },
    host: { type: "string", default: "127.0.0.1" },
  },
});

/** Splits text into lines (without their "\n"); the rest at the end is a line too. */
function lines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) controller.enqueue(line);
    },
    flush(controller) {
      if (rest !== "") controller.enqueue(rest);
    },
  });
}

/** Numbers each line: "1: first\n", "2: second\n", … */
function numbered(): TransformStream<string, string> {
  let n = 0;
  return new TransformStream({
    transform(line, controller) {
      controller.enqueue(`${++n}: ${line}\n`);
    },
  });
}

const listener = listenTcp({ hostname: values.host, port: Number(values.port) });
const open = new Set<TcpConn>();
const { hostname, port } = listener.addr;
console.log(`listening on ${hostname}:${port} (line numbers)`);

const signals: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];
const stop = () => {
  listener.close(); // ends the for await below
  for (const conn of open) conn.close(); // ends each pipe
};
for (const signal of signals) Deno.addSignalListener(signal, stop);

async function serve(conn: TcpConn): Promise<void> {
  open.add(conn);
  try {
    await conn.readable
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(lines())
      .pipeThrough(numbered())
      .pipeThrough(new TextEncoderStream())
      .pipeTo(conn.writable);
  } catch {
    // A reset, or closed by stop(): this connection only.
  } finally {
    open.delete(conn);
    conn.close();
  }
}

let served = 0;
const serving = new Set<Promise<void>>();
for await (const conn of listener) {
  served++;
  const done = serve(conn).finally(() => serving.delete(done));
  serving.add(done);
}
await Promise.all(serving);
for (const signal of signals) Deno.removeSignalListener(signal, stop);
console.log(`stopped: ${served} connections served`);
