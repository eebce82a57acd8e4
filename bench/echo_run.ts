// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The echo showdown: one load generator (bench/echo_load.c) against a C
 * epoll echo server (bench/echo_server.c, the physical limit), a
 * `Deno.listen` echo server (examples/deno_echo_server.ts, what a Deno
 * user would write instead), and examples/echo_server.ts in sync and async
 * modes on epoll and on poll; 64 connections and 1 connection of 64-byte
 * ping-pong. Prints the medians of `--runs` runs as ratios to the C server
 * and to Deno.listen, with the targets met or not.
 *
 *     deno run --allow-run --allow-read --allow-write --allow-env --allow-sys --allow-net \
 *       bench/echo_run.ts [--runs 11] [--seconds 2] [--warmup 0.3] [--write]
 *
 * `--write` puts the table into bench/README.md between its `echo`
 * markers. The C programs are built with `cc -O2` when there is a `cc`;
 * without one the C server is skipped and examples/echo_client.ts is the
 * load generator (with a note). Where `taskset` exists, the load generator
 * runs on CPU 0 and the server on CPU 1 (on a 2-core machine, one each).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cpuModel, median, run, writeSection } from "./_runner.ts";
import {
  cpuPinning,
  type LoadResult,
  runLoad,
  type RunningServer,
  startServer,
} from "../examples/_process.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "11" },
    seconds: { type: "string", default: "2" },
    warmup: { type: "string", default: "0.3" },
    write: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
if (!Number.isInteger(runs) || runs < 1) throw new RangeError("--runs must be a positive integer");
if (!(seconds > 0)) throw new RangeError("--seconds must be a positive number");
if (!(warmup >= 0)) throw new RangeError("--warmup must be a non-negative number");

const here = new URL(".", import.meta.url);
const path = (name: string) => new URL(name, here).pathname;
const deno = Deno.execPath();

/** Runs a command; its stdout and stderr. */
function capture(command: string, args: string[]): Promise<string> {
  return run(command, args, { withStderr: true });
}

// The C programs.
const notes: string[] = [];
const bin = await Deno.makeTempDir({ prefix: "echo_bench_" });
let cServer: string | undefined;
let cLoad: string | undefined;
let compiler = "";
try {
  for (const name of ["echo_server", "echo_load"]) {
    await capture("cc", ["-O2", "-o", `${bin}/${name}`, path(`${name}.c`)]);
  }
  cServer = `${bin}/echo_server`;
  cLoad = `${bin}/echo_load`;
  compiler = (await capture("cc", ["--version"])).split("\n")[0];
} catch (error) {
  notes.push(
    `C programs skipped (${(error as Error).message.split("\n")[0]}): no C server, and ` +
      "examples/echo_client.ts was the load generator.",
  );
  console.error(notes[notes.length - 1]);
}

// Pinning: the load generator on CPU 0, the server on CPU 1.
const { pin: onCpu, pinned } = await cpuPinning();
if (!pinned) {
  notes.push("Load generator and server were not pinned to CPUs (no `taskset`, or one CPU).");
}

interface Server {
  name: string;
  command: string;
  args: string[];
}
const servers: Server[] = [];
if (cServer) servers.push({ name: "C epoll (bench/echo_server.c)", command: cServer, args: [] });
servers.push({
  name: "Deno.listen (examples/deno_echo_server.ts)",
  command: deno,
  args: ["run", "--allow-net", path("../examples/deno_echo_server.ts")],
});
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
const C = servers[0].name.startsWith("C ") ? servers[0].name : undefined;
const DENO = servers.find((server) => server.name.startsWith("Deno.listen"))!.name;
const SYNC = "Selector sync, epoll (examples/echo_server.ts)";
const ASYNC = "Selector async, epoll (examples/echo_server.ts)";

const scenarios = [
  { name: "64 connections × 64 bytes", connections: 64, size: 64 },
  { name: "1 connection × 64 bytes", connections: 1, size: 64 },
];

