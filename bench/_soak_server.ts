// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Runs an echo example in this process (its path, then its own arguments)
 * for bench/soak.ts, and prints the process's memory as V8 and Deno see it
 * on stderr once a second, one line each:
 * `memory {"rss":…,"heapTotal":…,"heapUsed":…,"external":…,"newSpace":…,"oldSpace":…}`
 * (`newSpace` and `oldSpace`: the sizes V8 has reserved for its young and
 * old generations), so that RSS measured from outside can be told apart
 * into the JavaScript heap and the rest (native memory: the runtime, FFI,
 * the allocator's arenas).
 *
 *     deno run --allow-ffi bench/_soak_server.ts examples/echo_server.ts --port 0 --mode async
 *
 * @module
 */

import { getHeapSpaceStatistics } from "node:v8";

const [example] = Deno.args;
if (example === undefined) {
  console.error("Usage: bench/_soak_server.ts EXAMPLE [its arguments]");
  Deno.exit(2);
}
// The example reads its own flags from Deno.args: give it the rest.
Deno.args.shift();
const timer = setInterval(() => {
  const spaces = new Map(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
  const memory = {
    ...Deno.memoryUsage(),
    newSpace: spaces.get("new_space") ?? 0,
    oldSpace: spaces.get("old_space") ?? 0,
  };
  console.error(`memory ${JSON.stringify(memory)}`);
}, 1000);
try {
  await import(new URL(example, `file://${Deno.cwd()}/`).href);
} finally {
  clearInterval(timer);
}
