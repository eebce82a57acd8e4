// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Runs every benchmark of bench/ side by side and prints one table: the
 * Deno benchmarks (selector_bench.ts, scaling_bench.ts, streams_bench.ts;
 * medians of `--runs` runs of `deno bench`), the C
 * figures of bench/epoll_bench.c (built with `cc` when there is one), the
 * heap check, and the ratios the targets are stated in.
 *
 *     deno task bench [--runs 5] [--write]
 *
 * `--write` also puts the table into bench/README.md (between its
 * `results` markers) and redraws bench/epoll_vs_poll.svg.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type Bench,
  cpuModel,
  formatNs as format,
  MicroSamples,
  microTable,
  run,
  writeSection,
} from "./_runner.ts";
import { SIZES } from "./_sizes.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    write: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be a positive integer`);

const here = new URL(".", import.meta.url);
const path = (name: string) => new URL(name, here).pathname;

// The C program and the Deno benchmarks take turns, run after run, so that
// both sides of each ratio meet the same state of the machine.
const samples = new MicroSamples();
let cNote = "";
const binary = await Deno.makeTempFile({ prefix: "epoll_bench_" });
let haveC = true;
try {
  await run("cc", ["-O2", "-o", binary, path("epoll_bench.c")]);
} catch (error) {
  haveC = false;
  cNote = `C figures skipped: ${(error as Error).message.split("\n")[0]}`;
  console.error(cNote);
}
try {
  for (let i = 0; i < runs; i++) {
    if (haveC) {
      console.error(`C run ${i + 1}/${runs}`);
      samples.addC(await run(binary, []));
    }
    console.error(`deno bench run ${i + 1}/${runs}`);
    samples.addDeno(
      await run(Deno.execPath(), [
        "bench",
        "--json",
        "--allow-ffi",
        "--allow-read",
        "--allow-net=127.0.0.1",
        path("selector_bench.ts"),
        path("scaling_bench.ts"),
        path("streams_bench.ts"),
      ]),
    );
  }
} finally {
  await Deno.remove(binary).catch(() => {});
}
const c = samples.cMedians();
// Deno figures: "group/name" → median of the per-run averages, in ns.
const deno = samples.denoMedians();

// The CompletionPort under Wine (Windows only): one run, labelled as Wine's.
const wine: string[] = [];
try {
  const script = new URL("../tools/wine/run.sh", import.meta.url).pathname;
  console.error("deno bench under Wine (bench/iocp_bench.ts)");
  const report = JSON.parse(
    await run(script, ["bench", "--json", "--allow-ffi", path("iocp_bench.ts")]),
  ) as { benches: Bench[] };
  wine.push(
    "",
    "Under Wine 10 (`tools/wine/run.sh`), one run: Wine's wineserver round trips, not Windows'. " +
      "For correctness and relative cost only, never a performance claim.",
    "",
    "| group | benchmark | average | × baseline |",
    "| --- | --- | ---: | ---: |",
  );
  for (const group of new Set(report.benches.map((bench) => bench.group))) {
    const members = report.benches.filter((bench) => bench.group === group);
    const baseline = members.find((bench) => bench.baseline)?.results[0]?.ok?.avg;
    for (const bench of members) {
      const avg = bench.results[0]?.ok?.avg ?? NaN;
      const ratio = baseline === undefined ? "" : `${(avg / baseline).toFixed(2)}×`;
      wine.push(
        `| ${group} | ${bench.name}${bench.baseline ? " (baseline)" : ""} | ${
          format(avg)
        } | ${ratio} |`,
      );
    }
  }
} catch (error) {
  wine.push("", `Wine figures skipped: ${(error as Error).message.split("\n")[0]}`);
}

const heap = JSON.parse(
  await run(Deno.execPath(), [
    "run",
    "--allow-ffi",
    "--v8-flags=--expose-gc",
    path("heap_check.ts"),
  ]),
) as { calls: number; heapGrowthBytes: number };

function figure(group: string, name: string): number {
  const entry = deno.get(`${group}/${name}`);
  if (entry === undefined) throw new Error(`No benchmark ${group}/${name}`);
  return entry.ns;
}

// The table of every benchmark, with its ratio to its group's baseline.
const lines = microTable(deno);
for (const [name, { ns, perEvent }] of c) {
  const each = perEvent === null ? "" : ` (${perEvent.toFixed(1)} ns per event)`;
  lines.push(`| C | ${name} (bench/epoll_bench.c) | ${format(ns)}${each} | |`);
}

// The targets of the issue, as ratios.
interface Target {
  what: string;
  value: number;
  limit: string;
  met: boolean;
}
const targets: Target[] = [];
const cOne = c.get("epoll_wait-1-ready");
const cMany = c.get("epoll_wait-1000-ready");
const cCtl = c.get("epoll_ctl-add-mod-del");
const selectOne = figure("select-1-ready", "Selector.selectInto(events, 0)");
const selectMany = figure("select-1000-ready", "Selector.selectInto(events, 0)");
const ctl = figure("ctl", "Selector register + modify + unregister");
if (cOne && cMany && cCtl) {
  const one = selectOne / cOne.ns;
  targets.push({
    what: "selectInto(0), 1 ready, × C",
    value: one,
    limit: "≤ 1.5",
    met: one <= 1.5,
  });
  const perEvent = selectMany / 1_000 / cMany.perEvent!;
  targets.push({
    what: "selectInto(0), 1,000 ready, per event × C",
    value: perEvent,
    limit: "≤ 1.3",
    met: perEvent <= 1.3,
  });
  const ctlRatio = ctl / cCtl.ns;
  targets.push({
    what: "register + modify + unregister × C",
    value: ctlRatio,
    limit: "≤ 1.5",
    met: ctlRatio <= 1.5,
  });
}
const waitRatio = figure("wait-ready", "100 × await Selector.waitInto(events), events ready") /
  figure("wait-ready", "100 × Selector.selectInto(events, 0)");