// results[scenario][server] = one LoadResult per run.
const results = new Map<string, Map<string, LoadResult[]>>(
  scenarios.map((scenario) => [scenario.name, new Map(servers.map((s) => [s.name, []]))]),
);
const started = Date.now();
// Every server runs for the whole benchmark (idle ones cost nothing), and
// the load moves from one to the next in short runs: what the machine does
// meanwhile (this VM's speed moves by a third within seconds) is spread
// over all of them alike.
const running: RunningServer[] = [];
try {
  for (const server of servers) {
    running.push(await startServer(...onCpu(1, server.command, [...server.args, "--port", "0"])));
  }
  for (let run = 0; run < runs; run++) {
    // Each run starts with the next server: none always goes first.
    const order = servers.map((_, i) => (i + run) % servers.length);
    for (const scenario of scenarios) {
      for (const s of order) {
        const loadArgs = [
          "--port",
          String(running[s].port),
          "--connections",
          String(scenario.connections),
          "--size",
          String(scenario.size),
          "--seconds",
          String(seconds),
          "--warmup",
          String(warmup),
        ];
        const result = await runLoad(
          ...(cLoad ? onCpu(0, cLoad, loadArgs) : onCpu(0, deno, [
            "run",
            "--allow-ffi",
            path("../examples/echo_client.ts"),
            ...loadArgs,
          ])),
        );
        if (result.mismatches > 0) throw new Error(`${servers[s].name}: echoed bytes differ`);
        results.get(scenario.name)!.get(servers[s].name)!.push(result);
        console.error(
          `run ${run + 1}/${runs}, ${scenario.name}, ${servers[s].name}: ` +
            `${Math.round(result.messagesPerSecond)} messages/s, ` +
            `p50 ${result.p50Us} µs, p99 ${result.p99Us} µs`,
        );
      }
    }
  }
} finally {
  for (const [s, server] of running.entries()) {
    const stopped = await server.stop("SIGTERM");
    if (stopped.code !== 0) {
      console.error(`${servers[s].name} exited ${stopped.code} on SIGTERM:\n${stopped.stderr}`);
      Deno.exitCode = 1;
    }
  }
  await Deno.remove(bin, { recursive: true });
}
console.error(`${((Date.now() - started) / 1000).toFixed(0)} s`);

// Medians.
interface Figure {
  rate: number;
  p50: number;
  p99: number;
}
const figures = new Map<string, Map<string, Figure>>();
for (const [scenario, byServer] of results) {
  const map = new Map<string, Figure>();
  for (const [server, list] of byServer) {
    map.set(server, {
      rate: median(list.map((r) => r.messagesPerSecond)),
      p50: median(list.map((r) => r.p50Us)),
      p99: median(list.map((r) => r.p99Us)),
    });
  }
  figures.set(scenario, map);
}

const fmtRate = (rate: number) => Math.round(rate).toLocaleString("en");
const fmtUs = (us: number) => us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;
const lines: string[] = [];
lines.push(
  "| load | server | messages/s | × C | × Deno.listen | round trip p50 | p99 |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
);
for (const scenario of scenarios) {
  const map = figures.get(scenario.name)!;
  const c = C ? map.get(C)!.rate : undefined;
  const d = map.get(DENO)!.rate;
  for (const server of servers) {
    const { rate, p50, p99 } = map.get(server.name)!;
    lines.push(
      `| ${scenario.name} | ${server.name} | ${fmtRate(rate)} | ${
        c ? `${(rate / c).toFixed(2)}×` : ""
      } | ${(rate / d).toFixed(2)}× | ${fmtUs(p50)} | ${fmtUs(p99)} |`,
    );
  }
}

interface Target {
  what: string;
  value: number;
  limit: number;
}
const many = figures.get(scenarios[0].name)!;
const one = figures.get(scenarios[1].name)!;
const targets: Target[] = [];
if (C) {
  targets.push(
    {
      what: "64 connections: sync ÷ C",
      value: many.get(SYNC)!.rate / many.get(C)!.rate,
      limit: 0.9,
    },
    {
      what: "64 connections: async ÷ C",
      value: many.get(ASYNC)!.rate / many.get(C)!.rate,
      limit: 0.85,
    },
  );
}
targets.push(
  {
    what: "64 connections: sync ÷ Deno.listen",
    value: many.get(SYNC)!.rate / many.get(DENO)!.rate,
    limit: 1.2,
  },
  {
    what: "64 connections: async ÷ Deno.listen",
    value: many.get(ASYNC)!.rate / many.get(DENO)!.rate,
    limit: 1.2,
  },
  {
    what: "1 connection: async ÷ Deno.listen",
    value: one.get(ASYNC)!.rate / one.get(DENO)!.rate,
    limit: 0.9,
  },
);
lines.push(
  "",
  "| target (epoll, messages/s) | measured | limit | met |",
  "| --- | ---: | ---: | :---: |",
);
for (const target of targets) {
  lines.push(
    `| ${target.what} | ${target.value.toFixed(3)} | ≥ ${target.limit} | ${
      target.value >= target.limit ? "yes" : "**no**"
    } |`,
  );
}
if (notes.length) lines.push("", ...notes);

const cpu = await cpuModel();
const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu} ` +
  `(${navigator.hardwareConcurrency} cores), Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}` +
  (compiler ? `, ${compiler} -O2` : "") +
  `; medians of ${runs} runs of ${seconds} s each (after a ${warmup} s warm-up), the load ` +
  "moving from server to server" +
  (pinned ? "; load generator on CPU 0, servers on CPU 1 (taskset)." : ".");
const table = [header, "", ...lines].join("\n");
console.log(table);

if (values.write) {
  await writeSection("echo", table);
  console.error("Wrote bench/README.md");
}
