// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The awaitable TCP and UDP sockets, on Linux and on Windows (under Wine),
 * over loopback: `Deno.TcpConn`'s shape checked by the type checker,
 * streams against a `Deno.connect` peer, backpressure, resets, `for await`
 * over a listener, closes with operations pending, aborts and timeouts
 * that leave nothing behind, keys that leave every Selector on close, and
 * UDP send/receive. Every wait is bounded (`timeLimit`).
 */

import assert from "node:assert/strict";
import {
  bindUdp,
  connectTcp,
  Interest,
  listenTcp,
  openSelector,
  startConnectTcp,
  type TcpConn,
  type TcpListener,
  type UdpSocket,
} from "../../mod.ts";
import { reactor } from "../../backends/_reactor.ts";
import { closedPort, delay, pattern, reset, timeLimit } from "../_helpers/mod.ts";

const sockets = Deno.build.os === "linux" || Deno.build.os === "windows";
const HOST = "127.0.0.1";
const encoder = new TextEncoder();
/** The longest any one test may take, in ms. */
const LIMIT_MS = 30_000;

/** A test of the sockets of this OS (Linux and Windows), bounded in time. */
function netTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !sockets, fn: () => timeLimit(LIMIT_MS, fn) });
}

/** A connected pair over loopback: `[client, server]`, both this module's. */
async function tcpPair(): Promise<[TcpConn, TcpConn]> {
  using listener = listenTcp({ hostname: HOST, port: 0 });
  const accepting = listener.accept();
  const client = await connectTcp({ hostname: HOST, port: listener.addr.port });
  return [client, await accepting];
}

/** Asserts that `promise` rejects with `Deno.errors.Interrupted`. */
async function assertInterrupted(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(promise, Deno.errors.Interrupted, `${what}: not Interrupted`);
}

/** Fills `conn`'s socket buffers (and its peer's) until a write would block. */
function fill(conn: TcpConn): number {
  const chunk = new Uint8Array(256 * 1024);
  let total = 0;
  for (let n; (n = conn.tryWrite(chunk)) > 0;) total += n;
  return total;
}

// Compile-time: code written for Deno's types takes this module's sockets.
// What differs is left out by name: ref() and unref() (Deno offers no
// public way to unref a nonblocking FFI call); a listener's connections and
// a datagram socket's send() are this module's own types.
type DenoTcpConn = Omit<Deno.TcpConn, "ref" | "unref">;
type DenoTcpListener =
  & Omit<Deno.TcpListener, "ref" | "unref" | "accept" | typeof Symbol.asyncIterator>
  & {
    accept(): Promise<DenoTcpConn>;
    [Symbol.asyncIterator](): AsyncIterableIterator<DenoTcpConn>;
  };
type DenoUdp =
  & Omit<Deno.DatagramConn, "send" | "joinMulticastV4" | "joinMulticastV6">
  & { send(p: Uint8Array, addr: Deno.NetAddr): Promise<number> };
const asDenoConn = (conn: TcpConn): DenoTcpConn => conn;
const asDenoListener = (listener: TcpListener): DenoTcpListener => listener;
const asDatagramConn = (socket: UdpSocket): DenoUdp => socket;

/** What a Deno user writes for `Deno.Conn`: an echo of one connection to its end. */
async function echoAsDenoWould(conn: DenoTcpConn): Promise<number> {
  const buffer = new Uint8Array(1024);
  let total = 0;
  for (let n; (n = await conn.read(buffer)) !== null;) {
    total += n;
    let sent = 0;
    while (sent < n) sent += await conn.write(buffer.subarray(sent, n));
  }
  await conn.closeWrite();
  return total;
}

