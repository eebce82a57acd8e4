// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What the benchmark runners (run.ts, echo_run.ts, completion_run.ts)
 * share: running a command, medians, the machine's CPU, writing a table
 * into bench/README.md between its markers, and the echo showdown (servers
 * under one load generator, medians of runs).
 *
 * @module
 */

import {
  cpuPinning,
  type CpuTime,
  cpuTimeOf,
  type LoadResult,
  runLoad,
  type RunningServer,
  startServer,
} from "../examples/_process.ts";

import { parseArgs } from "node:util";

const decoder = new TextDecoder();

/** One benchmark of a `deno bench --json` report. */
export interface Bench {
  group: string;
  name: string;
  baseline: boolean;
  results: { ok?: { avg: number; p75?: number; p99?: number; max?: number } }[];
}

/** A Deno benchmark's medians over runs, in ns: its average, p75, p99 and max per iteration. */
export interface DenoFigure {
  bench: Bench;
  /** The median of the per-run averages. */
  ns: number;
  p75: number;
  p99: number;
  max: number;
}

/**
 * Micro-benchmark samples of several runs: the JSON lines a C program
 * prints (`{ name, ns, perEvent }`) and `deno bench --json` reports; their
 * medians at the end.
 */
export class MicroSamples {
  #c = new Map<string, { ns: number[]; perEvent: number[] }>();
  #deno = new Map<
    string,
    { bench: Bench; avg: number[]; p75: number[]; p99: number[]; max: number[] }
  >();

  /** Adds one run of the C program: its output. */
  addC(output: string): void {
    for (const line of output.trim().split("\n")) {
      const { name, ns, perEvent } = JSON.parse(line);
      const entry = this.#c.get(name) ?? { ns: [], perEvent: [] };
      entry.ns.push(ns);
      if (perEvent !== null) entry.perEvent.push(perEvent);
      this.#c.set(name, entry);
    }
  }

  /** Adds one `deno bench --json` report; a benchmark that failed throws. */
  addDeno(json: string): void {
    const report = JSON.parse(json) as { benches: Bench[] };
    for (const bench of report.benches) {
      const ok = bench.results[0]?.ok;
      if (ok === undefined) throw new Error(`${bench.name} failed`);
      const key = `${bench.group}/${bench.name}`;
      const entry = this.#deno.get(key) ?? { bench, avg: [], p75: [], p99: [], max: [] };
      entry.avg.push(ok.avg);
      entry.p75.push(ok.p75 ?? NaN);
      entry.p99.push(ok.p99 ?? NaN);
      entry.max.push(ok.max ?? NaN);
      this.#deno.set(key, entry);
    }
  }

  /** C figures: name → median ns per call (and per event). */
  cMedians(): Map<string, { ns: number; perEvent: number | null }> {
    return new Map(
      [...this.#c].map(([name, { ns, perEvent }]) => [
        name,
        { ns: median(ns), perEvent: perEvent.length ? median(perEvent) : null },
      ]),
    );
  }

  /**
   * Deno figures: "group/name" → the medians over runs of its average
   * (`ns`), p75, p99 and max per iteration (`deno bench` reports no p50;
   * p75 is its nearest), in ns.
   */
  denoMedians(): Map<string, DenoFigure> {
    return new Map(
      [...this.#deno].map(([key, { bench, avg, p75, p99, max }]) => [
        key,
        { bench, ns: median(avg), p75: median(p75), p99: median(p99), max: median(max) },
      ]),
    );
  }
}

/**
 * The table of Deno benchmarks, group by group: each one's average, its
 * ratio to its group's baseline, and its p75, p99 and max (the header row
 * included).
 */
export function microTable(figures: Map<string, DenoFigure>): string[] {
  const lines = [
    "| group | benchmark | average | × baseline | p75 | p99 | max |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const group of new Set([...figures.values()].map(({ bench }) => bench.group))) {
    const members = [...figures.values()].filter(({ bench }) => bench.group === group);
    const baseline = members.find(({ bench }) => bench.baseline)?.ns;
    for (const { bench, ns, p75, p99, max } of members) {
      const ratio = baseline === undefined ? "" : `${(ns / baseline).toFixed(2)}×`;
      const spread = [p75, p99, max].map((x) => Number.isNaN(x) ? "" : formatNs(x)).join(" | ");
      lines.push(
        `| ${group} | ${bench.name}${bench.baseline ? " (baseline)" : ""} | ${
          formatNs(ns)
        } | ${ratio} | ${spread} |`,
      );
    }
  }
  return lines;
}

