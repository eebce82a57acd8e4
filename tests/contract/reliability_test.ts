// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The reliability probe of issue 15, kept as regression tests against each
 * echo engine, each server a child process: the Selector on epoll driven
 * synchronously and asynchronously (examples/echo_server.ts --mode
 * sync|async), and the CompletionPort on io_uring and on epoll
 * (examples/echo_completion.ts --backend io_uring|epoll).
 *
 * - Scale: {@linkcode CONCURRENT_CONNECTIONS} connections open at once
 *   from a separate client process (examples/echo_client.ts --rounds 1),
 *   each echoing {@linkcode MESSAGE_SIZE} bytes of its own, byte-exact;
 *   the server's fds back to their baseline after.
 * - Faults, while a side client (echo_client.ts --until-stdin-closes)
 *   must keep being served: clients killed with SIGKILL mid-send and idle
 *   (tests/_helpers/fault_client.ts), resets mid-echo, half-closes, connections
 *   that connect and vanish, and slow readers; then the side client's
 *   every echo byte-exact and none slower than {@linkcode SIDE_MAX_MS},
 *   nothing on the server's stderr, its fds back to baseline, and a clean
 *   stop.
 *
 * tests/contract/echo_test.ts and echo_completion_test.ts check the single
 * cases (one reset, one half-close, payloads of every size); these are
 * many at once, against a server that must stay up for everyone else.
 * Linux only (fds are counted in /proc, clients are killed by signal).
 * Lower bounds are exact; upper bounds are generous, for a loaded 2-core
 * machine.
 */

import assert from "node:assert/strict";
import { Interest, openSelector, raiseFdLimit, startConnectTcp, type TcpConn } from "../../mod.ts";
import {
  fdKind,
  fdsOf,
  runLoad,
  type RunningServer,
  startServer,
} from "../../examples/_process.ts";
import { delay, ioUringSupport, Random, reset, timeLimit, withLibc } from "../_helpers/mod.ts";

/** Connections held open at once by the scale check's client (the probe's figure). */
const CONCURRENT_CONNECTIONS = 10_000;
/** Bytes each of them echoes. */
const MESSAGE_SIZE = 4096;
/** The side client's longest acceptable round trip while faults go on, in ms. */
const SIDE_MAX_MS = 5_000;
/** Round trips the side client must at least have made during the faults. */
const SIDE_MIN_MESSAGES = 100;
/** Connections of each fault. */
const KILLED_CONNECTIONS = 100;
const RESET_CONNECTIONS = 100;
const HALF_CLOSED_CONNECTIONS = 100;
const VANISHING_CONNECTIONS = 500;
const SLOW_READERS = 300;
/** How long the server's fds may take to come back to their baseline, in ms. */
const FDS_SETTLE_MS = 15_000;
/** The longest one fault may take, in ms. */
const FAULT_MS = 30_000;
/** No engine's test takes this long. */
const TEST_TIMEOUT_MS = 150_000;

const DENO = Deno.execPath();
const HOST = "127.0.0.1";
const path = (relative: string) => new URL(relative, import.meta.url).pathname;
const SELECTOR_SERVER = path("../../examples/echo_server.ts");
const PORT_SERVER = path("../../examples/echo_completion.ts");
const CLIENT = path("../../examples/echo_client.ts");
const FAULT_CLIENT = path("../_helpers/fault_client.ts");

/** An echo server under test: its program and arguments, and what its stop prints. */
interface Engine {
  name: string;
  args: string[];
  stopped: RegExp;
  ignore?: boolean;
}