targets.push({
  what: "waitInto(), events ready, × selectInto(0)",
  value: waitRatio,
  limit: "≤ 2",
  met: waitRatio <= 2,
});
const readyWait = figure("ready-wait", "100 × await AsyncFd.waitReadable(), fd ready") /
  figure("ready-wait", "100 × Selector.selectInto(events, 0), 1 ready");
targets.push({
  what: "waitReadable(), fd ready, × selectInto(0)",
  value: readyWait,
  limit: "≤ 2",
  met: readyWait <= 2,
});
// A rate: the Deno.Conn proxy's time over ours.
const proxy = figure("proxy-256MiB", "256 MiB through a pipeTo proxy between two Deno.Conns") /
  figure("proxy-256MiB", "256 MiB through a pipeTo proxy between two TcpConns");
targets.push({
  what: "pipeTo proxy of 256 MiB, TcpConns ÷ Deno.Conns (throughput)",
  value: proxy,
  limit: "≥ 1.0",
  met: proxy >= 1,
});
const largest = SIZES[SIZES.length - 1];
const curve = SIZES.map((size) => ({
  size,
  epoll: figure(`registered-${size}`, `epoll selectInto(events, 0), ${size} registered, 1 ready`),
  poll: figure(`registered-${size}`, `poll selectInto(events, 0), ${size} registered, 1 ready`),
}));
const speedup = curve[curve.length - 1].poll / curve[curve.length - 1].epoll;
targets.push({
  what: `poll ÷ epoll at ${largest.toLocaleString("en")} registered`,
  value: speedup,
  limit: "≥ 20",
  met: speedup >= 20,
});
const heapMiB = heap.heapGrowthBytes / 2 ** 20;
targets.push({
  what: `heap growth over ${heap.calls.toLocaleString("en")} selectInto(0), MiB`,
  value: heapMiB,
  limit: "< 1",
  met: heapMiB < 1,
});
lines.push("");
lines.push("| target | measured | limit | met |");
lines.push("| --- | ---: | ---: | :---: |");
for (const target of targets) {
  lines.push(
    `| ${target.what} | ${target.value.toFixed(3)} | ${target.limit} | ${
      target.met ? "yes" : "**no**"
    } |`,
  );
}
if (cNote) lines.push("", cNote);
lines.push(...wine);

const cpu = await cpuModel();
const header =
  `Measured ${
    new Date().toISOString().slice(0, 10)
  } on ${cpu} (${navigator.hardwareConcurrency} cores), ` +
  `Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}; medians of ${runs} runs ` +
  "(of each benchmark's average, p75, p99 and max per iteration; `deno bench` reports no p50).";
const table = [header, "", ...lines].join("\n");
console.log(table);

if (values.write) {
  await Deno.writeTextFile(path("epoll_vs_poll.svg"), chart(curve));
  await writeSection("results", table, [path("epoll_vs_poll.svg")]);
  console.error("Wrote bench/README.md and bench/epoll_vs_poll.svg");
}

/** A log-log line chart of ns per selectInto(0) against registered fds. */
function chart(points: { size: number; epoll: number; poll: number }[]): string {
  const width = 640;
  const height = 400;
  const left = 80;
  const right = 150;
  const top = 40;
  const bottom = 60;
  const xs = points.map((p) => Math.log10(p.size));
  const all = points.flatMap((p) => [p.epoll, p.poll]);
  const yMin = Math.floor(Math.log10(Math.min(...all)));
  const yMax = Math.ceil(Math.log10(Math.max(...all)));
  const x = (size: number) =>
    left + ((Math.log10(size) - xs[0]) / (xs[xs.length - 1] - xs[0])) * (width - left - right);
  const y = (ns: number) =>
    top + (1 - (Math.log10(ns) - yMin) / (yMax - yMin)) * (height - top - bottom);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${
      width / 2
    }" y="22" text-anchor="middle" font-size="14">selectInto(events, 0) with 1 ready fd: epoll is O(1), poll is O(n)</text>`,
  );
  for (let e = yMin; e <= yMax; e++) {
    const ns = 10 ** e;
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(ns)}" y2="${y(ns)}" stroke="#ddd"/>`,
      `<text x="${left - 8}" y="${y(ns) + 4}" text-anchor="end">${format(ns)}</text>`,
    );
  }
  for (const { size } of points) {
    parts.push(
      `<line x1="${x(size)}" x2="${x(size)}" y1="${top}" y2="${height - bottom}" stroke="#eee"/>`,
      `<text x="${x(size)}" y="${height - bottom + 18}" text-anchor="middle">${
        size.toLocaleString("en")
      }</text>`,
    );
  }
  parts.push(
    `<text x="${(left + width - right) / 2}" y="${
      height - 18
    }" text-anchor="middle">registered fds (log scale)</text>`,
  );
  for (const [key, color] of [["epoll", "#1f77b4"], ["poll", "#d62728"]] as const) {
    const coords = points.map((p) => `${x(p.size).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${coords}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of points) {
      parts.push(
        `<circle cx="${x(p.size).toFixed(1)}" cy="${y(p[key]).toFixed(1)}" r="3" fill="${color}"/>`,
      );
    }
    const last = points[points.length - 1];
    parts.push(
      `<text x="${x(last.size) + 8}" y="${y(last[key]) + 4}" fill="${color}">${key} ${
        format(last[key])
      }</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
