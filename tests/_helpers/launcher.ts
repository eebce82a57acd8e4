// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A launcher that starts a program as systemd starts a socket-activated
 * service (src/core/execute.c): the sockets become fds 3, 4, … of the
 * child, LISTEN_FDS says how many, LISTEN_FDNAMES names them, and
 * LISTEN_PID is the child's own pid. systemd sets LISTEN_PID in the forked
 * child just before exec; here the shell does the same (`$$`, then `exec`,
 * which keeps the pid), after moving the inherited fds into place.
 */

/** fcntl(2): dup to the lowest free fd at or above the argument, without close-on-exec. */
const F_DUPFD = 0;
/** Where the copies wait before the shell moves them to 3, 4, …: clear of those numbers. */
const STAGING_FD = 100;

/** How to launch. */
export interface LaunchOptions {
  /** LISTEN_FDNAMES, joined with ":"; absent: not set. */
  names?: readonly string[];
  /** LISTEN_PID's text instead of the child's own pid. */
  pid?: string;
  /** LISTEN_FDS's text instead of the number of fds. */
  count?: string;
  /** More environment for the child. */
  env?: Record<string, string>;
}

/**
 * Starts `command args` with `fds` at 3, 4, … and systemd's variables.
 * Needs --allow-run (bash) and --allow-ffi (the copies of the fds).
 *
 * @returns the child, its stdout and stderr piped
 */
export function launchActivated(
  fds: readonly number[],
  command: string,
  args: readonly string[],
  options: LaunchOptions = {},
): Deno.ChildProcess {
  const libc = Deno.dlopen("libc.so.6", {
    fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
  // Copies the child inherits (a dup is not close-on-exec), closed here once it has them.
  const staged: number[] = [];
  try {
    for (const fd of fds) {
      const copy = libc.symbols.fcntl(fd, F_DUPFD, STAGING_FD);
      if (copy < 0) throw new Error(`Cannot copy fd ${fd} for the child`);
      staged.push(copy);
    }
    const moves = staged.map((copy, i) => `${3 + i}<&${copy} ${copy}<&-`).join(" ");
    const pid = options.pid === undefined ? "$$" : `'${options.pid.replaceAll("'", `'\\''`)}'`;
    const script = `${moves === "" ? "" : `exec ${moves}; `}export LISTEN_PID=${pid}; exec "$@"`;
    const env: Record<string, string> = {
      ...options.env,
      LISTEN_FDS: options.count ?? String(fds.length),
    };
    if (options.names !== undefined) env.LISTEN_FDNAMES = options.names.join(":");
    return new Deno.Command("bash", {
      args: ["-c", script, "launcher", command, ...args],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } finally {
    for (const copy of staged) libc.symbols.close(copy);
    libc.close();
  }
}
