// Copyright 2026 the @evented/io authors. MIT license.
/**
 * examples/echo_server.ts as a child process, in both modes on both
 * backends: byte-exact echo (of many connections at once, and of a
 * payload written before any of it is read, which forces the server into
 * partial writes), a half-close, a client reset, a clean stop with every
 * fd closed on SIGTERM and on SIGINT, and examples/echo_client.ts against
 * it. Clients here use the library's own sockets (the test task grants
 * --allow-net for loopback only); every loop is bounded by a deadline.
 */

import assert from "node:assert/strict";
import { Interest, openSelector, type Selector, startConnectTcp, type TcpConn } from "../../mod.ts";
import { runLoad, type RunningServer, startServer } from "../../examples/_process.ts";
import {
  assertBytes,
  BACKENDS,
  linuxTest,
  Random,
  reset,
  slack,
  slowdown,
} from "../_helpers/mod.ts";

const DENO = Deno.execPath();
const SERVER = new URL("../_helpers/echo_server_fds.ts", import.meta.url).pathname;
const CLIENT = new URL("../../examples/echo_client.ts", import.meta.url).pathname;
const MODES = ["sync", "async"] as const;
const HOST = "127.0.0.1";
/** The longest one exchange may take, in ms (scaled to this machine). */
const EXCHANGE_MS = slack(30_000);

/** Starts the example in `mode`, on `backend` (the listen mode takes none: the reactor picks). */
function start(backend: string | undefined, mode: string): Promise<RunningServer> {
  return startServer(DENO, [
    "run",
    "--allow-ffi",
    SERVER,
    "--port",
    "0",
    ...(backend === undefined ? [] : ["--backend", backend]),
    "--mode",
    mode,
  ], slack(30_000));
}

/** One client connection of an {@linkcode exchange}. */
interface Peer {
  conn: TcpConn;
  payload: Uint8Array;
  received: Uint8Array;
  sent: number;
  got: number;
  connected: boolean;
  eof: boolean;
  /** Write until the pipeline stalls before reading anything. */
  fillFirst: boolean;
  /** When the last byte was written while filling (performance.now()). */
  lastWrite: number;
  halfClose: boolean;
  interest: number;
}

interface ExchangeOptions {
  /** Write all that fits before reading: the server must keep unsent bytes. */
  fillFirst?: boolean;
  /** Shut down writing after the payload, and expect end of stream after its echo. */
  halfClose?: boolean;
}

const readBuffer = new Uint8Array(256 * 1024);

/**
 * Sends each payload on its own connection, all at once, and returns what
 * came back on each; the connections are closed when it returns.
 */
function exchange(port: number, payloads: Uint8Array[], options: ExchangeOptions = {}) {
  using selector: Selector<Peer> = openSelector<Peer>();
  const peers: Peer[] = [];
  try {
    for (const payload of payloads) {
      const peer: Peer = {
        conn: startConnectTcp({ hostname: HOST, port }),
        payload,
        received: new Uint8Array(payload.length),
        sent: 0,
        got: 0,
        connected: false,
        eof: false,
        fillFirst: options.fillFirst ?? false,
        lastWrite: performance.now(),
        halfClose: options.halfClose ?? false,
        interest: Interest.WRITABLE,
      };
      peers.push(peer);
      selector.register(peer.conn.fd, Interest.WRITABLE, { data: peer });
    }
    const done = (p: Peer) => p.got === p.payload.length && (!p.halfClose || p.eof);
    const deadline = performance.now() + EXCHANGE_MS;
    while (!peers.every(done)) {
      if (performance.now() > deadline) {
        throw new Error(
          `Echo timed out: ${
            peers.map((p) => `${p.sent}/${p.got}/${p.payload.length}`).join(", ")
          } (sent/received/length)`,
        );
      }
      for (const event of selector.select(100)) {
        const p = event.data!;
        if (!p.connected) {
          p.conn.finishConnect();
          p.connected = true;
        }
        if (event.writable && p.sent < p.payload.length) {
          const n = p.conn.tryWrite(p.payload.subarray(p.sent));
          p.sent += n;
          if (n > 0) p.lastWrite = performance.now();
          if (p.sent === p.payload.length && p.halfClose) p.conn.shutdown("write");
        }
        if (event.readable && !p.eof) {
          const n = p.conn.tryRead(readBuffer);
          if (n === null) {
            p.eof = true;
            assert.equal(p.got, p.payload.length, "end of stream before the whole echo");
          } else {
            assert.ok(p.got + n <= p.payload.length, "more bytes came back than were sent");
            p.received.set(readBuffer.subarray(0, n), p.got);
            p.got += n;
          }
        }
      }
      for (const p of peers) {
        // Filling: nothing written for 300 ms means every buffer on the way
        // is full, the server's unsent bytes included; now read.
        if (p.fillFirst && performance.now() - p.lastWrite > 300) p.fillFirst = false;
        const interest = (p.sent < p.payload.length ? Interest.WRITABLE : 0) |
          (!p.fillFirst && !done(p) ? Interest.READABLE : 0);
        if (interest !== p.interest) {
          if (p.interest !== 0 && interest === 0) selector.unregister(p.conn.fd);
          else if (p.interest === 0) selector.register(p.conn.fd, interest, { data: p });
          else selector.modify(p.conn.fd, interest);
          p.interest = interest;
        }
      }
    }
    return peers.map((p) => ({ received: p.received, sent: p.sent }));
  } finally {
    for (const p of peers) {
      if (selector.getKey(p.conn.fd)) selector.unregister(p.conn.fd);
      p.conn.close();
    }
  }
}

