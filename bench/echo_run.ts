// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The echo showdown: one load generator (bench/echo_load.c) against a C
 * epoll echo server (bench/echo_server.c, the physical limit), a
 * `Deno.listen` echo server (examples/deno_echo_server.ts, what a Deno
 * user would write instead), the same code on this module's sockets
 * (examples/echo_server.ts --mode listen: for await over the listener, one
 * async loop per connection, through the thread's reactor), and
 * examples/echo_server.ts in sync and async modes on epoll and on poll; 64
 * connections and 1 connection of 64-byte ping-pong. Prints the medians of
 * `--runs` runs as ratios to the C server, to Deno.listen and to the
 * Selector's async server, with the targets met or not.
 *
 *     deno run --allow-run --allow-read --allow-write --allow-env --allow-sys --allow-net --allow-ffi \
 *       bench/echo_run.ts [--runs 11] [--seconds 2] [--warmup 0.3]
 *       [--pinning pinned|unpinned|both] [--write]
 *
 * `--write` puts the table into bench/README.md between its `echo`
 * markers. The C programs are built with `cc -O2` when there is a `cc`;
 * without one the C server is skipped and examples/echo_client.ts is the
 * load generator (with a note). Pinned, where `taskset` exists, the load
 * generator runs on CPU 0 and the server on CPU 1 (on a 2-core machine, one
 * each); unpinned, the scheduler places them, as users run them. Both by
 * default, each with its table and targets.
 *
 * @module
 */

import {
  echoFlags,
  echoHeader,
  type EchoServer,
  echoTable,
  formatBeside,
  formatMeasured,
  measureEcho,
  ratioOf,
  writeSection,
} from "./_runner.ts";

const { runs, seconds, warmup, write, pinnings } = echoFlags(11);

const here = new URL(".", import.meta.url);
const path = (name: string) => new URL(name, here).pathname;
const deno = Deno.execPath();

const DENO = "Deno.listen (examples/deno_echo_server.ts)";
const LISTEN = "listenTcp, as Deno.listen (examples/echo_server.ts --mode listen)";
const servers: EchoServer[] = [{
  name: DENO,
  command: deno,
  args: ["run", "--allow-net", path("../examples/deno_echo_server.ts")],
}, {
  name: LISTEN,
  command: deno,
  args: ["run", "--allow-ffi", path("../examples/echo_server.ts"), "--mode", "listen"],
}];
for (const backend of ["epoll", "poll"]) {
  for (const mode of ["sync", "async"]) {
    servers.push({
      name: `Selector ${mode}, ${backend} (examples/echo_server.ts)`,
      command: deno,
      args: [
        "run",
        "--allow-ffi",
        path("../examples/echo_server.ts"),
        "--backend",
        backend,
        "--mode",
        mode,
      ],
    });
  }
}
const SYNC = "Selector sync, epoll (examples/echo_server.ts)";
const ASYNC = "Selector async, epoll (examples/echo_server.ts)";

const scenarios = [
  { name: "64 connections × 64 bytes", connections: 64, size: 64 },
  { name: "1 connection × 64 bytes", connections: 1, size: 64 },
];

interface Target {
  what: string;
  /** The median of the per-run ratios ({@linkcode ratioOf}). */
  value: number;
  /** The ratio of the two medians, for the record. */
  ofMedians: number;
  limit: number;
}

const sections: string[] = [];
for (const pinning of pinnings) {
  const results = await measureEcho({
    servers,
    withC: true,
    scenarios,
    runs,
    seconds,
    warmup,
    pinning,
  });
  const { figures, c: C, notes } = results;
  const lines = echoTable(results, scenarios, [
    { label: "C", server: C },
    { label: "Deno.listen", server: DENO },
    { label: "Selector async", server: ASYNC },
  ]);

  const many = figures.get(scenarios[0].name)!;
  const one = figures.get(scenarios[1].name)!;
  const targets: Target[] = [];
  if (C) {
    targets.push(
      {
        what: "64 connections: sync ÷ C",
        ...ratioOf(many.get(SYNC)!, many.get(C)!),
        limit: 0.9,
      },
      {
        what: "64 connections: async ÷ C",
        ...ratioOf(many.get(ASYNC)!, many.get(C)!),
        limit: 0.85,
      },
    );
  }
  targets.push(
    {
      what: "64 connections: sync ÷ Deno.listen",
      ...ratioOf(many.get(SYNC)!, many.get(DENO)!),
      limit: 1.2,
    },
    {
      what: "64 connections: async ÷ Deno.listen",
      ...ratioOf(many.get(ASYNC)!, many.get(DENO)!),
      limit: 1.2,
    },
    {
      what: "1 connection: async ÷ Deno.listen",
      ...ratioOf(one.get(ASYNC)!, one.get(DENO)!),
      limit: 0.9,
    },
    {
      what: "64 connections: listen mode ÷ Deno.listen",
      ...ratioOf(many.get(LISTEN)!, many.get(DENO)!),
      limit: 1.2,
    },
    {
      what: "1 connection: listen mode ÷ Deno.listen",
      ...ratioOf(one.get(LISTEN)!, one.get(DENO)!),
      limit: 1.0,
    },
    {
      what: "64 connections: listen mode ÷ Selector async",
      ...ratioOf(many.get(LISTEN)!, many.get(ASYNC)!),
      limit: 0.9,
    },
  );
  lines.push(
    "",
    `| target (${pinning}; epoll, messages/s) | measured | ratio of the medians | limit | met |`,
    "| --- | ---: | ---: | ---: | :---: |",
  );
  for (const target of targets) {
    lines.push(
      `| ${target.what} | ${formatMeasured(target.value, (v) => v >= target.limit)} | ${
        formatBeside(target.ofMedians, (v) => v >= target.limit)
      } | ≥ ${target.limit} | ${target.value >= target.limit ? "yes" : "**no**"} |`,
    );
  }
  lines.push(
    "",
    "Measured: the median over the runs of the two servers' ratio in that run (the runs of all " +
      "servers follow each other within seconds, so a slow or fast phase of the machine divides " +
      "out); the ratio of the two medians beside it, for the record.",
  );
  if (notes.length) lines.push("", ...notes);
  sections.push(await echoHeader(results, { runs, seconds, warmup }), "", ...lines, "");
}
const table = sections.join("\n").trimEnd();
console.log(table);

if (write) {
  await writeSection("echo", table);
  console.error("Wrote bench/README.md");
}