netTest("a TcpConn has Deno.TcpConn's members, less ref() and unref()", async () => {
  const [client, server] = await tcpPair();
  using _client = client;
  using _server = server;
  const conn = asDenoConn(server);
  for (
    const name of [
      "read",
      "write",
      "close",
      "closeWrite",
      "setNoDelay",
      "setKeepAlive",
      Symbol.dispose,
    ] as const
  ) {
    assert.equal(typeof conn[name], "function", String(name));
  }
  assert.deepEqual(conn.localAddr, client.remoteAddr);
  assert.deepEqual(conn.remoteAddr, client.localAddr);
  assert.ok(conn.readable instanceof ReadableStream);
  assert.ok(conn.writable instanceof WritableStream);
  assert.equal("ref" in conn, false);
  assert.equal("unref" in conn, false);
  using listener = listenTcp({ hostname: HOST, port: 0 });
  const denoListener = asDenoListener(listener);
  assert.equal(typeof denoListener[Symbol.asyncIterator], "function");
  using udp = bindUdp({ hostname: HOST, port: 0 });
  assert.equal(typeof asDatagramConn(udp).receive, "function");
});

netTest("code written for Deno.Conn echoes through this module's connections", async () => {
  const [client, server] = await tcpPair();
  using _client = client;
  using _server = server;
  const echoing = echoAsDenoWould(server);
  const payload = pattern(100_000, 1);
  const writing = (async () => {
    for (let at = 0; at < payload.length;) at += await client.write(payload.subarray(at));
    await client.closeWrite();
  })();
  const got = new Uint8Array(payload.length + 1);
  let read = 0;
  for (let n; (n = await client.read(got.subarray(read))) !== null;) {
    read += n;
    assert.ok(read <= payload.length, "more came back than was sent");
  }
  await writing;
  assert.equal(await echoing, payload.length);
  assert.equal(read, payload.length);
  assert.deepEqual(got.subarray(0, read), payload);
});

netTest(
  "readable through TextDecoderStream yields what a Deno.connect peer wrote; closeWrite() ends its stream",
  async () => {
    using listener = listenTcp({ hostname: HOST, port: 0 });
    const accepting = listener.accept();
    using peer = await Deno.connect({ hostname: HOST, port: listener.addr.port });
    using conn = await accepting;
    const text = "h\u00e9llo, w\u00f6rld \u2014 in pieces";
    const bytes = encoder.encode(text);
    const peerWriting = (async () => {
      // Split inside a multi-byte character: the decoder must join the pieces.
      for (const [from, to] of [[0, 2], [2, 9], [9, bytes.length]]) {
        await peer.write(bytes.subarray(from, to));
        await delay(5);
      }
      await peer.closeWrite();
    })();
    let got = "";
    for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) got += chunk;
    await peerWriting;
    assert.equal(got, text);
    assert.equal(conn.closed, false, "the end of the stream closed the connection");
    // This end still writes after the peer's end of stream, then ends its own.
    await conn.write(encoder.encode("bye"));
    await conn.closeWrite();
    const buffer = new Uint8Array(16);
    let reply = "";
    for (let n; (n = await peer.read(buffer)) !== null;) {
      reply += new TextDecoder().decode(buffer.subarray(0, n));
    }
    assert.equal(reply, "bye");
  },
);

netTest(
  "writable.close() ends the writing side only: the peer reads the end of the stream",
  async () => {
    const [client, server] = await tcpPair();
    using _client = client;
    using _server = server;
    const writer = client.writable.getWriter();
    await writer.write(encoder.encode("last words"));
    await writer.close();
    const buffer = new Uint8Array(64);
    assert.equal(await server.read(buffer), 10);
    assert.equal(await server.read(buffer), null);
    assert.equal(client.closed, false);
    // The client can still read what the server sends back.
    await server.write(encoder.encode("ok"));
    assert.equal(await client.read(buffer), 2);
  },
);