/**
 * How servers and the load generator share the CPUs: each on a CPU of its
 * own (`taskset`), or left to the scheduler, as users run them.
 */
export type Pinning = "pinned" | "unpinned";

/**
 * The flags of the echo runners: `--runs`, `--seconds`, `--warmup`,
 * `--write`, and `--pinning pinned|unpinned|both` (default both).
 */
export function echoFlags(
  defaultRuns: number,
): { runs: number; seconds: number; warmup: number; write: boolean; pinnings: Pinning[] } {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: String(defaultRuns) },
      seconds: { type: "string", default: "2" },
      warmup: { type: "string", default: "0.3" },
      write: { type: "boolean", default: false },
      pinning: { type: "string", default: "both" },
    },
  });
  const pinning = values.pinning;
  if (pinning !== "both" && pinning !== "pinned" && pinning !== "unpinned") {
    throw new TypeError("--pinning must be pinned, unpinned or both");
  }
  const pinnings: Pinning[] = pinning === "both" ? ["pinned", "unpinned"] : [pinning];
  const runs = Number(values.runs);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new RangeError("--runs must be a positive integer");
  }
  if (!(seconds > 0)) throw new RangeError("--seconds must be a positive number");
  if (!(warmup >= 0)) throw new RangeError("--warmup must be a non-negative number");
  return { runs, seconds, warmup, write: values.write, pinnings };
}

/**
 * A measured ratio for a table of targets: 3 decimals, or more where 3
 * would round it across its limit (1.19976 against "≥ 1.2" reads 1.1998,
 * not 1.200).
 *
 * @param met whether a value meets the target
 */
export function formatMeasured(value: number, met: (value: number) => boolean): string {
  let digits = 3;
  let text = value.toFixed(digits);
  while (digits < 6 && met(Number(text)) !== met(value)) text = value.toFixed(++digits);
  return text;
}

/**
 * The ratio of the medians printed beside a target's paired ratio: as many
 * digits as it takes to show on which side of the limit it falls (0.8998,
 * not 0.900), in bold when it misses.
 *
 * @param value the ratio of the two medians
 * @param met whether a value meets the target
 */
export function formatBeside(value: number, met: (value: number) => boolean): string {
  const text = formatMeasured(value, met);
  return met(value) ? text : `**${text}**`;
}

/**
 * The median over the runs of `a`'s figure ÷ `b`'s in the same run (a
 * paired comparison): run `i` of every server falls within the same few
 * seconds, so a slow or fast phase of the machine (this VM's speed moves
 * by a fifth between two runs of one server) divides out of each ratio,
 * where it shifts the two medians of a ratio of medians apart.
 *
 * @param figure which figure of a run: its rate (the default) or its p99
 */
function pairedRatio(
  a: EchoFigure,
  b: EchoFigure,
  figure: "rates" | "p99s" = "rates",
): number {
  const x = a[figure];
  const y = b[figure];
  if (x.length !== y.length) throw new RangeError("The two servers ran a different number of runs");
  return median(x.map((value, i) => value / y[i]));
}

/**
 * A target's two readings of `a` ÷ `b`: `value`, the paired median
 * ({@linkcode pairedRatio}), which judges it, and `ofMedians`, the ratio of
 * the two medians, printed beside it.
 *
 * @param figure which figure of a run: its rate (the default) or its p99
 */
