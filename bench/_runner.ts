// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What the benchmark runners (run.ts, echo_run.ts) share: running a
 * command, medians, the machine's CPU, and writing a table into
 * bench/README.md between its markers.
 *
 * @module
 */

const decoder = new TextDecoder();

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