netTest(
  "a 64 MiB write into a slow reader is held back: never more than the socket buffers and one chunk in flight",
  async () => {
    const [client, server] = await tcpPair();
    using _client = client;
    using _server = server;
    const TOTAL = 64 * 1024 * 1024;
    const CHUNK = 1024 * 1024;
    const chunk = pattern(CHUNK, 2);
    let handed = 0; // bytes given to writer.write()
    let read = 0;
    let peak = 0;
    const writing = (async () => {
      const writer = client.writable.getWriter();
      while (handed < TOTAL) {
        await writer.ready; // backpressure: wait while the stream's queue is full
        handed += CHUNK;
        peak = Math.max(peak, handed - read);
        writer.write(chunk);
      }
      await writer.close();
    })();
    const buffer = new Uint8Array(256 * 1024);
    let reads = 0;
    for (let n; (n = await server.read(buffer)) !== null;) {
      read += n;
      if (++reads % 4 === 0) await delay(1); // a slow reader
    }
    await writing;
    assert.equal(read, TOTAL);
    // Loopback socket buffers take a few MiB each way; the stream holds one
    // chunk queued and one being written. 64 MiB never sat in memory.
    assert.ok(peak <= 16 * 1024 * 1024, `${(peak / 1048576).toFixed(1)} MiB in flight`);
  },
);

netTest("a reset peer rejects a pending read() with ConnectionReset", async () => {
  const [client, server] = await tcpPair();
  using _server = server;
  const reading = server.read(new Uint8Array(16));
  await delay(20);
  reset(client);
  await assert.rejects(reading, Deno.errors.ConnectionReset);
});

netTest(
  "for await over a listener takes each connection, and ends quietly on close()",
  async () => {
    const listener = listenTcp({ hostname: HOST, port: 0 });
    const served: number[] = [];
    const loop = (async () => {
      for await (const conn of listener) {
        served.push(conn.remoteAddr.port);
        conn.close();
      }
    })();
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await connectTcp({ port: listener.addr.port }));
    const buffer = new Uint8Array(1);
    // Each client reads the end of the stream once the server has closed its end.
    for (const client of clients) assert.equal(await client.read(buffer), null);
    listener.close();
    await loop; // ended, without an error
    assert.deepEqual(served.sort(), clients.map((c) => c.localAddr.port).sort());
    for (const client of clients) client.close();
  },
);

netTest(
  "close() with read, write, waits and accept pending rejects each with Interrupted",
  async () => {
    const [client, server] = await tcpPair();
    using _server = server;
    const listener = listenTcp({ hostname: HOST, port: 0 });
    fill(client); // the server reads nothing: the client's writes now wait
    const pending = {
      read: client.read(new Uint8Array(16)),
      write: client.write(new Uint8Array(1024)),
      waitReadable: client.waitReadable(),
      waitWritable: client.waitWritable(),
      accept: listener.accept(),
    };
    await delay(20);
    client.close();
    listener.close();
    for (const [what, promise] of Object.entries(pending)) await assertInterrupted(promise, what);
    await assert.rejects(client.read(new Uint8Array(1)), Deno.errors.BadResource);
    await assert.rejects(listener.accept(), Deno.errors.BadResource);
  },
);

netTest(
  "a timeout and an abort leave no wait pending, and closing leaves nothing watched",
  async () => {
    const [client, server] = await tcpPair();
    const start = performance.now();
    await assert.rejects(server.waitReadable({ timeout: 50 }), Deno.errors.TimedOut);
    assert.ok(performance.now() - start >= 49, "timed out early");
    const controller = new AbortController();
    const waiting = server.waitReadable({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error("enough")), 10);
    await assert.rejects(waiting, /enough/);
    assert.equal(reactor().waiting, 0);
    // The connection still works after both.
    const reading = server.read(new Uint8Array(4));
    await client.write(encoder.encode("hi"));
    assert.equal(await reading, 2);
    client.close();
    server.close();
    assert.equal(reactor().watched, 0);
    assert.equal(reactor().open, false);
  },
);

