// Copyright 2026 the @evented/io authors. MIT license.
/**
 * systemd's two protocols with a service, as its `sd_listen_fds_with_names()`
 * and `sd_notify()` (src/libsystemd/sd-daemon/sd-daemon.c) follow them:
 *
 * - **Socket activation**: the manager passes sockets as fds 3, 4, … and
 *   says so in LISTEN_FDS (their count), LISTEN_PID (the process they are
 *   for: a child that inherits the variables must not take them) and
 *   LISTEN_FDNAMES (their names, `:`-separated, empty names kept). The
 *   variables are removed once read, whoever they were for.
 * - **Notification**: the service sends state lines ("READY=1",
 *   "STATUS=…", "WATCHDOG=1") as one datagram to NOTIFY_SOCKET, a path or
 *   `@name` in the abstract namespace.
 *
 * The environment is read through `Deno.env`, so both need `--allow-env`
 * (for those variables at least). Nothing here knows a Selector.
 *
 * @module
 */

import { osError } from "../ffi/errors.ts";
import {
  acquireLibc,
  AF_UNIX,
  EAGAIN,
  EINTR,
  errno,
  ioSize,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  releaseLibc,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
} from "../ffi/libc.ts";
import { adoptClassified, classifySocket, type SocketKind } from "./_adopt.ts";
import { parseUnixPath } from "./_unix_address.ts";
import type { ListenedSocket } from "../types/unix.ts";

/** SD_LISTEN_FDS_START: the first fd passed. */
export const LISTEN_FDS_START = 3;
const INT_MAX = 0x7fffffff;
/** The largest pid_t (and Linux's PID_MAX_LIMIT is far below it). */
const PID_MAX = INT_MAX;

/**
 * An integer as systemd's safe_atoi and parse_pid read one: blanks first,
 * then `0b`/`0o` (Python's prefixes, which systemd adds), then strtol with
 * base 0 (a sign, `0x` hex, `0` octal, else decimal), and nothing after.
 *
 * @returns the value, or undefined where systemd fails with EINVAL or ERANGE
 */
