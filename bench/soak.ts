// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The soak: minutes of connection churn against each echo server, watching
 * the server's memory and fds from outside. Not part of CI nor of `deno
 * task test`.
 *
 *     deno task soak [--minutes 5] [--servers selector-sync,selector-async,port-io_uring,port-epoll]
 *       [--concurrency 64] [--size 64] [--interval 5] [--v8-flags FLAGS] [--write]
 *
 * For each server in turn (examples/echo_server.ts --mode sync and async on
 * epoll, examples/echo_completion.ts on io_uring and on epoll, each run by
 * bench/_soak_server.ts, which also reports its V8 heap): `--minutes` of
 * churn from bench/_churn.ts in another process (64 connections at a time,
 * each connecting, echoing one 64-byte message of its own, checked, and
 * closing), sampling every `--interval` seconds the server's RSS
 * (/proc/PID/status), its V8 heap, its open fds (/proc/PID/fd) and the
 * connections done. It prints each sample as it is taken, then a summary.
 *
 * A server fails when an echo came back wrong or a connection failed, when
 * its RSS grew by more than 10% after the warm-up (the median of the last
 * three samples against the median of the three after the warm-up, which
 * is the first fifth of the run, at least 30 s), when its fds are not back
 * to those it had before the churn within 10 s of its end, or when it does
 * not stop cleanly on SIGTERM. The exit code is 1 if any failed.
 *
 * The RSS judged leaves out V8's young generation (its two semi-spaces,
 * reported by the server): under sustained allocation V8 doubles it, a few
 * times, up to a fixed cap (64 MiB with Deno 2.9 here), and RSS steps up
 * with it; that is the heap sizing itself, not a leak, and whatever leaks
 * (old space, native memory, buffers) is in the rest. The raw RSS and its
 * growth are printed beside it (bench/README.md, "The soak", has the
 * evidence).
 *
 * `--v8-flags` is handed to the servers' `deno run` (`--v8-flags=FLAGS`),
 * for experiments such as `--max-semi-space-size=4`. `--write` puts the
 * summary and a timeline into bench/README.md.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fdKind, fdsOf, statusOf } from "../examples/_process.ts";
import { cpuModel, median, writeSection } from "./_runner.ts";

const USAGE = "Usage: deno task soak [--minutes 5] [--servers " +
  "selector-sync,selector-async,port-io_uring,port-epoll] [--concurrency 64] [--size 64] " +
  "[--interval 5] [--v8-flags FLAGS] [--write]";

/** The echo servers, by the name `--servers` takes. */
const SERVERS: Record<string, { title: string; args: string[] }> = {
  "selector-sync": {
    title: "Selector sync, epoll (echo_server.ts)",
    args: ["examples/echo_server.ts", "--backend", "epoll", "--mode", "sync"],
  },
  "selector-async": {
    title: "Selector async, epoll (echo_server.ts)",
    args: ["examples/echo_server.ts", "--backend", "epoll", "--mode", "async"],
  },
  "port-io_uring": {
    title: "CompletionPort io_uring (echo_completion.ts)",
    args: ["examples/echo_completion.ts", "--backend", "io_uring"],
  },
  "port-epoll": {
    title: "CompletionPort epoll (echo_completion.ts)",
    args: ["examples/echo_completion.ts", "--backend", "epoll"],
  },
};

/** RSS may grow by this fraction after the warm-up. */
const RSS_GROWTH_LIMIT = 0.10;
/** How long the fds may take to come back after the churn, in ms. */
const FDS_SETTLE_MS = 10_000;
/** How long a server may take to print its first line, in ms. */
const START_MS = 30_000;
const MIB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    servers: { type: "string", default: Object.keys(SERVERS).join(",") },
    concurrency: { type: "string", default: "64" },
    size: { type: "string", default: "64" },
    interval: { type: "string", default: "5" },
    "v8-flags": { type: "string" },
    write: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
function positive(name: string, text: string, integer = false): number {
  const value = Number(text);
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    console.error(`--${name} must be a positive ${integer ? "integer" : "number"}\n${USAGE}`);
    Deno.exit(2);
  }
  return value;
}
const minutes = positive("minutes", values.minutes);
const concurrency = positive("concurrency", values.concurrency, true);
const size = positive("size", values.size, true);
const intervalSeconds = positive("interval", values.interval);
const names = values.servers.split(",").filter((name) => name !== "");
for (const name of names) {
  if (!(name in SERVERS)) {
    console.error(`Unknown server ${JSON.stringify(name)}\n${USAGE}`);
    Deno.exit(2);
  }
}
const runSeconds = minutes * 60;
const warmupSeconds = Math.max(30, runSeconds / 5);
const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();

/** V8's view of the server's memory: its last `memory` line. */
interface Memory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  /** The size of V8's young generation (its two semi-spaces). */
  newSpace: number;
  /** The size of V8's old generation. */
  oldSpace: number;
}

/** One sample of a server under churn. */
interface Sample {
  /** Seconds since the churn started. */
  t: number;
  rss: number;
  threads: number;
  memory: Memory | undefined;
  fds: number;
  connections: number;
  /** Connections per second since the previous sample. */
  rate: number;
}

/** How one server did. */
interface Outcome {
  name: string;
  title: string;
  samples: Sample[];
  connections: number;
  corrupt: number;
  errors: number;
  lastError: string;
  rate: number;
  rssReference: number;
  rssFinal: number;
  rssPeak: number;
  growth: number;
  /** RSS less V8's young generation: what the verdict looks at. */
  restReference: number;
  restFinal: number;
  restGrowth: number;
  newSpaceReference: number;
  newSpaceFinal: number;
  heapReference: number;
  heapFinal: number;
  fdsBefore: number;
  fdsLeft: string;
  stop: string;
  failures: string[];
}

/** Calls `onLine` with each line of a stream; resolves at its end. */
async function eachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let end: number;
    while ((end = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, end));
      rest = rest.slice(end + 1);
    }
  }
  if (rest !== "") onLine(rest);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const mib = (bytes: number) => (bytes / MIB).toFixed(1);
const percent = (fraction: number) => `${fraction >= 0 ? "+" : ""}${(fraction * 100).toFixed(1)}%`;

async function soak(name: string): Promise<Outcome> {
  const { title, args } = SERVERS[name];
  const failures: string[] = [];
  const server = new Deno.Command(deno, {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      ...(values["v8-flags"] ? [`--v8-flags=${values["v8-flags"]}`] : []),
      "bench/_soak_server.ts",
      ...args,
      "--port",
      "0",
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pid = server.pid;
  let serverExited = false;
  server.status.then(() => serverExited = true);
  let memory: Memory | undefined;
  const serverErrors: string[] = [];
  const stderrDone = eachLine(server.stderr, (line) => {
    if (line.startsWith("memory ")) memory = JSON.parse(line.slice(7));
    else serverErrors.push(line);
  });
  const stdoutLines: string[] = [];
  let listening: (port: number) => void;
  const portKnown = new Promise<number>((resolve) => listening = resolve);
  const stdoutDone = eachLine(server.stdout, (line) => {
    stdoutLines.push(line);
    const port = Number(line.match(/^listening on \S*:(\d+)/)?.[1]);
    if (port > 0) listening(port);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const port = await Promise.race([
    portKnown,
    new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), START_MS)),
    server.status.then(() => undefined),
  ]);
  clearTimeout(timer);
  if (port === undefined) {
    try {
      server.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await server.status;
    await Promise.all([stdoutDone, stderrDone]);
    throw new Error(
      `${title} did not start:\n${stdoutLines.join("\n")}\n${serverErrors.join("\n")}`,
    );
  }
  await delay(500);
  const before = new Set(fdsOf(pid));

  // The churn, in its own process.
  const churn = new Deno.Command(deno, {
    args: [
      "run",
      "--allow-ffi",
      "bench/_churn.ts",
      "--port",
      String(port),
      "--concurrency",
      String(concurrency),
      "--size",
      String(size),
      "--seconds",
      String(runSeconds),
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let totals = { connections: 0, corrupt: 0, errors: 0, lastError: "" };
  const churnDone = eachLine(churn.stdout, (line) => totals = JSON.parse(line));
  const churnErrors = new Response(churn.stderr).text();

  console.log(`\n${title}: ${minutes} min of churn, ${concurrency} at a time, ${size} bytes`);
  console.log(
    "     t | conn/s | RSS MiB | heap used/total MiB | new/old space MiB | external MiB | " +
      "threads | fds",
  );
  const samples: Sample[] = [];
  const start = performance.now();
  let churnExited = false;
  const churnStatus = churn.status.then((status) => {
    churnExited = true;
    return status;
  });
  let previous = { t: 0, connections: 0 };
  for (let i = 1; !churnExited; i++) {
    const due = start + i * intervalSeconds * 1000;
    while (!churnExited && performance.now() < due) {
      await delay(Math.min(100, due - performance.now()));
    }
    if (churnExited) break;
    if (serverExited) {
      failures.push(`the server ended during the churn, ${samples.length * intervalSeconds} s in`);
      churn.kill("SIGKILL");
      break;
    }
    const t = (performance.now() - start) / 1000;
    const status = statusOf(pid);
    const sample: Sample = {
      t,
      rss: status.rss,
      threads: status.threads,
      memory,
      fds: fdsOf(pid).length,
      connections: totals.connections,
      rate: (totals.connections - previous.connections) / (t - previous.t),
    };
    previous = { t, connections: totals.connections };
    samples.push(sample);
    const m = sample.memory;
    console.log(
      `${t.toFixed(0).padStart(6)} | ${sample.rate.toFixed(0).padStart(6)} | ` +
        `${mib(sample.rss).padStart(7)} | ` +
        `${m ? `${mib(m.heapUsed)}/${mib(m.heapTotal)}`.padStart(19) : "?".padStart(19)} | ` +
        `${m ? `${mib(m.newSpace)}/${mib(m.oldSpace)}`.padStart(17) : "?".padStart(17)} | ` +
        `${m ? mib(m.external).padStart(12) : "?".padStart(12)} | ` +
        `${String(sample.threads).padStart(7)} | ${sample.fds}`,
    );
  }
  const status = await churnStatus;
  await churnDone;
  const churnStderr = await churnErrors;
  if (!status.success) failures.push(`the churn exited ${status.code}: ${churnStderr.trim()}`);
  if (totals.corrupt > 0) failures.push(`${totals.corrupt} echoes came back wrong`);
  if (totals.errors > 0) failures.push(`${totals.errors} connections failed (${totals.lastError})`);

  // Fds back to those before the churn.
  const deadline = performance.now() + FDS_SETTLE_MS;
  const extra = () => serverExited ? [] : fdsOf(pid).filter((fd) => !before.has(fd));
  let left = extra();
  while (left.length > 0 && performance.now() < deadline) {
    await delay(100);
    left = extra();
  }
  const kinds = new Map<string, number>();
  for (const fd of left) kinds.set(fdKind(pid, fd), (kinds.get(fdKind(pid, fd)) ?? 0) + 1);
  const fdsLeft = left.length === 0
    ? "none"
    : [...kinds].map(([kind, n]) => `${n} × ${kind}`).join(", ");
  if (left.length > 0) {
    failures.push(`fds left open ${FDS_SETTLE_MS} ms after the churn: ${fdsLeft}`);
  }

  // RSS after the warm-up.
  const afterWarmup = samples.filter((s) => s.t >= warmupSeconds).slice(0, 3);
  const last = samples.slice(-3);
  const rssReference = median(afterWarmup.map((s) => s.rss));
  const rssFinal = median(last.map((s) => s.rss));
  const heapOf = (list: Sample[]) => median(list.map((s) => s.memory?.heapUsed ?? NaN));
  const newSpaceOf = (list: Sample[]) => median(list.map((s) => s.memory?.newSpace ?? 0));
  const restOf = (list: Sample[]) => median(list.map((s) => s.rss - (s.memory?.newSpace ?? 0)));
  const growth = rssFinal / rssReference - 1;
  const restReference = restOf(afterWarmup);
  const restFinal = restOf(last);
  const restGrowth = restFinal / restReference - 1;
  if (afterWarmup.length < 3 || last.length < 3) {
    failures.push("too few samples after the warm-up (run for longer)");
  } else if (restGrowth > RSS_GROWTH_LIMIT) {
    failures.push(
      `RSS less V8's young generation grew ${percent(restGrowth)} after the warm-up ` +
        `(limit +10%; RSS itself ${percent(growth)})`,
    );
  }

  // A clean stop.
  try {
    server.kill("SIGTERM");
  } catch {
    // It has ended already (reported above).
  }
  const stopTimer = setTimeout(() => {
    try {
      server.kill("SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }, 10_000);
  const stopped = await server.status;
  clearTimeout(stopTimer);
  await Promise.all([stdoutDone, stderrDone]);
  const stop = stopped.code === 0
    ? "exit 0"
    : `exit ${stopped.code}${stopped.signal ? ` (${stopped.signal})` : ""}`;
  if (stopped.code !== 0) failures.push(`the server ended with ${stop} on SIGTERM`);
  if (serverErrors.length > 0) failures.push(`the server said: ${serverErrors.join(" / ")}`);

  const churnSeconds = samples.length > 0 ? samples[samples.length - 1].t : runSeconds;
  return {
    name,
    title,
    samples,
    connections: totals.connections,
    corrupt: totals.corrupt,
    errors: totals.errors,
    lastError: totals.lastError,
    rate: totals.connections / Math.max(churnSeconds, runSeconds),
    rssReference,
    rssFinal,
    rssPeak: Math.max(...samples.map((s) => s.rss)),
    growth,
    restReference,
    restFinal,
    restGrowth,
    newSpaceReference: newSpaceOf(afterWarmup),
    newSpaceFinal: newSpaceOf(last),
    heapReference: heapOf(afterWarmup),
    heapFinal: heapOf(last),
    fdsBefore: before.size,
    fdsLeft,
    stop,
    failures,
  };
}

const outcomes: Outcome[] = [];
const began = new Date();
for (const name of names) outcomes.push(await soak(name));

const summary = [
  "| server | connections | per second | corrupt | failed | RSS after warm-up → end (peak) | " +
  "RSS growth | V8 young generation | RSS less it | its growth | V8 heap used | fds after | " +
  "stop | verdict |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
  ...outcomes.map((o) =>
    `| ${o.title} | ${o.connections.toLocaleString("en")} | ` +
    `${Math.round(o.rate).toLocaleString("en")} | ${o.corrupt} | ${o.errors} | ` +
    `${mib(o.rssReference)} → ${mib(o.rssFinal)} MiB (${mib(o.rssPeak)}) | ${
      percent(o.growth)
    } | ` +
    `${mib(o.newSpaceReference)} → ${mib(o.newSpaceFinal)} MiB | ` +
    `${mib(o.restReference)} → ${mib(o.restFinal)} MiB | ${percent(o.restGrowth)} | ` +
    `${mib(o.heapReference)} → ${mib(o.heapFinal)} MiB | ` +
    `${o.fdsLeft === "none" ? "as before" : o.fdsLeft} | ${o.stop} | ` +
    `${o.failures.length === 0 ? "pass" : "FAIL"} |`
  ),
].join("\n");

// A timeline every 30 s (or every sample, if they are further apart): RSS and V8's young
// generation per server.
const step = Math.max(1, Math.round(30 / intervalSeconds));
const rows = Math.max(...outcomes.map((o) => o.samples.length));
const timeline = [
  `| t | ${outcomes.map((o) => `${o.name}: RSS / young generation MiB`).join(" | ")} |`,
  `| ---: | ${outcomes.map(() => "---:").join(" | ")} |`,
];
for (let i = step - 1; i < rows; i += step) {
  const t = outcomes.find((o) => o.samples[i])?.samples[i].t ?? 0;
  timeline.push(
    `| ${t.toFixed(0)} s | ${
      outcomes.map((o) => {
        const s = o.samples[i];
        return s ? `${mib(s.rss)} / ${s.memory ? mib(s.memory.newSpace) : "?"}` : "";
      }).join(" | ")
    } |`,
  );
}

const header = `Measured ${began.toISOString().slice(0, 10)} on ${await cpuModel()} ` +
  `(${navigator.hardwareConcurrency} cores), Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}; ` +
  `${minutes} min of churn per server (${concurrency} connections at a time, ${size} bytes each), ` +
  `sampled every ${intervalSeconds} s; warm-up ${warmupSeconds.toFixed(0)} s` +
  (values["v8-flags"] ? `; servers run with --v8-flags=${values["v8-flags"]}.` : ".");
console.log(`\n${header}\n\n${summary}\n\n${timeline.join("\n")}`);
for (const o of outcomes) {
  for (const failure of o.failures) console.error(`${o.title}: ${failure}`);
}
if (values.write) {
  await writeSection("soak", `${header}\n\n${summary}\n\n${timeline.join("\n")}\n`);
  console.log("\nWritten to bench/README.md.");
}
if (outcomes.some((o) => o.failures.length > 0)) Deno.exit(1);