export function ratioOf(
  a: EchoFigure,
  b: EchoFigure,
  figure: "rates" | "p99s" = "rates",
): { value: number; ofMedians: number } {
  return { value: pairedRatio(a, b, figure), ofMedians: median(a[figure]) / median(b[figure]) };
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs a command to its end; throws with its stderr if it fails.
 *
 * @returns its stdout, followed by its stderr with `withStderr`
 */
export async function run(
  command: string,
  args: string[],
  { withStderr = false } = {},
): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${decoder.decode(output.stderr)}`);
  }
  return decoder.decode(output.stdout) + (withStderr ? decoder.decode(output.stderr) : "");
}

/** Nanoseconds as a table shows them: ns below 1 µs, then µs, then ms. */
export function formatNs(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(1)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

/** The CPU's model name (/proc is read through grep: Deno wants --allow-all to read it itself). */
export async function cpuModel(): Promise<string> {
  const line = await run("grep", ["-m1", "model name", "/proc/cpuinfo"]).catch(() => "");
  return line.replace(/^model name\s*:\s*/, "").trim() || "unknown CPU";
}

/**
 * Puts `table` into bench/README.md between `<!-- name:start -->` and
 * `<!-- name:end -->`, then formats it and `alsoFormat` as `deno fmt
 * --check` (part of the test task) wants them.
 */
export async function writeSection(
  name: string,
  table: string,
  alsoFormat: string[] = [],
): Promise<void> {
  const readme = new URL("README.md", import.meta.url).pathname;
  const text = await Deno.readTextFile(readme);
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`bench/README.md has no ${start} … ${end} section`);
  await Deno.writeTextFile(
    readme,
    `${text.slice(0, from + start.length)}\n${table}\n${text.slice(to)}`,
  );
  await run(Deno.execPath(), ["fmt", readme, ...alsoFormat]);
}

/** One echo server of an echo showdown: how to start it (`--port 0` is added). */
export interface EchoServer {
  /** Its row's name in the table. */
  name: string;
  command: string;
  args: string[];
}

/** One load of an echo showdown. */
export interface EchoScenario {
  /** Its rows' name in the table. */
  name: string;
  connections: number;
  /** Bytes per message. */
  size: number;
}

/** The medians of one server under one load. */
export interface EchoFigure {
  /** Messages per second. */
  rate: number;
  /** Round trip p50, p99 and max, in µs (medians of the runs). */
  p50: number;
  p99: number;
  max: number;
  /** The longest round trip of all the runs, in µs. */
  worst: number;
  /**
   * Each run's messages per second and round trip p99 (µs), in the order of
   * the runs: run `i` of every server fell in the same minute of the
   * machine (see {@linkcode pairedRatio}).
   */
  rates: number[];
  p99s: number[];
  /**
   * The server's CPU time per message, in user space and in the kernel, in
   * µs (medians of the runs; undefined where /proc cannot say).
   */
  userUs: number | undefined;
  systemUs: number | undefined;
}

/** Options of {@linkcode measureEcho}. */
export interface EchoOptions {
  /** The servers under test. */
  servers: EchoServer[];
  /** Puts bench/echo_server.c (built with `cc -O2`) first among the servers, when it builds. */
  withC: boolean;
  scenarios: EchoScenario[];
  runs: number;
  /** Each load's length, after its warm-up, in s. */
  seconds: number;
  warmup: number;
  /** "pinned" (the default: where `taskset` and 2 CPUs exist) or "unpinned". */
  pinning?: Pinning;
  /**
   * The order in which run `run` loads the servers, as indices into them
   * (the C server first, when it runs). The default rotates: each run
   * starts with the next server, so that none always goes first.
   */
  order?: (run: number, servers: EchoServer[]) => number[];
}

/** What {@linkcode measureEcho} found. */
export interface EchoResults {
  /** The servers measured, the C one first if it was built. */
  servers: EchoServer[];
  /** The C server's name, if it ran. */
  c: string | undefined;
  /** figures[scenario][server]. */
  figures: Map<string, Map<string, EchoFigure>>;
  /** What was left out, or not pinned. */
  notes: string[];
  /** `cc --version`'s first line, if the C programs were built. */
  compiler: string;
  /** Whether the load ran on CPU 0 and the servers on CPU 1. */
  pinned: boolean;
}

/** One run of a load against a server. */
interface Measured extends LoadResult {
  /** The server's CPU time per message, in µs (undefined where /proc cannot say). */
  userUs: number | undefined;
  systemUs: number | undefined;
}

/** A process's CPU time so far, or undefined where /proc cannot say (not Linux, gone). */
function cpuTime(pid: number): CpuTime | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    return cpuTimeOf(pid);
  } catch {
    return undefined;
  }
}

/** The median of the values, or undefined if any is undefined. */
function medianOf(values: (number | undefined)[]): number | undefined {
  return values.some((v) => v === undefined) ? undefined : median(values as number[]);
}

/**
 * An echo showdown: one load generator (bench/echo_load.c, or
 * examples/echo_client.ts without a `cc`) against each server, under each
 * scenario, `runs` times. Every server runs for the whole showdown (idle
 * ones cost nothing), and the load moves from one to the next in short
 * runs, each run starting with the next server: what the machine does
 * meanwhile (this VM's speed moves by a third within seconds) falls on all
 * of them alike. Each server must exit 0 on SIGTERM at the end (else the
 * exit code is set to 1). Progress goes to stderr.
 *
 * @returns the medians of the runs, per scenario and server
 */
export async function measureEcho(options: EchoOptions): Promise<EchoResults> {
  const { scenarios, runs, seconds, warmup } = options;
  const here = new URL(".", import.meta.url);
  const path = (name: string) => new URL(name, here).pathname;
  const deno = Deno.execPath();
  const notes: string[] = [];
  const bin = await Deno.makeTempDir({ prefix: "echo_bench_" });
  try {
    // The C programs.
    let cServer: string | undefined;
    let cLoad: string | undefined;
    let compiler = "";
    try {
      for (const name of ["echo_server", "echo_load"]) {
        await run("cc", ["-O2", "-o", `${bin}/${name}`, path(`${name}.c`)], { withStderr: true });
      }
      cServer = `${bin}/echo_server`;
      cLoad = `${bin}/echo_load`;
      compiler = (await run("cc", ["--version"])).split("\n")[0];
    } catch (error) {
      notes.push(
        `C programs skipped (${(error as Error).message.split("\n")[0]}): no C server, and ` +
          "examples/echo_client.ts was the load generator.",
      );
      console.error(notes[notes.length - 1]);
    }

    // Pinning: the load generator on CPU 0, the server on CPU 1.
    const { pin: onCpu, pinned } = options.pinning === "unpinned"
      ? {
        pin: (_cpu: number, command: string, args: string[]) =>
          [command, args] as [string, string[]],
        pinned: false,
      }
      : await cpuPinning();
    if (!pinned && options.pinning !== "unpinned") {
      notes.push("Load generator and server were not pinned to CPUs (no `taskset`, or one CPU).");
    }

    const servers = [...options.servers];
    const c = options.withC && cServer ? "C epoll (bench/echo_server.c)" : undefined;
    if (c) servers.unshift({ name: c, command: cServer!, args: [] });

    // results[scenario][server] = one LoadResult per run, with the server's CPU per message.
    const results = new Map<string, Map<string, Measured[]>>(
      scenarios.map((scenario) => [scenario.name, new Map(servers.map((s) => [s.name, []]))]),
    );
    const started = Date.now();
    const running: RunningServer[] = [];
    try {
      for (const server of servers) {
        running.push(
          await startServer(...onCpu(1, server.command, [...server.args, "--port", "0"])),
        );
      }
      for (let i = 0; i < runs; i++) {
        // Each run starts with the next server: none always goes first.
        const order = options.order?.(i, servers) ??
          servers.map((_, s) => (s + i) % servers.length);
        if (
          order.length !== servers.length ||
          new Set(order).size !== servers.length ||
          order.some((s) => !(s >= 0 && s < servers.length))
        ) {
          throw new RangeError(`The order of run ${i + 1} is not one of the servers: ${order}`);
        }
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
            const pid = running[s].child.pid;
            const before = cpuTime(pid);
            const result = await runLoad(
              ...(cLoad ? onCpu(0, cLoad, loadArgs) : onCpu(0, deno, [
                "run",
                "--allow-ffi",
                path("../examples/echo_client.ts"),
                ...loadArgs,
              ])),
            );
            const after = cpuTime(pid);
            if (result.mismatches > 0) throw new Error(`${servers[s].name}: echoed bytes differ`);
            // The CPU time spans the warm-up too: its messages are counted at the same rate.
            const messages = result.messagesPerSecond * (seconds + warmup);
            const perMessage = (a: number | undefined, b: number | undefined) =>
              a === undefined || b === undefined || messages === 0
                ? undefined
                : (b - a) / messages * 1e6;
            const measured: Measured = {
              ...result,
              userUs: perMessage(before?.user, after?.user),
              systemUs: perMessage(before?.system, after?.system),
            };
            results.get(scenario.name)!.get(servers[s].name)!.push(measured);
            const cpu = measured.userUs === undefined
              ? ""
              : `, CPU per message ${measured.userUs.toFixed(2)} µs user + ` +
                `${measured.systemUs!.toFixed(2)} µs system`;
            console.error(
              `${pinned ? "pinned" : "unpinned"} run ${i + 1}/${runs}, ${scenario.name}, ` +
                `${servers[s].name}: ${Math.round(result.messagesPerSecond)} messages/s, ` +
                `p50 ${result.p50Us} µs, p99 ${result.p99Us} µs, max ${result.maxUs} µs${cpu}`,
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
    }
    console.error(`${((Date.now() - started) / 1000).toFixed(0)} s`);

    const figures = new Map<string, Map<string, EchoFigure>>();
    for (const [scenario, byServer] of results) {
      const map = new Map<string, EchoFigure>();
      for (const [server, list] of byServer) {
        map.set(server, {
          rate: median(list.map((r) => r.messagesPerSecond)),
          p50: median(list.map((r) => r.p50Us)),
          p99: median(list.map((r) => r.p99Us)),
          max: median(list.map((r) => r.maxUs)),
          worst: Math.max(...list.map((r) => r.maxUs)),
          rates: list.map((r) => r.messagesPerSecond),
          p99s: list.map((r) => r.p99Us),
          userUs: medianOf(list.map((r) => r.userUs)),
          systemUs: medianOf(list.map((r) => r.systemUs)),
        });
      }
      figures.set(scenario, map);
    }
    return { servers, c, figures, notes, compiler, pinned };
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
}

/**
 * The rows of an echo showdown's table: per scenario and server, messages
 * per second, its ratio to each of `references` (columns named by their
 * labels), and the round trip's p50, p99 and max (medians of the runs),
 * and the longest round trip of any run.
 */
export function echoTable(
  results: EchoResults,
  scenarios: EchoScenario[],
  references: { label: string; server: string | undefined }[],
): string[] {
  const fmtRate = (rate: number) => Math.round(rate).toLocaleString("en");
  const fmtUs = (us: number) => us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;
  const lines = [
    `| load | server | messages/s | ${
      references.map((r) => `× ${r.label} |`).join(" ")
    } round trip p50 | p99 | max | worst max | CPU µs/msg, user + system |`,
    `| --- | --- | ---: | ${
      references.map(() => "---: |").join(" ")
    } ---: | ---: | ---: | ---: | ---: |`,
  ];
  const fmtCpu = (user: number | undefined, system: number | undefined) =>
    user === undefined || system === undefined ? "" : `${user.toFixed(2)} + ${system.toFixed(2)}`;
  for (const scenario of scenarios) {
    const map = results.figures.get(scenario.name)!;
    const bases = references.map((r) => r.server ? map.get(r.server)?.rate : undefined);
    for (const server of results.servers) {
      const { rate, p50, p99, max, worst, userUs, systemUs } = map.get(server.name)!;
      const ratios = bases.map((base) => base ? `${(rate / base).toFixed(2)}×` : "");
      lines.push(
        `| ${scenario.name} | ${server.name} | ${fmtRate(rate)} | ${
          ratios.map((r) => `${r} |`).join(" ")
        } ${fmtUs(p50)} | ${fmtUs(p99)} | ${fmtUs(max)} | ${fmtUs(worst)} | ${
          fmtCpu(userUs, systemUs)
        } |`,
      );
    }
  }
  return lines;
}

/** The first line of an echo showdown's section: when, where, and how it was measured. */
export async function echoHeader(
  results: EchoResults,
  { runs, seconds, warmup }: { runs: number; seconds: number; warmup: number },
): Promise<string> {
  const cpu = await cpuModel();
  return `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu} ` +
    `(${navigator.hardwareConcurrency} cores), Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}` +
    (results.compiler ? `, ${results.compiler} -O2` : "") +
    `; medians of ${runs} runs of ${seconds} s each (after a ${warmup} s warm-up), the load ` +
    "moving from server to server" +
    (results.pinned
      ? "; pinned: load generator on CPU 0, servers on CPU 1 (taskset)."
      : "; unpinned: the scheduler places the load generator and the servers, as users run them.");
}