netTest(
  "closing a socket removes it from every Selector: its keys go, no event comes",
  async () => {
    using selector = openSelector();
    using other = openSelector();
    const [client, server] = await tcpPair();
    using _client = client;
    const listener = listenTcp({ hostname: HOST, port: 0 });
    const udp = bindUdp({ hostname: HOST, port: 0 });
    await client.write(encoder.encode("x")); // the server is readable
    for (const s of [selector, other]) {
      s.register(server.fd, Interest.READABLE);
      s.register(listener.fd, Interest.READABLE);
      s.register(udp.fd, Interest.WRITABLE);
    }
    assert.equal(selector.select(1_000).length > 0, true);
    const fds = [server.fd, listener.fd, udp.fd];
    server.close();
    listener.close();
    udp.close();
    for (const s of [selector, other]) {
      assert.equal(s.size, 0);
      for (const fd of fds) assert.equal(s.getKey(fd), undefined);
      assert.deepEqual(s.select(0), []);
    }
  },
);

netTest("connectTcp() resolves once connected, and rejects a refused connect", async () => {
  using listener = listenTcp({ hostname: HOST, port: 0 });
  using conn = await connectTcp({ port: listener.addr.port });
  conn.finishConnect(); // connected already: returns at once
  using server = listener.tryAccept() ?? await listener.accept();
  assert.deepEqual(server.remoteAddr, conn.localAddr);
  if (Deno.build.os === "linux") {
    // Windows waits seconds for a refusal (it retries the SYN); Linux answers at once.
    await assert.rejects(
      connectTcp({ hostname: HOST, port: closedPort(HOST) }),
      Deno.errors.ConnectionRefused,
    );
  }
  await assert.rejects(connectTcp({ port: 0 }), RangeError);
  await assert.rejects(connectTcp({ hostname: "example.com", port: 80 }), TypeError);
  await assert.rejects(connectTcp(null as unknown as { port: number }), TypeError);
  await assert.rejects(
    connectTcp({ port: 80, signal: "stop" as unknown as AbortSignal }),
    TypeError,
  );
  await assert.rejects(
    connectTcp({ port: listener.addr.port, signal: AbortSignal.abort(new Error("no")) }),
    /no/,
  );
});

Deno.test({
  name: "connectTcp() to a listener whose queue is full waits, and its signal gives up",
  ignore: Deno.build.os !== "linux",
  fn: () =>
    timeLimit(LIMIT_MS, async () => {
      // Backlog 0 holds one connection; later SYNs are dropped until the queue has room.
      using full = listenTcp({ hostname: HOST, port: 0, backlog: 0 });
      const fillers: TcpConn[] = [];
      try {
        for (let i = 0; i < 4; i++) fillers.push(startConnectTcp({ port: full.addr.port }));
        await delay(50);
        const controller = new AbortController();
        const connecting = connectTcp({ port: full.addr.port, signal: controller.signal });
        let settled = false;
        connecting.then(() => settled = true, () => settled = true);
        await delay(100);
        assert.equal(settled, false, "the connect did not wait");
        controller.abort(new Error("gave up"));
        await assert.rejects(connecting, /gave up/);
      } finally {
        for (const conn of fillers) conn.close();
      }
    }),
});

netTest("UDP: send() and receive() a datagram; receive() waits until one comes", async () => {
  using a = bindUdp({ hostname: HOST, port: 0 });
  using b = bindUdp({ hostname: HOST, port: 0 });
  const receiving = b.receive();
  await delay(10);
  assert.equal(await a.send(new Uint8Array([1, 2, 3]), b.addr), 3);
  const [data, from] = await receiving;
  assert.deepEqual([...data], [1, 2, 3]);
  assert.deepEqual(from, a.addr);
  // Into a buffer of the caller's: a view of it, as long as what came.
  const buffer = new Uint8Array(8);
  await a.send(new Uint8Array([9, 8]), { hostname: HOST, port: b.addr.port });
  const [view] = await b.receive(buffer);
  assert.equal(view.buffer, buffer.buffer);
  assert.deepEqual([...view], [9, 8]);
  await assert.rejects(a.send("no" as unknown as Uint8Array, b.addr), TypeError);
  await assert.rejects(a.send(new Uint8Array(1), { port: 0 }), RangeError);
  await b.waitWritable({ timeout: 1_000 });
  await assert.rejects(b.waitReadable({ timeout: 20 }), Deno.errors.TimedOut);
});

