// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Runs an echo server or a load generator as a child process, for
 * examples/demo.ts, the benchmarks and the tests: servers print
 * `listening on HOST:PORT …` first, and stop on SIGTERM. On Linux it also
 * looks at a child from outside: the fds it has open and its RSS.
 *
 * @module
 */

/** A server started by {@linkcode startServer}. */
export interface RunningServer extends AsyncDisposable {
  /** The port it listens on, read from its first line. */
  readonly port: number;
  /** Its first line. */
  readonly firstLine: string;
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /**
   * Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`).
   *
   * @returns the exit code, and everything it printed after its first line
   */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<StoppedServer>;
}

/** How a server ended. */
export interface StoppedServer {
  /** Its exit code. */
  code: number;
  /** Its signal, when a signal ended it. */
  signal: Deno.Signal | null;
  /** What it printed on stdout after its first line. */
  stdout: string;
  /** What it printed on stderr. */
  stderr: string;
}

/** Collects a stream's text; `lines` yields each line as it comes. */
class TextCollector {
  text = "";
  done: Promise<void>;
  #waiting: (() => void) | undefined;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
        this.#waiting?.();
      }
      this.#waiting?.();
    })();
  }

  /** Resolves once the text holds a whole first line (or the stream ended). */
  async firstLine(timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    this.done.then(() => ended = true, () => ended = true);
    while (!this.text.includes("\n") && !ended) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiting = undefined;
    }
    const end = this.text.indexOf("\n");
    return end < 0 ? undefined : this.text.slice(0, end);
  }
}

/**
 * Starts a server and waits for its first line.
 *
 * @param command the program
 * @param args its arguments
 * @param timeoutMs how long the first line may take
 * @returns the running server
 * @throws {Error} if it exits or prints no `listening on …:PORT` line in time
 */
export async function startServer(
  command: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<RunningServer> {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new TextCollector(child.stdout);
  const stderr = new TextCollector(child.stderr);
  let stopped: Promise<StoppedServer> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM", timeoutMs = 10_000) => {
    stopped ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // It has exited already.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // It has exited meanwhile.
        }
      }, timeoutMs);
      const status = await child.status;
      clearTimeout(timer);
      await Promise.all([stdout.done, stderr.done]);
      const rest = stdout.text.indexOf("\n");
      return {
        code: status.code,
        signal: status.signal,
        stdout: rest < 0 ? "" : stdout.text.slice(rest + 1),
        stderr: stderr.text,
      };
    })();
    return stopped;
  };
  const firstLine = await stdout.firstLine(timeoutMs);
  const port = Number(firstLine?.match(/^listening on \S*:(\d+)/)?.[1]);
  if (firstLine === undefined || !(port > 0)) {
    const ended = await stop("SIGKILL");
    throw new Error(
      `${command} ${args.join(" ")} printed no "listening on HOST:PORT" line` +
        ` (got ${JSON.stringify(firstLine ?? stdout.text)}; exit ${ended.code}):\n${ended.stderr}`,
    );
  }
  return {
    port,
    firstLine,
    child,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}

/** What a load generator printed with `--json`. */
export interface LoadResult {
  connections: number;
  size: number;
  seconds: number;
  messages: number;
  messagesPerSecond: number;
  p50Us: number;
  p99Us: number;
  /** The longest round trip, in µs. */
  maxUs: number;
  mismatches: number;
}

/**
 * Runs a load generator (`--json` is added) and parses its line.
 *
 * @param command the program
 * @param args its arguments
 * @returns its result
 * @throws {Error} if it fails or prints no JSON line
 */
