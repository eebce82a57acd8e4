// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The demo: a TCP echo server on this module's Selector against the same
 * server on `Deno.listen`, driven by the same load, side by side.
 *
 *     deno run --allow-run examples/demo.ts [--rounds 3] [--seconds 1] [--backend epoll|poll]
 *
 * Starts examples/echo_server.ts (in sync mode and in async mode) and
 * examples/deno_echo_server.ts as child processes on free ports, then, in
 * each of `--rounds` rounds, drives each in turn with
 * examples/echo_client.ts: 64 connections, then 1 connection, of 64-byte
 * ping-pong for `--seconds` after a short warm-up. Prints the median of
 * the rounds (one run on this kind of machine can be off by a third) in
 * one table, and stops every server with SIGTERM, checking that each exits
 * cleanly. About 25 seconds with the defaults. Where `taskset` exists, the
 * client runs on CPU 0 and the servers on CPU 1.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  cpuPinning,
  type LoadResult,
  runLoad,
  type RunningServer,
  startServer,
} from "./_process.ts";

const USAGE =
  "Usage: deno run --allow-run examples/demo.ts [--rounds 3] [--seconds 1] [--backend epoll|poll]";
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "1" },
    backend: { type: "string", default: "epoll" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
  console.error(`--rounds must be an integer from 1 to 20, got ${values.rounds}\n${USAGE}`);
  Deno.exit(2);
}
if (!(seconds > 0 && seconds <= 60)) {
  console.error(`--seconds must be a number from 0 to 60, got ${values.seconds}\n${USAGE}`);
  Deno.exit(2);
}
const backend = values.backend;
const WARMUP = 0.25;

const deno = Deno.execPath();
const example = (name: string) => new URL(name, import.meta.url).pathname;
const selector = (mode: string) => [
  "run",
  "--allow-ffi",
  example("echo_server.ts"),
  "--backend",
  backend,
  "--mode",
  mode,
];
const servers = [
  { name: "Selector, sync", args: selector("sync") },
  { name: "Selector, async", args: selector("async") },
  { name: "Deno.listen", args: ["run", "--allow-net", example("deno_echo_server.ts")] },
];
const loads = [
  { name: "64 connections × 64 bytes", connections: 64 },
  { name: "1 connection × 64 bytes", connections: 1 },
];

console.log(
  `TCP echo on @evented/io's Selector (${backend}) against Deno.listen, driven by ` +
    `examples/echo_client.ts:\none message in flight per connection, ${rounds} rounds of ` +
    `${seconds} s per server and load; medians shown.`,
);
const { pin, pinned } = await cpuPinning();
console.log(
  pinned
    ? "The client runs on CPU 0, the servers on CPU 1 (taskset).\n"
    : "Client and servers share the CPUs (no taskset, or one CPU): figures vary more.\n",
);

const running: RunningServer[] = [];
// results[server][load]: one result per round.
const results = servers.map(() => loads.map(() => [] as LoadResult[]));
try {
  for (const server of servers) {
    const started = await startServer(...pin(1, deno, [...server.args, "--port", "0"]));
    running.push(started);
    console.log(`${server.name.padEnd(16)} ${started.firstLine}`);
  }
  console.log(`\nmessages/s, ${servers.map((server) => server.name).join(" | ")}:`);
  for (let round = 1; round <= rounds; round++) {
    const parts: string[] = [];
    for (const [l, load] of loads.entries()) {
      const rates: string[] = [];
      for (const [s, server] of running.entries()) {
        const result = await runLoad(...pin(0, deno, [
          "run",
          "--allow-ffi",
          example("echo_client.ts"),
          "--port",
          String(server.port),
          "--connections",
          String(load.connections),
          "--size",
          "64",
          "--seconds",
          String(seconds),
          "--warmup",
          String(WARMUP),
        ]));
        results[s][l].push(result);
        rates.push(Math.round(result.messagesPerSecond).toLocaleString("en"));
      }
      parts.push(`${load.connections} conn. ${rates.join(" | ")}`);
    }
    console.log(`  round ${round}/${rounds}: ${parts.join("; ")}`);
  }
} finally {
  console.log("");
  for (const [s, server] of running.entries()) {
    const stopped = await server.stop("SIGTERM");
    console.log(
      `${servers[s].name.padEnd(16)} ${stopped.stdout.trim() || `exited ${stopped.code}`}`,
    );
    if (stopped.code !== 0) console.error(`exit code ${stopped.code}:\n${stopped.stderr}`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
const figure = (s: number, l: number, key: "messagesPerSecond" | "p50Us" | "p99Us") =>
  median(results[s][l].map((result) => result[key]));

// The table: one column per server.
const us = (value: number) =>
  value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(0)} µs`;
const rows: string[][] = [["", ...servers.map((server) => server.name)]];
for (const [l, load] of loads.entries()) {
  rows.push([load.name, ...servers.map(() => "")]);
  rows.push([
    "  messages/s",
    ...servers.map((_, s) => Math.round(figure(s, l, "messagesPerSecond")).toLocaleString("en")),
  ]);
  rows.push(["  round trip p50", ...servers.map((_, s) => us(figure(s, l, "p50Us")))]);
  rows.push(["  round trip p99", ...servers.map((_, s) => us(figure(s, l, "p99Us")))]);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
console.log("");
for (const row of rows) {
  console.log(
    row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c] + 3)).join(""),
  );
}
const ratio = (s: number, l: number) =>
  (figure(s, l, "messagesPerSecond") / figure(2, l, "messagesPerSecond")).toFixed(2);
console.log(
  `\nAgainst Deno.listen: sync ${ratio(0, 0)}×, async ${ratio(1, 0)}× the messages at 64 ` +
    `connections;\nsync ${ratio(0, 1)}×, async ${ratio(1, 1)}× at 1 connection ` +
    `(async pays a thread hop per wait when nothing is ready yet).`,
);
console.log(
  "The client is in TypeScript too and needs a core of its own: bench/echo_run.ts measures\n" +
    "the same servers with a C load generator, against a C epoll server.",
);