netTest(
  "UDP: for await takes each datagram and ends on close(); a pending receive() is Interrupted",
  async () => {
    const a = bindUdp({ hostname: HOST, port: 0 });
    const b = bindUdp({ hostname: HOST, port: 0 });
    const got: number[] = [];
    const loop = (async () => {
      for await (const [data, from] of b) {
        assert.equal(from.port, a.addr.port);
        got.push(data[0]);
        if (got.length === 3) break;
      }
    })();
    for (let i = 1; i <= 3; i++) await a.send(new Uint8Array([i]), b.addr);
    await loop;
    assert.deepEqual(got, [1, 2, 3]);
    const pending = b.receive();
    const ended = (async () => {
      for await (const _ of a) assert.fail("nothing was sent to a");
    })();
    await delay(20);
    b.close();
    a.close();
    await assertInterrupted(pending, "receive");
    await ended;
  },
);

netTest(
  "the peer's end seen by the reactor before a short read: the next read() gives null",
  async () => {
    // After a read that fills less than its buffer, the next read() waits
    // at once for the next event, unless an event said the peer ended: that
    // event comes once. Here the reactor hands it out (it runs for another
    // pair's pending read) before the short read that takes the last bytes.
    const [client, server] = await tcpPair();
    const [otherClient, otherServer] = await tcpPair();
    using _client = client;
    using _server = server;
    using _otherClient = otherClient;
    using _otherServer = otherServer;
    const buffer = new Uint8Array(16);
    const first = server.read(buffer); // waits: the server's fd is now watched
    await client.write(encoder.encode("x"));
    assert.equal(await first, 1);
    const keepRunning = otherServer.read(new Uint8Array(1)); // the reactor stays parked
    await client.write(encoder.encode("abc"));
    client.close();
    await delay(100); // the bytes' and the end's events have been handed out
    assert.equal(await server.read(buffer), 3);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<string>((resolve) =>
      timer = setTimeout(() => resolve("stuck"), 5_000)
    );
    const reading = server.read(buffer);
    const last = await Promise.race([reading, stuck]);
    clearTimeout(timer);
    if (last === "stuck") server.close(); // rejects the read that waits for nothing
    await reading.catch(() => {});
    assert.equal(last, null);
    otherClient.close(); // ends the other pair's read
    assert.equal(await keepRunning, null);
  },
);

netTest(
  "a short read, then bytes sent later: the next read() waits for them and gets them",
  async () => {
    const [client, server] = await tcpPair();
    using _client = client;
    using _server = server;
    const buffer = new Uint8Array(16);
    for (let round = 0; round < 50; round++) {
      const message = encoder.encode(`message ${round}`);
      // Sent before the read, after it, or as it waits: each must arrive.
      if (round % 3 === 0) await client.write(message);
      const reading = server.read(buffer);
      if (round % 3 === 1) await client.write(message);
      if (round % 3 === 2) setTimeout(() => client.tryWrite(message), 1);
      assert.equal(await reading, message.length, `round ${round}`);
      assert.deepEqual(buffer.subarray(0, message.length), message);
    }
  },
);

netTest("read()s that always find bytes still let a timer run", async () => {
  const [client, server] = await tcpPair();
  using _client = client;
  using _server = server;
  const chunk = new Uint8Array(64 * 1024);
  fill(client); // the server always has bytes to read, for a while
  let fired = false;
  const timer = setTimeout(() => fired = true, 0);
  const start = performance.now();
  let reads = 0;
  try {
    while (!fired && performance.now() - start < 5_000) {
      if (await server.read(chunk) === null) break;
      reads++;
      client.tryWrite(chunk);
    }
  } finally {
    clearTimeout(timer);
  }
  assert.ok(fired, `a 0 ms timer never ran in ${reads} reads`);
});