const SELECTOR_STOPPED = /^stopped: closed 0 connections, the listener and the selector$/m;
const PORT_STOPPED = /^stopped: closed 0 connections, the listener and the port$/m;
const ENGINES: Engine[] = [
  {
    name: "Selector epoll, sync (echo_server.ts --mode sync)",
    args: [SELECTOR_SERVER, "--backend", "epoll", "--mode", "sync"],
    stopped: SELECTOR_STOPPED,
  },
  {
    name: "Selector epoll, async (echo_server.ts --mode async)",
    args: [SELECTOR_SERVER, "--backend", "epoll", "--mode", "async"],
    stopped: SELECTOR_STOPPED,
  },
  {
    name: "CompletionPort io_uring (echo_completion.ts --backend io_uring)",
    args: [PORT_SERVER, "--backend", "io_uring"],
    stopped: PORT_STOPPED,
    ignore: Deno.build.os === "linux" && !ioUringSupport().usable,
  },
  {
    name: "CompletionPort epoll (echo_completion.ts --backend epoll)",
    args: [PORT_SERVER, "--backend", "epoll"],
    stopped: PORT_STOPPED,
  },
];

/** Microseconds as milliseconds, for a summary line. */
function ms(us: number): string {
  return `${(us / 1000).toFixed(1)} ms`;
}

/** The time since `start` (performance.now()), for a summary line. */
function seconds(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

/**
 * Waits until the server has no fd open that it did not have at its
 * baseline (the runtime may close some of its own meanwhile); fails naming
 * the kinds of the extra ones.
 */
async function fdsBackTo(
  server: RunningServer,
  baseline: Set<number>,
  what: string,
): Promise<void> {
  const pid = server.child.pid;
  const deadline = performance.now() + FDS_SETTLE_MS;
  const extra = () => fdsOf(pid).filter((fd) => !baseline.has(fd));
  let left = extra();
  while (left.length > 0 && performance.now() < deadline) {
    await delay(50);
    left = extra();
  }
  if (left.length === 0) return;
  const kinds = new Map<string, number>();
  for (const fd of left) {
    const kind = fdKind(pid, fd);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  assert.fail(
    `${what}: the server still has ${left.length} fds open ${FDS_SETTLE_MS} ms later that it ` +
      `did not have before (${[...kinds].map(([k, n]) => `${n} × ${k}`).join(", ")})`,
  );
}

/** Waits until the server has at least `count` fds open beyond its baseline (clients accepted). */
async function fdsReach(
  server: RunningServer,
  baseline: Set<number>,
  count: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + FAULT_MS;
  while (fdsOf(server.child.pid).filter((fd) => !baseline.has(fd)).length < count) {
    assert.ok(performance.now() < deadline, `${what}: the server never accepted ${count}`);
    await delay(20);
  }
}

/** A child process read line by line until it says `ready`, and collected after. */
interface Child {
  process: Deno.ChildProcess;
  /** Everything it printed on stdout, and on stderr, once it has ended. */
  output: Promise<[string, string]>;
}

/** Starts a client that prints `ready` when it is in its state (tests/_helpers/fault_client.ts). */
async function startFaultClient(port: number, mode: "send" | "idle"): Promise<Child> {
  const process = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-ffi",
      FAULT_CLIENT,
      "--port",
      String(port),
      "--mode",
      mode,
      "--connections",
      String(KILLED_CONNECTIONS),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(process.stderr).text();
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), FAULT_MS);
  });
  try {
    while (!stdout.includes("ready\n")) {
      const chunk = await Promise.race([lines.read(), timeout]);
      if (chunk === "timeout" || chunk.done) {
        process.kill("SIGKILL");
        await process.status;
        lines.releaseLock();
        await process.stdout.cancel();
        throw new Error(
          `fault_client.ts --mode ${mode} never said ready: ${stdout}${await stderr}`,
        );
      }
      stdout += chunk.value;
    }
  } finally {
    clearTimeout(timer);
  }
  const rest = (async () => {
    for (;;) {
      const chunk = await lines.read();
      if (chunk.done) return stdout;
      stdout += chunk.value;
    }
  })();
  return { process, output: Promise.all([rest, stderr]) };
}

/** Kills a client with SIGKILL and waits for it to be gone. */
async function kill9(child: Child): Promise<void> {
  child.process.kill("SIGKILL");
  const status = await child.process.status;
  assert.equal(status.signal, "SIGKILL");
  await child.output;
}

/** The side client: a few connections echoing all along, until its stdin is closed. */
interface SideClient {
  process: Deno.ChildProcess;
  stop(): Promise<{ code: number; stdout: string; stderr: string }>;
}