/** Opens `count` connections that have each echoed one byte (the server has them all). */
function openIdle(port: number, count: number): TcpConn[] {
  const conns: TcpConn[] = [];
  using selector = openSelector<number>();
  try {
    for (let i = 0; i < count; i++) {
      const conn = startConnectTcp({ hostname: HOST, port });
      conns.push(conn);
      selector.register(conn.fd, Interest.WRITABLE, { data: i });
    }
    let pending = count;
    const deadline = performance.now() + EXCHANGE_MS;
    while (pending > 0) {
      assert.ok(performance.now() < deadline, "connections never echoed");
      for (const event of selector.select(100)) {
        const conn = conns[event.data!];
        if (event.writable) {
          conn.finishConnect();
          assert.equal(conn.tryWrite(new Uint8Array([7])), 1);
          selector.modify(conn.fd, Interest.READABLE);
        } else if (event.readable) {
          assert.equal(conn.tryRead(readBuffer), 1);
          selector.unregister(conn.fd);
          pending--;
        }
      }
    }
    return conns;
  } catch (error) {
    for (const conn of conns) conn.close();
    throw error;
  }
}

/** Waits until each connection reads end of stream (or a reset): the server closed it. */
function assertClosedByServer(conns: TcpConn[]): void {
  const deadline = performance.now() + EXCHANGE_MS;
  using selector = openSelector<TcpConn>();
  for (const conn of conns) selector.register(conn.fd, Interest.READABLE, { data: conn });
  let open = conns.length;
  while (open > 0) {
    assert.ok(performance.now() < deadline, `${open} connections were not closed by the server`);
    for (const event of selector.select(100)) {
      const conn = event.data!;
      let ended = false;
      try {
        ended = conn.tryRead(readBuffer) === null;
      } catch (error) {
        ended = error instanceof Deno.errors.ConnectionReset;
        if (!ended) throw error;
      }
      if (ended) {
        selector.unregister(conn.fd);
        open--;
      }
    }
  }
}