export async function runLoad(command: string, args: string[]): Promise<LoadResult> {
  const output = await new Deno.Command(command, {
    args: [...args, "--json"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${output.code}): ${stdout}\n` +
        new TextDecoder().decode(output.stderr),
    );
  }
  return JSON.parse(stdout.split("\n").pop()!) as LoadResult;
}

/** Runs a command on one CPU: `[command, args]` for Deno.Command. */
export type Pin = (cpu: number, command: string, args: string[]) => [string, string[]];

/**
 * A {@linkcode Pin} through `taskset` where there is one and two CPUs or
 * more (the load generator on CPU 0, the server on CPU 1), else one that
 * leaves commands as they are.
 *
 * @returns the pin, and whether it pins
 */
export async function cpuPinning(): Promise<{ pin: Pin; pinned: boolean }> {
  let pinned = false;
  if (navigator.hardwareConcurrency >= 2) {
    try {
      const { success } = await new Deno.Command("taskset", {
        args: ["-c", "1", "true"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      pinned = success;
    } catch {
      // No taskset.
    }
  }
  const pin: Pin = (cpu, command, args) =>
    pinned ? ["taskset", ["-c", String(cpu), command, ...args]] : [command, args];
  return { pin, pinned };
}

/**
 * libc calls that look into /proc: Deno's own file calls want --allow-all
 * for /proc/PID.
 */
const PROC_CALLS = {
  opendir: { parameters: ["buffer"], result: "pointer" },
  readdir: { parameters: ["pointer"], result: "pointer" },
  closedir: { parameters: ["pointer"], result: "i32" },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;
/** offsetof(struct dirent, d_name) on x86_64 and aarch64. */
const DIRENT_NAME_OFFSET = 19;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs `fn` with libc's calls into /proc bound, and unbinds them after. */
function withProcCalls<R>(fn: (libc: Deno.DynamicLibrary<typeof PROC_CALLS>["symbols"]) => R): R {
  const library = Deno.dlopen("libc.so.6", PROC_CALLS);
  try {
    return fn(library.symbols);
  } finally {
    library.close();
  }
}

/**
 * The fds a process has open, as /proc/PID/fd lists them (Linux; needs
 * --allow-ffi).
 *
 * @param pid the process
 * @returns its fd numbers
 * @throws {Error} if /proc/PID/fd cannot be listed (the process is gone)
 */
export function fdsOf(pid: number): number[] {
  return withProcCalls((libc) => {
    const dir = libc.opendir(encoder.encode(`/proc/${pid}/fd\0`));
    if (dir === null) throw new Error(`Cannot list /proc/${pid}/fd`);
    const fds: number[] = [];
    try {
      for (let entry = libc.readdir(dir); entry !== null; entry = libc.readdir(dir)) {
        const name = new Deno.UnsafePointerView(entry).getCString(DIRENT_NAME_OFFSET);
        if (name !== "." && name !== "..") fds.push(Number(name));
      }
    } finally {
      libc.closedir(dir);
    }
    return fds;
  });
}

/**
 * What an fd of a process is, as its /proc link says, without the inode
 * number: `socket`, `pipe`, `anon_inode:[eventfd]`, a path; `?` if it is gone.
 *
 * @param pid the process
 * @param fd one of its fds
 * @returns its kind
 */
export function fdKind(pid: number, fd: number): string {
  return withProcCalls((libc) => {
    const link = new Uint8Array(256);
    const n = Number(libc.readlink(encoder.encode(`/proc/${pid}/fd/${fd}\0`), link, 256n));
    return n < 0 ? "?" : decoder.decode(link.subarray(0, n)).replace(/:\[\d+\]$/, "");
  });
}

/** What /proc/PID/status says of a process's memory and threads. */
export interface ProcessStatus {
  /** VmRSS: resident memory, in bytes. */
  rss: number;
  /** RssAnon: the anonymous part of it (heaps, stacks), in bytes. */
  rssAnon: number;
  /** Threads: how many the process has. */
  threads: number;
}

/**
 * A process's resident memory and thread count, from /proc/PID/status
 * (Linux; needs --allow-ffi).
 *
 * @param pid the process
 * @returns its status
 * @throws {Error} if /proc/PID/status cannot be read (the process is gone)
 */
export function statusOf(pid: number): ProcessStatus {
  const text = readProc(`/proc/${pid}/status`);
  const field = (name: string) => {
    const value = text.match(new RegExp(`^${name}:\\s*(\\d+)`, "m"))?.[1];
    if (value === undefined) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(value);
  };
  return {
    rss: field("VmRSS") * 1024,
    rssAnon: field("RssAnon") * 1024,
    threads: field("Threads"),
  };
}

/** A file of /proc, read whole (they are small; Deno's own file API refuses /proc). */
function readProc(path: string): string {
  return withProcCalls((libc) => {
    const fd = libc.open(encoder.encode(`${path}\0`), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw new Error(`Cannot open ${path}`);
    try {
      const buffer = new Uint8Array(16 * 1024);
      const n = Number(libc.read(fd, buffer, BigInt(buffer.length)));
      return n < 0 ? "" : decoder.decode(buffer.subarray(0, n));
    } finally {
      libc.close(fd);
    }
  });
}

/** The clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU time a process has used, in seconds. */
export interface CpuTime {
  /** In user space (utime). */
  user: number;
  /** In the kernel on its behalf (stime). */
  system: number;
}

/**
 * The CPU time a process has used so far, from /proc/PID/stat (Linux;
 * needs --allow-ffi), to 10 ms.
 *
 * @param pid the process
 * @returns its user and system time, in seconds
 * @throws {Error} if /proc/PID/stat cannot be read (the process is gone)
 */
export function cpuTimeOf(pid: number): CpuTime {
  const text = readProc(`/proc/${pid}/stat`);
  // The fields after the command's name, which is in parentheses and may hold
  // spaces: fields[0] is the line's third field (the state), utime its 14th.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) {
    throw new Error(`Cannot read the CPU time of process ${pid}: ${text.slice(0, 80)}`);
  }
  return { user: user / USER_HZ, system: system / USER_HZ };
}
