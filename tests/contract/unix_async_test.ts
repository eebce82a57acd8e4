// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The awaitable Unix sockets (Linux): a connection with `Deno.UnixConn`'s
 * shape (checked by the type checker) streaming to its peer (this module's
 * own: Deno 2.9 asks --allow-net for a Unix `Deno.connect`),
 * `accept()` and `for await` over a listener, datagrams sent and received,
 * and closes with operations pending. Every wait is bounded (`timeLimit`).
 */

import assert from "node:assert/strict";
import {
  bindUnixDatagram,
  connectUnix,
  listenUnix,
  type UnixConn,
  type UnixDatagramSocket,
  type UnixListener,
} from "../../mod.ts";
import { delay, pattern, timeLimit } from "../_helpers/mod.ts";

const linux = Deno.build.os === "linux";
const encoder = new TextEncoder();
const LIMIT_MS = 30_000;

function unixTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !linux, fn: () => timeLimit(LIMIT_MS, fn) });
}

/** A fresh name in the abstract namespace (no file). */
function abstract(): string {
  return `\0evented-io-async-${crypto.randomUUID()}`;
}

// Compile-time: code written for Deno's types takes this module's sockets.
// ref() and unref() are left out (no public way to unref an FFI call).
type DenoUnixConn = Omit<Deno.UnixConn, "ref" | "unref">;
type DenoUnixListener =
  & Omit<Deno.UnixListener, "ref" | "unref" | "accept" | typeof Symbol.asyncIterator>
  & {
    accept(): Promise<DenoUnixConn>;
    [Symbol.asyncIterator](): AsyncIterableIterator<DenoUnixConn>;
  };
type DenoUnixDatagrams =
  & Omit<Deno.DatagramConn, "send" | "joinMulticastV4" | "joinMulticastV6">
  & { send(p: Uint8Array, addr: Deno.UnixAddr): Promise<number> };
const asDenoConn = (conn: UnixConn): DenoUnixConn => conn;
const asDenoListener = (listener: UnixListener): DenoUnixListener => listener;
const asDatagramConn = (socket: UnixDatagramSocket): DenoUnixDatagrams => socket;

unixTest(
  "a UnixConn streams through a BYOB reader and its writable; the writable's close() is closeWrite()",
  async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/s.sock`;
    try {
      using listener = listenUnix({ path });
      asDenoListener(listener);
      const accepting = listener.accept();
      using peer = await connectUnix({ path });
      using conn = await accepting;
      assert.deepEqual(asDenoConn(conn).localAddr, { transport: "unix", path });
      const payload = pattern(300_000, 3);
      const peerWriting = (async () => {
        for (let at = 0; at < payload.length;) at += await peer.write(payload.subarray(at));
        await peer.closeWrite();
      })();
      const got = new Uint8Array(payload.length);
      let read = 0;
      const reader = conn.readable.getReader({ mode: "byob" });
      for (;;) {
        const { value, done } = await reader.read(new Uint8Array(65536));
        if (done) break;
        got.set(value, read);
        read += value.length;
      }
      reader.releaseLock();
      await peerWriting;
      assert.equal(read, payload.length);
      assert.deepEqual(got, payload);
      const writer = conn.writable.getWriter();
      await writer.write(encoder.encode("done"));
      await writer.close(); // closeWrite(): the peer reads the end of the stream
      assert.equal(conn.closed, false);
      const buffer = new Uint8Array(16);
      assert.equal(await peer.read(buffer), 4);
      assert.equal(await peer.read(buffer), null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

unixTest(
  "for await over a Unix listener ends quietly on close(); a pending read is Interrupted",
  async () => {
    const path = abstract();
    const listener = listenUnix({ path });
    const accepted: UnixConn[] = [];
    const loop = (async () => {
      for await (const conn of listener) accepted.push(conn);
    })();
    using a = await connectUnix({ path });
    using b = await connectUnix({ path });
    while (accepted.length < 2) await delay(5);
    const reading = accepted[0].read(new Uint8Array(8));
    await a.write(encoder.encode("x"));
    assert.equal(await reading, 1);
    const pending = accepted[1].read(new Uint8Array(8));
    await delay(10);
    accepted[1].close();
    await assert.rejects(pending, Deno.errors.Interrupted);
    listener.close();
    await loop;
    accepted[0].close();
    void b;
    const closed = listenUnix({ path: abstract() });
    const accepting = closed.accept();
    await delay(10);
    closed.close();
    await assert.rejects(accepting, Deno.errors.Interrupted);
    await assert.rejects(closed.accept(), Deno.errors.BadResource);
  },
);

unixTest(
  "Unix datagrams: send() and receive(), for await, a pending receive() Interrupted by close()",
  async () => {
    const path = abstract();
    const server = bindUnixDatagram({ path });
    using client = bindUnixDatagram({});
    asDatagramConn(server);
    const receiving = server.receive();
    await delay(10);
    assert.equal(await client.send(encoder.encode("<14>hi"), { path }), 6);
    const [data, from] = await receiving;
    assert.equal(new TextDecoder().decode(data), "<14>hi");
    assert.deepEqual(from, { transport: "unixpacket", path: "" });
    const got: string[] = [];
    const loop = (async () => {
      for await (const [data] of server) got.push(new TextDecoder().decode(data));
    })();
    await client.send(encoder.encode("one"), { path });
    await client.send(encoder.encode("two"), { path });
    while (got.length < 2) await delay(5);
    server.close();
    await loop;
    assert.deepEqual(got, ["one", "two"]);
    const pending = client.receive(new Uint8Array(8));
    await delay(10);
    client.close();
    await assert.rejects(pending, Deno.errors.Interrupted);
    await assert.rejects(client.send(encoder.encode("x"), { path }), Deno.errors.BadResource);
    using other = bindUnixDatagram({});
    await assert.rejects(
      other.send(encoder.encode("x"), { path: abstract() }),
      Deno.errors.ConnectionRefused,
    );
  },
);