function startSideClient(port: number): SideClient {
  const process = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-ffi",
      CLIENT,
      "--port",
      String(port),
      "--connections",
      "4",
      "--size",
      "1000",
      "--warmup",
      "0",
      "--until-stdin-closes",
      "--json",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(process.stdout).text();
  const stderr = new Response(process.stderr).text();
  return {
    process,
    async stop() {
      await process.stdin.close();
      const { code } = await process.status;
      return { code, stdout: await stdout, stderr: await stderr };
    },
  };
}

/** Opens `count` connections and waits until each has connected. */
function connectAll(port: number, count: number): TcpConn[] {
  const conns: TcpConn[] = [];
  using selector = openSelector<TcpConn>();
  try {
    for (let i = 0; i < count; i++) {
      const conn = startConnectTcp({ hostname: HOST, port });
      conns.push(conn);
      selector.register(conn.fd, Interest.WRITABLE, { data: conn });
    }
    let pending = count;
    const deadline = performance.now() + FAULT_MS;
    while (pending > 0) {
      assert.ok(performance.now() < deadline, `${pending} of ${count} never connected`);
      for (const event of selector.select(100)) {
        event.data!.finishConnect();
        selector.unregister(event.fd);
        pending--;
      }
    }
    return conns;
  } catch (error) {
    for (const conn of conns) conn.close();
    throw error;
  }
}