export function parseSystemdInteger(text: string): number | undefined {
  let s = text.replace(/^[ \t\n\r]+/, "");
  let base = 0;
  if (/^0[bB]/.test(s)) [base, s] = [2, s.slice(2)];
  else if (/^0[oO]/.test(s)) [base, s] = [8, s.slice(2)];
  s = s.replace(/^[ \t\n\v\f\r]+/, ""); // strtol's own isspace()
  let sign = 1;
  if (s.startsWith("+") || s.startsWith("-")) [sign, s] = [s.startsWith("-") ? -1 : 1, s.slice(1)];
  if ((base === 0 || base === 16) && /^0[xX][0-9a-fA-F]/.test(s)) [base, s] = [16, s.slice(2)];
  else if (base === 0) base = s.startsWith("0") ? 8 : 10;
  const digits: Record<number, RegExp> = {
    2: /^[01]+$/,
    8: /^[0-7]+$/,
    10: /^[0-9]+$/,
    16: /^[0-9a-fA-F]+$/,
  };
  if (!digits[base].test(s)) return undefined;
  const value = sign * parseInt(s, base);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, as sd_listen_fds(1) does. */
function unsetListenEnvironment(): void {
  Deno.env.delete("LISTEN_PID");
  Deno.env.delete("LISTEN_FDS");
  Deno.env.delete("LISTEN_FDNAMES");
}

/**
 * The sockets passed to this process by socket activation, adopted.
 *
 * @returns them with their names, in fd order; empty when none were passed
 *   to this process
 * @throws {TypeError} if the variables are malformed, their counts differ, or a passed fd is
 *   not a socket (code ENOTSOCK)
 * @throws {Deno.errors.NotSupported} if a passed socket is of a kind the module has no object for
 */
export function listenFdsPosix(): ListenedSocket[] {
  const action = "Cannot take the sockets of LISTEN_FDS";
  const pidText = Deno.env.get("LISTEN_PID");
  const fdsText = Deno.env.get("LISTEN_FDS");
  const namesText = Deno.env.get("LISTEN_FDNAMES");
  unsetListenEnvironment();
  if (pidText === undefined) return [];
  const pid = parseSystemdInteger(pidText);
  if (pid === undefined || pid <= 0 || pid > PID_MAX) {
    throw new TypeError(
      `${action}: LISTEN_PID must be a process id, got ${JSON.stringify(pidText)}`,
    );
  }
  if (pid !== Deno.pid) return []; // for another process (our parent, say)
  if (fdsText === undefined) return [];
  const count = parseSystemdInteger(fdsText);
  if (count === undefined || count <= 0 || count > INT_MAX - LISTEN_FDS_START) {
    throw new TypeError(
      `${action}: LISTEN_FDS must be a positive number of fds, got ${JSON.stringify(fdsText)}`,
    );
  }
  const names = namesText === undefined
    ? new Array<string>(count).fill("unknown")
    : namesText.split(":");
  if (names.length !== count) {
    throw new TypeError(
      `${action}: LISTEN_FDNAMES names ${names.length} fds (${
        JSON.stringify(namesText)
      }), LISTEN_FDS says ${count}`,
    );
  }
  const libc = acquireLibc();
  try {
    // Every fd is classified before any is adopted: a refusal adopts none.
    const kinds: SocketKind[] = [];
    for (let i = 0; i < count; i++) {
      const fd = LISTEN_FDS_START + i;
      try {
        kinds.push(classifySocket(libc, fd));
      } catch (error) {
        (error as Error).message = `${action}: fd ${fd} (${
          JSON.stringify(names[i])
        }) of ${count}: ${(error as Error).message}; adopt the others with adoptSocket(fd)`;
        throw error;
      }
    }
    return kinds.map((kind, i) => ({ name: names[i], socket: adoptClassified(libc, kind) }));
  } finally {
    releaseLibc();
  }
}

/**
 * Sends `state` to the service manager's NOTIFY_SOCKET, as sd_notify(0, state).
 *
 * @param state newline-separated assignments, such as "READY=1"
 * @returns `true` once sent; `false` when NOTIFY_SOCKET is not set
 * @throws {TypeError} if NOTIFY_SOCKET is neither an absolute path nor an `@` name
 * @throws {Deno.errors.NotSupported} for a `vsock:` NOTIFY_SOCKET
 * @throws {Deno.errors.NotFound} if nothing exists at the path
 * @throws {Deno.errors.ConnectionRefused} if no socket is bound there
 * @throws {Deno.errors.WouldBlock} if the manager's queue is full
 */
export function notifyPosix(state: string): boolean {
  const address = Deno.env.get("NOTIFY_SOCKET");
  if (address === undefined) return false;
  const action = `Cannot notify ${JSON.stringify(address)} (NOTIFY_SOCKET)`;
  let path: string;
  if (address.startsWith("/")) {
    path = address;
  } else if (address.startsWith("@")) {
    path = `\0${address.slice(1)}`;
  } else if (address.startsWith("vsock:") || address.startsWith("vsock-")) {
    throw new Deno.errors.NotSupported(`${action}: AF_VSOCK addresses are not supported`);
  } else {
    throw new TypeError(`${action}: it must be an absolute path or an @ (abstract) name`);
  }
  const target = parseUnixPath(action, path);
  const data = new TextEncoder().encode(state);
  const libc = acquireLibc();
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  try {
    if (fd < 0) throw osError(action, errno());
    for (;;) {
      const n = libc.sendto(
        fd,
        data,
        ioSize(data.length),
        MSG_NOSIGNAL | MSG_DONTWAIT,
        target.sockaddr,
        target.sockaddr.length,
      );
      if (n === data.length) return true;
      if (n >= 0) throw new Error(`${action}: ${n} of ${data.length} bytes sent`);
      const e = errno();
      if (e === EAGAIN) {
        throw osError(`${action}: the manager's queue is full`, e);
      }
      if (e !== EINTR) throw osError(action, e);
    }
  } finally {
    if (fd >= 0) libc.close(fd);
    releaseLibc();
  }
}
