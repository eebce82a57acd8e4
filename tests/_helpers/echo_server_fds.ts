// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Runs examples/echo_server.ts (same arguments) in this process, then
 * prints `fds left open: none`, or the numbers of the fds it opened and
 * left open, once it has stopped: the example's module finishes evaluating
 * only when the server has stopped.
 *
 * @module
 */

import { openFds } from "./mod.ts";

// Deno opens the fds of its signal handling at the first signal listener,
// and keeps them: open them before counting.
const noop = () => {};
Deno.addSignalListener("SIGINT", noop);
Deno.removeSignalListener("SIGINT", noop);
const before = new Set(openFds());
await import("../../examples/echo_server.ts");
const left = openFds().filter((fd) => !before.has(fd));
console.log(`fds left open: ${left.length === 0 ? "none" : left.join(" ")}`);
