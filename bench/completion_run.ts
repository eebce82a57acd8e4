// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The CompletionPort on Linux, side by side in one run: the io_uring port
 * and the epoll port against what each claim is measured by, and one
 * table with the targets met or not.
 *
 *     deno run --allow-run --allow-read --allow-write --allow-sys --allow-ffi \
 *       bench/completion_run.ts [--runs 5] [--seconds 2] [--warmup 0.3]
 *       [--pinning pinned|unpinned|both] [--write]
 *
 * - bench/completion_bench.ts (`deno bench`, medians of `--runs` runs):
 *   `post()` + `get(0)` per operation and in batches of 256 beside the same
 *   NOPs reaped raw through FFI; batched file reads through each port
 *   beside a synchronous `pread` loop, through the page cache and with
 *   O_DIRECT.
 * - bench/uring_nop.c (built with `cc -O2` when there is a `cc`), taking
 *   turns with the Deno benchmarks run after run: the same NOPs from C, and
 *   64 reads through the page cache as a pread loop and as one io_uring
 *   batch (the kernel's share of the batched reads).
 * - The socket echo: bench/echo_load.c (64 connections, then 1, of 64-byte
 *   ping-pong) against examples/echo_completion.ts on io_uring and on epoll,
 *   examples/echo_server.ts in async mode on epoll (the Selector: the
 *   reference of the target), the same file in listen mode (awaitable
 *   TcpConns over the reactor: a promise per read and per write, as the
 *   port's; for the record), and bench/echo_server.c (the physical limit);
 *   medians of `--runs` runs of `--seconds` each, the load moving from
 *   server to server (see bench/_runner.ts); pinned (each on a CPU of its
 *   own) and unpinned (as users run them), with the round trip's p50, p99
 *   and max beside the rate.
 *
 * A backend the kernel refuses is left out, with a note. `--write` puts the
 * table into bench/README.md between its `completion` markers.
 *
 * @module
 */

import { openCompletionPort } from "../mod.ts";
import { openIoUringPort } from "../backends/linux/io_uring.ts";
import {
  cpuModel,
  echoFlags,
  echoHeader,
  type EchoServer,
  echoTable,
  formatBeside,
  formatMeasured,
  formatNs,
  measureEcho,
  MicroSamples,
  microTable,
  ratioOf,
  run,
  writeSection,
} from "./_runner.ts";

const { runs, seconds, warmup, write, pinnings } = echoFlags(5);

const here = new URL(".", import.meta.url);
const path = (name: string) => new URL(name, here).pathname;
const deno = Deno.execPath();
const notes: string[] = [];

// What the io_uring port runs on here: deferred completion work (Linux 6.1) or not.
let uringMode = "";
try {
  using probe = openIoUringPort();
  uringMode = probe.stats.deferred
    ? "The io_uring port ran with deferred completion work (IORING_SETUP_SINGLE_ISSUER | " +
      "DEFER_TASKRUN | TASKRUN_FLAG), its eventfd and the epoll doorbell."
    : "The io_uring port ran without deferred completion work (a kernel older than 6.1).";
} catch {
  // Refused: noted below.
}

// Which backends this kernel allows.
const backends = (["io_uring", "epoll"] as const).filter((backend) => {
  try {
    openCompletionPort({ backend }).close();
    return true;
  } catch (error) {
    notes.push(`The ${backend} CompletionPort was left out: ${(error as Error).message}.`);
    console.error(notes[notes.length - 1]);
    return false;
  }
});

// The micro-benchmarks: the C program and the Deno benchmarks take turns,
// run after run, so that both sides of each ratio meet the same machine.
const samples = new MicroSamples();
const binary = await Deno.makeTempFile({ prefix: "uring_nop_" });
let haveC = true;
try {
  await run("cc", ["-O2", "-o", binary, path("uring_nop.c")]);
} catch (error) {
  haveC = false;
  notes.push(`C figures skipped: ${(error as Error).message.split("\n")[0]}`);
  console.error(notes[notes.length - 1]);
}
try {
  for (let i = 0; i < runs; i++) {
    if (haveC) {
      console.error(`C run ${i + 1}/${runs}`);
      try {
        samples.addC(await run(binary, []));
      } catch (error) {
        // Exit 2: the kernel refuses io_uring.
        haveC = false;
        notes.push(`C figures skipped: ${(error as Error).message.split("\n")[1] ?? ""}`);
        console.error(notes[notes.length - 1]);
      }
    }
    console.error(`deno bench run ${i + 1}/${runs}`);
    samples.addDeno(
      await run(deno, [
        "bench",
        "--json",
        "--allow-ffi",
        "--allow-read",
        "--allow-write",
        path("completion_bench.ts"),
      ]),
    );
  }
} finally {
  await Deno.remove(binary).catch(() => {});
}
const c = samples.cMedians();
const micro = samples.denoMedians();
/** A benchmark's median, or undefined if it did not run. */
const figure = (group: string, name: string) => micro.get(`${group}/${name}`)?.ns;

const lines = microTable(micro);
for (const [name, { ns, perEvent }] of c) {
  const unit = name.includes("nop") ? "NOP" : "read";
  const each = perEvent === null ? "" : ` (${formatNs(perEvent)} per ${unit})`;
  lines.push(`| C | ${name} (bench/uring_nop.c) | ${formatNs(ns)}${each} | |`);
}

// The socket echo.
const SELECTOR = "Selector async, epoll (examples/echo_server.ts)";
const completionServer = (backend: string) =>
  `CompletionPort, ${backend} (examples/echo_completion.ts)`;
const selector: EchoServer = {
  name: SELECTOR,
  command: deno,
  args: ["run", "--allow-ffi", path("../examples/echo_server.ts"), "--mode", "async"],
};
const ports: EchoServer[] = backends.map((backend) => ({
  name: completionServer(backend),
  command: deno,
  args: ["run", "--allow-ffi", path("../examples/echo_completion.ts"), "--backend", backend],
}));
const LISTEN = "listenTcp, as Deno.listen (examples/echo_server.ts --mode listen)";
const listen: EchoServer = {
  name: LISTEN,
  command: deno,
  args: ["run", "--allow-ffi", path("../examples/echo_server.ts"), "--mode", "listen"],
};
const servers: EchoServer[] = [listen, selector, ...ports];
/**
 * The order of run `run`: every port loaded right before or right after the
 * Selector. This machine's speed drifts in phases of seconds; two loads in a
 * row shared one in 83% of 72 runs on 2026-12-06, two loads apart in 73%, and with
 * the plain rotation (C, Selector, io_uring, epoll) the epoll port was never
 * next to the Selector. The Selector sits between the ports, the listen
 * mode next to the epoll port (the two it is compared with), the C server
 * (if any) goes first or last, and the block runs forward or backward: four
 * orders in turn, so that no server always goes first.
 */
function echoOrder(run: number, measured: EchoServer[]): number[] {
  const at = (server: EchoServer) => measured.indexOf(server);
  const block = ports.length === 2
    ? [at(listen), at(ports[1]), at(selector), at(ports[0])]
    : [at(listen), at(selector), ...ports.map(at)];
  if (run % 4 >= 2) block.reverse();
  const c = measured.findIndex((server) => !servers.includes(server));
  if (c < 0) return block;
  return run % 2 === 0 ? [c, ...block] : [...block, c];
}
const scenarios = [
  { name: "64 connections × 64 bytes", connections: 64, size: 64 },
  { name: "1 connection × 64 bytes", connections: 1, size: 64 },
];

// The targets of the issue.
interface Target {
  what: string;
  /** Echo targets: the median of the per-run ratios (ratioOf()); else the medians' ratio. */
  value: number | undefined;
  /** Echo targets: the ratio of the two medians, for the record. */
  ofMedians?: number;
  limit: string;
  met: (value: number) => boolean;
}
const targets: Target[] = [];
const echoSections: string[] = [];
for (const pinning of pinnings) {
  const echo = await measureEcho({
    servers,
    withC: true,
    scenarios,
    runs,
    seconds,
    warmup,
    pinning,
    order: echoOrder,
  });
  notes.push(...echo.notes);
  echoSections.push(
    await echoHeader(echo, { runs, seconds, warmup }),
    "",
    ...echoTable(echo, scenarios, [
      { label: "Selector", server: SELECTOR },
      { label: "C", server: echo.c },
    ]),
    "",
  );
  for (const scenario of scenarios) {
    const map = echo.figures.get(scenario.name)!;
    const selector = map.get(SELECTOR)!;
    const listened = map.get(LISTEN)!;
    if (scenario.connections > 1) {
      // Both promise-per-operation servers against the Selector's loop, for the record.
      targets.push({
        what:
          `${pinning}, ${scenario.name}: listen mode ÷ Selector (messages/s; no target: for the record)`,
        ...ratioOf(listened, selector),
        limit: "",
        met: () => true,
      });
    }
    for (const backend of backends) {
      const port = map.get(completionServer(backend));
      targets.push({
        what: `${pinning}, ${scenario.name}: ${backend} port ÷ Selector (messages/s)`,
        ...(port === undefined ? { value: undefined } : ratioOf(port, selector)),
        limit: "≥ 0.9",
        met: (value) => value >= 0.9,
      });
      if (scenario.connections > 1 && port !== undefined) {
        targets.push({
          what:
            `${pinning}, ${scenario.name}: ${backend} port ÷ listen mode (messages/s; no target: for the record)`,
          ...ratioOf(port, listened),
          limit: "",
          met: () => true,
        });
      }
      if (scenario.connections === 1) {
        targets.push({
          what: `${pinning}, ${scenario.name}: ${backend} port p99 ÷ Selector p99`,
          ...(port === undefined ? { value: undefined } : ratioOf(port, selector, "p99s")),
          limit: "≤ 3",
          met: (value) => value <= 3,
        });
      }
    }
  }
}
lines.push("", ...echoSections);

for (const group of new Set([...micro.values()].map(({ bench }) => bench.group))) {
  if (!group.startsWith("read-") && !group.startsWith("direct-")) continue;
  const members = [...micro.values()].filter(({ bench }) => bench.group === group);
  const pread = members.find(({ bench }) => bench.baseline)?.ns;
  const uring = members.find(({ bench }) => bench.name.startsWith("io_uring"))?.ns;
  targets.push({
    what: `${group}: pread loop ÷ io_uring port (time; above 1: the port is faster)`,
    value: pread === undefined || uring === undefined ? undefined : pread / uring,
    limit: "> 1",
    met: (value) => value > 1,
  });
}
const nop = c.get("uring-nop-post-get-1");
const postGet = figure("post-get-1", "io_uring CompletionPort post() + get(0)");
targets.push({
  what: "io_uring post() + get(0) × C (no target: for the record)",
  value: nop && postGet !== undefined ? postGet / nop.ns : undefined,
  limit: "",
  met: () => true,
});
lines.push(
  "",
  "| target | measured | ratio of the medians | limit | met |",
  "| --- | ---: | ---: | ---: | :---: |",
);
for (const target of targets) {
  const measured = target.value === undefined
    ? "not run"
    : formatMeasured(target.value, target.met);
  const ofMedians = target.ofMedians === undefined
    ? ""
    : formatBeside(target.ofMedians, target.met);
  const met = target.value === undefined
    ? "—"
    : target.limit === ""
    ? ""
    : target.met(target.value)
    ? "yes"
    : "**no**";
  lines.push(`| ${target.what} | ${measured} | ${ofMedians} | ${target.limit} | ${met} |`);
}
lines.push(
  "",
  "Measured: for an echo target, the median over the runs of the two servers' ratio in that run " +
    "(the runs of all servers follow each other within seconds, so a slow or fast phase of the " +
    "machine divides out); for a micro-benchmark, the ratio of the two medians.",
);
if (notes.length) lines.push("", ...notes);

const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${await cpuModel()} ` +
  `(${navigator.hardwareConcurrency} cores), Linux ${Deno.osRelease()}, Deno ` +
  `${Deno.version.deno}; micro-benchmarks: medians of ${runs} runs (average, p75, p99, max per iteration; deno bench reports no p50), C and Deno taking turns. ` +
  uringMode;
const table = [header, "", ...lines].join("\n");
console.log(table);

if (write) {
  await writeSection("completion", table);
  console.error("Wrote bench/README.md");
}
