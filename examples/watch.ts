// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Watches stdin and a pipe at once on one Selector, without blocking the
 * event loop: a timer writes a tick into the pipe every 250 ms, and every
 * line typed (or piped) into stdin is echoed as it arrives.
 *
 *     deno run --allow-ffi examples/watch.ts [--seconds 3] [--backend epoll|poll]
 *
 * Stops after `--seconds`, at end of stdin plus one tick, or on Ctrl-C,
 * and closes every fd it opened.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Interest, openPipe, openSelector, type SelectorBackend } from "../mod.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    backend: { type: "string", default: "epoll" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log("Usage: deno run --allow-ffi examples/watch.ts [--seconds 3] [--backend epoll|poll]");
  Deno.exit(0);
}
const seconds = Number(values.seconds);
if (!(seconds > 0)) {
  throw new RangeError(`--seconds must be a positive number, got ${values.seconds}`);
}
const backend = values.backend as SelectorBackend;

const STDIN = 0;
const decoder = new TextDecoder();
const start = performance.now();
const stamp = () => `[${((performance.now() - start) / 1000).toFixed(2)}s]`;

using selector = openSelector<"stdin" | "ticker">({ backend });
using ticker = openPipe();
selector.register(ticker.reader.fd, Interest.READABLE, { data: "ticker" });

let watchingStdin = true;
try {
  selector.register(STDIN, Interest.READABLE, { data: "stdin" });
} catch (error) {
  // epoll cannot watch a regular file or /dev/null (EPERM → NotSupported).
  watchingStdin = false;
  console.log(`${stamp()} not watching stdin: ${(error as Error).message}`);
}

let ticks = 0;
const interval = setInterval(() => {
  ticker.writer.tryWrite(new TextEncoder().encode(`tick ${++ticks}`));
}, 250);
const stop = new AbortController();
const timeout = setTimeout(() => stop.abort(), seconds * 1000);
const onInterrupt = () => stop.abort();
Deno.addSignalListener("SIGINT", onInterrupt);

console.log(
  `${stamp()} watching ${watchingStdin ? "stdin and " : ""}a pipe with ${selector.backend}`,
);
const buffer = new Uint8Array(4096);
let stdinEnded = false;
try {
  while (!stop.signal.aborted) {
    let events;
    try {
      events = await selector.wait({ signal: stop.signal });
    } catch (error) {
      if (stop.signal.aborted) break;
      throw error;
    }
    for (const event of events) {
      if (event.data === "ticker") {
        const n = ticker.reader.tryRead(buffer) ?? 0;
        console.log(`${stamp()} pipe readable: ${decoder.decode(buffer.subarray(0, n))}`);
        if (stdinEnded) stop.abort();
      } else if (event.data === "stdin") {
        // Readiness says a read will not block: Deno's own stdin reads it.
        const n = Deno.stdin.readSync(buffer);
        if (n === null || n === 0) {
          console.log(`${stamp()} stdin ended`);
          selector.unregister(STDIN);
          stdinEnded = true;
        } else {
          console.log(
            `${stamp()} stdin readable: ${JSON.stringify(decoder.decode(buffer.subarray(0, n)))}`,
          );
        }
      }
    }
  }
} finally {
  clearInterval(interval);
  clearTimeout(timeout);
  Deno.removeSignalListener("SIGINT", onInterrupt);
  if (selector.getKey(STDIN)) selector.unregister(STDIN);
  selector.unregister(ticker.reader.fd);
}
console.log(`${stamp()} done after ${ticks} ticks`);