/** Stops the server with `signal` while it has `idle` connections, and checks the exit. */
async function stopWith(
  server: RunningServer,
  signal: "SIGTERM" | "SIGINT",
  idle: number,
): Promise<void> {
  const conns = openIdle(server.port, idle);
  try {
    const stopping = server.stop(signal, slack(10_000));
    assertClosedByServer(conns);
    const { code, stdout, stderr } = await stopping;
    assert.equal(code, 0, `exit code after ${signal}; stderr:\n${stderr}`);
    assert.match(
      stdout,
      /^stopped: closed \d+ connections(, the listener and the selector| and the listener \(\d+ served\))$/m,
    );
    assert.match(stdout, /^fds left open: none$/m);
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** Every way the example serves: each readiness mode on each backend, and the listen mode. */
const SERVERS: { mode: string; backend: string | undefined }[] = [
  ...MODES.flatMap((mode) => BACKENDS.map((backend) => ({ mode, backend }))),
  { mode: "listen", backend: undefined },
];

for (const { mode, backend } of SERVERS) {
  const name = backend === undefined ? `--mode ${mode}` : `--mode ${mode} --backend ${backend}`;
  linuxTest(`echo_server.ts ${name}`, async (t) => {
    await using server = await start(backend, mode);
    assert.match(
      server.firstLine,
      new RegExp(
        `^listening on 127\\.0\\.0\\.1:${server.port} \\(${
          backend === undefined ? "listen\\)$" : `${backend}, ${mode}; `
        }`,
      ),
    );
    const random = new Random(server.port);

    await t.step("echoes random payloads on 16 connections at once, byte-exact", () => {
      const payloads = Array.from({ length: 16 }, () => random.bytes(1 + random.below(200_000)));
      const results = exchange(server.port, payloads);
      results.forEach((r, i) => assertBytes(r.received, payloads[i], `connection ${i}`));
    });

    await t.step("echoes 16 MiB written before any of it is read (partial writes)", () => {
      const payload = random.bytes(16 * 1024 * 1024);
      const [result] = exchange(server.port, [payload], { fillFirst: true });
      assertBytes(result.received, payload, "16 MiB");
    });

    await t.step("after a half-close, echoes what remains and then closes", () => {
      const payloads = [random.bytes(1), random.bytes(300_000)];
      const results = exchange(server.port, payloads, { halfClose: true });
      results.forEach((r, i) => assertBytes(r.received, payloads[i], `half-closed ${i}`));
    });

    await t.step("survives a client that resets mid-stream, and serves the others", () => {
      // A client that sends 4 MiB, reads none of it back, and resets: the
      // server holds unsent bytes for it when the RST comes.
      const conn = startConnectTcp({ hostname: HOST, port: server.port });
      let sent = 0;
      try {
        using selector = openSelector();
        selector.register(conn.fd, Interest.WRITABLE);
        const payload = random.bytes(4 * 1024 * 1024);
        const deadline = performance.now() + slack(2_000);
        while (sent < payload.length && performance.now() < deadline) {
          if (selector.select(100).length === 0) break; // full: the server stopped reading
          if (sent === 0) conn.finishConnect();
          sent += conn.tryWrite(payload.subarray(sent));
        }
        selector.unregister(conn.fd);
      } finally {
        reset(conn);
      }
      assert.ok(sent > 0);
      const payload = random.bytes(100_000);
      const [result] = exchange(server.port, [payload]);
      assertBytes(result.received, payload, "after the reset");
    });

    await t.step("examples/echo_client.ts prints a sane JSON line against it", async () => {
      const result = await runLoad(DENO, [
        "run",
        "--allow-ffi",
        CLIENT,
        "--port",
        String(server.port),
        "--connections",
        "8",
        "--size",
        "100",
        "--seconds",
        "0.5",
        "--warmup",
        // 0.1 s natively: longer on a slower machine, where the first round trips are slow.
        (slack(100) / 1_000).toFixed(1),
      ]);
      assert.equal(result.connections, 8);
      assert.equal(result.size, 100);
      assert.equal(result.seconds, 0.5);
      assert.equal(result.mismatches, 0);
      // 100 in half a second natively; proportionally fewer on a slower machine.
      const least = Math.floor(100 / slowdown());
      assert.ok(result.messages > least, `${result.messages} messages, expected over ${least}`);
      assert.ok(Math.abs(result.messagesPerSecond - result.messages / 0.5) < 1);
      assert.ok(result.p50Us > 0 && result.p50Us <= result.p99Us, JSON.stringify(result));
      assert.ok(result.p99Us < slack(1_000) * 1_000, JSON.stringify(result));
    });

    await t.step("stops on SIGTERM with connections open: exit 0, every fd closed", async () => {
      await stopWith(server, "SIGTERM", 20);
    });

    await t.step("stops on SIGINT with connections open: exit 0, every fd closed", async () => {
      await using second = await start(backend, mode);
      await stopWith(second, "SIGINT", 20);
    });
  });
}