/** Shrinks a socket's receive buffer, so that a slow reader holds the server back soon. */
function shrinkReceiveBuffer(conns: TcpConn[], bytes: number): void {
  withLibc(
    { setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" } },
    (libc) => {
      const SOL_SOCKET = 1;
      const SO_RCVBUF = 8;
      for (const conn of conns) {
        assert.equal(
          libc.setsockopt(conn.fd, SOL_SOCKET, SO_RCVBUF, new Int32Array([bytes]), 4),
          0,
        );
      }
    },
  );
}

/**
 * Many connections that each send 256 KiB and read none of it back, until
 * the server stops taking bytes (it holds unsent echoes for each), then
 * reset together.
 */
function resetMidEcho(port: number, random: Random): void {
  const conns = connectAll(port, RESET_CONNECTIONS);
  try {
    using selector = openSelector<number>();
    const payload = random.bytes(256 * 1024);
    const sent = new Array<number>(conns.length).fill(0);
    conns.forEach((conn, i) => selector.register(conn.fd, Interest.WRITABLE, { data: i }));
    let lastTaken = performance.now();
    const deadline = lastTaken + FAULT_MS;
    // Until every write has stalled for 300 ms (or all was taken).
    while (performance.now() - lastTaken < 300) {
      assert.ok(performance.now() < deadline, "writes never stalled");
      for (const event of selector.select(50)) {
        const i = event.data!;
        const n = conns[i].tryWrite(payload.subarray(sent[i]));
        sent[i] += n;
        if (n > 0) lastTaken = performance.now();
        if (sent[i] === payload.length) selector.unregister(event.fd);
      }
    }
    for (const conn of conns) if (selector.getKey(conn.fd)) selector.unregister(conn.fd);
    assert.ok(sent.every((n) => n > 0), "a connection sent nothing");
  } finally {
    for (const conn of conns) reset(conn);
  }
}

/** Options of {@linkcode exchange}. */
interface ExchangeOptions {
  /** Shut down writing after the payload, and expect end of stream after its echo. */
  halfClose?: boolean;
  /** Read at most this many bytes per connection every `readEveryMs` (a slow reader). */
  readBytes?: number;
  readEveryMs?: number;
  /** SO_RCVBUF of each connection. */
  receiveBuffer?: number;
}

/**
 * Sends each payload on its own connection, all at once, and checks that
 * each comes back byte for byte (then end of stream, with `halfClose`).
 */
function exchange(port: number, payloads: Uint8Array[], options: ExchangeOptions = {}): void {
  const conns = connectAll(port, payloads.length);
  try {
    if (options.receiveBuffer !== undefined) shrinkReceiveBuffer(conns, options.receiveBuffer);
    using selector = openSelector<number>();
    const count = conns.length;
    const sent = new Array<number>(count).fill(0);
    const got = new Array<number>(count).fill(0);
    const ended = new Array<boolean>(count).fill(false);
    const halfClose = options.halfClose ?? false;
    const readBytes = options.readBytes ?? 256 * 1024;
    const every = options.readEveryMs ?? 0;
    const buffer = new Uint8Array(readBytes);
    const done = (i: number) => got[i] === payloads[i].length && (!halfClose || ended[i]);
    let left = count;
    conns.forEach((conn, i) => selector.register(conn.fd, Interest.WRITABLE, { data: i }));
    let writing = count;
    let nextRead = performance.now();
    const deadline = nextRead + FAULT_MS;
    while (left > 0) {
      if (performance.now() > deadline) {
        const stuck = payloads.flatMap((p, i) =>
          done(i) ? [] : [`${sent[i]}/${got[i]}/${p.length}`]
        );
        assert.fail(`${left} connections unfinished (sent/received/length): ${stuck.join(", ")}`);
      }
      const wait = writing > 0 ? Math.max(0, Math.ceil(nextRead - performance.now())) : 0;
      for (const event of selector.select(wait)) {
        const i = event.data!;
        sent[i] += conns[i].tryWrite(payloads[i].subarray(sent[i]));
        if (sent[i] === payloads[i].length) {
          selector.unregister(event.fd);
          writing--;
          if (halfClose) conns[i].shutdown("write");
        }
      }
      if (performance.now() < nextRead) continue;
      nextRead = performance.now() + every;
      // One read round: at most readBytes per connection.
      for (let i = 0; i < count; i++) {
        if (done(i)) continue;
        const n = conns[i].tryRead(buffer);
        if (n === null) {
          assert.equal(got[i], payloads[i].length, `connection ${i}: end of stream too soon`);
          ended[i] = true;
        } else {
          const expected = payloads[i];
          assert.ok(got[i] + n <= expected.length, `connection ${i}: more bytes than were sent`);
          for (let j = 0; j < n; j++) {
            if (buffer[j] !== expected[got[i] + j]) {
              assert.fail(`connection ${i}: byte ${got[i] + j} differs`);
            }
          }
          got[i] += n;
        }
        if (done(i)) left--;
      }
      if (every === 0 && writing === 0 && left > 0) {
        // Nothing to write: sleep until some connection is readable.
        const waiting = openSelector<number>();
        try {
          for (let i = 0; i < count; i++) {
            if (!done(i)) waiting.register(conns[i].fd, Interest.READABLE, { data: i });
          }
          waiting.select(100);
          for (let i = 0; i < count; i++) {
            if (waiting.getKey(conns[i].fd)) waiting.unregister(conns[i].fd);
          }
        } finally {
          waiting.close();
        }
      }
    }
  } finally {
    for (const conn of conns) conn.close();
  }
}

/**
 * Connections that connect and vanish: half closed at once (before or
 * while the server accepts them), half reset once connected.
 */
function vanish(port: number): void {
  const half = VANISHING_CONNECTIONS / 2;
  // Kept open so that libc stays bound: the last socket closed would unbind it, each time.
  using _libc = openSelector();
  for (let i = 0; i < half; i++) startConnectTcp({ hostname: HOST, port }).close();
  for (const conn of connectAll(port, half)) reset(conn);
}

for (const engine of ENGINES) {
  Deno.test({
    name: `reliability: ${engine.name}`,
    ignore: Deno.build.os !== "linux" || engine.ignore,
    fn: (t) => timeLimit(TEST_TIMEOUT_MS, () => probe(t, engine)),
  });
}

async function probe(t: Deno.TestContext, engine: Engine): Promise<void> {
  raiseFdLimit(2 * VANISHING_CONNECTIONS + 256);
  await using server = await startServer(DENO, [
    "run",
    "--allow-ffi",
    ...engine.args,
    "--port",
    "0",
  ]);
  const port = server.port;
  const random = new Random(port);
  // One exchange first: whatever the server opens lazily is open by then.
  exchange(port, [random.bytes(1000)]);
  await delay(100);
  const baseline = new Set(fdsOf(server.child.pid));

  await t.step(
    `${CONCURRENT_CONNECTIONS.toLocaleString("en")} connections at once from another process, ` +
      `${MESSAGE_SIZE} bytes each echoed byte-exact, then the server's fds back to baseline`,
    async () => {
      const start = performance.now();
      const result = await runLoad(DENO, [
        "run",
        "--allow-ffi",
        CLIENT,
        "--port",
        String(port),
        "--connections",
        String(CONCURRENT_CONNECTIONS),
        "--size",
        String(MESSAGE_SIZE),
        "--rounds",
        "1",
      ]);
      assert.equal(result.connections, CONCURRENT_CONNECTIONS);
      assert.equal(result.mismatches, 0);
      assert.equal(result.messages, CONCURRENT_CONNECTIONS);
      await fdsBackTo(server, baseline, `after ${CONCURRENT_CONNECTIONS} connections`);
      console.log(
        `${engine.name}: ${CONCURRENT_CONNECTIONS} connections echoed in ${result.seconds} s ` +
          `(round trip p50 ${ms(result.p50Us)}, max ${ms(result.maxUs!)}); ` +
          `${seconds(start)} with the client's start and the fds' return`,
      );
    },
  );

  await t.step(
    "a side client is served throughout kill -9 of clients mid-send and idle, resets " +
      "mid-echo, half-closes, connections that vanish, and slow readers",
    async () => {
      const start = performance.now();
      const side = startSideClient(port);
      let sideStopped = false;
      const children: Child[] = [];
      try {
        // The side client's 4 connections are being served before any fault starts.
        await fdsReach(server, baseline, 4, "side client");
        const times: string[] = [];
        let last = performance.now();
        const lap = (what: string) => {
          times.push(`${what} ${seconds(last)}`);
          last = performance.now();
        };
        const [sending, idle] = await Promise.all([
          startFaultClient(port, "send"),
          startFaultClient(port, "idle"),
        ]);
        children.push(sending, idle);
        await kill9(sending); // mid-send: its sockets are reset
        await kill9(idle); // idle: its sockets end with a FIN
        lap("kill -9");
        resetMidEcho(port, random);
        lap("resets");
        exchange(
          port,
          Array.from({ length: HALF_CLOSED_CONNECTIONS }, (_, i) => random.bytes(1 + i * 997)),
          { halfClose: true },
        );
        lap("half-closes");
        vanish(port);
        lap("vanishing");
        const slow = random.bytes(64 * 1024);
        exchange(port, Array.from({ length: SLOW_READERS }, () => slow), {
          readBytes: 2048,
          readEveryMs: 20,
          receiveBuffer: 4096,
        });
        lap("slow readers");
        sideStopped = true;
        const { code, stdout, stderr } = await side.stop();
        assert.equal(code, 0, `side client failed:\n${stdout}${stderr}`);
        const result = JSON.parse(stdout.trim().split("\n").pop()!);
        assert.equal(result.mismatches, 0);
        assert.ok(
          result.messages >= SIDE_MIN_MESSAGES,
          `the side client made only ${result.messages} round trips: ${stdout}`,
        );
        assert.ok(
          result.maxUs < SIDE_MAX_MS * 1000,
          `a side round trip took ${result.maxUs} µs: ${stdout}`,
        );
        await fdsBackTo(server, baseline, "after the faults");
        console.log(
          `${engine.name}: faults in ${seconds(start)} (${times.join(", ")}); ` +
            `side client ${result.messages} round ` +
            `trips, p50 ${ms(result.p50Us)}, p99 ${ms(result.p99Us)}, max ${ms(result.maxUs)}`,
        );
      } finally {
        for (const child of children) {
          try {
            child.process.kill("SIGKILL");
          } catch {
            // Gone already.
          }
          await child.process.status;
          await child.output;
        }
        if (!sideStopped) await side.stop();
      }
    },
  );

  await t.step("stops on SIGTERM: exit 0, nothing on stderr, no connection left", async () => {
    const { code, stdout, stderr } = await server.stop("SIGTERM");
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
    assert.match(stdout, engine.stopped);
  });
}
