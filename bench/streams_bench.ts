// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The awaitable layer against what it stands on and what it replaces:
 * `waitReadable()` on a ready fd beside the Selector's `selectInto(0)` on
 * the same fd (the baseline), and a `pipeTo` proxy of 256 MiB between two
 * of this module's `TcpConn`s beside the same proxy between two
 * `Deno.Conn`s (the baseline). `bench/run.ts` prints the ratios.
 *
 *     deno bench --allow-ffi --allow-net=127.0.0.1 bench/streams_bench.ts
 *
 * The proxy: a source writes 256 MiB in 256 KiB chunks to the proxy's
 * inbound connection, the proxy pipes its inbound `readable` into its
 * outbound `writable`, and a sink reads to the end. Source and sink are
 * `Deno.Conn`s on both sides, in the same process; only the proxy's two
 * connections differ. Linux only (the bench runs there).
 *
 * @module
 */

import {
  connectTcp,
  Interest,
  listenTcp,
  openEventFd,
  openSelector,
  SelectorEvents,
  watchFd,
} from "../mod.ts";

const WAITS = 100;
const PROXIED = 256 * 1024 * 1024;
const CHUNK = 256 * 1024;
const HOST = "127.0.0.1";

// Everything below lives as long as the bench process.
const ready = openEventFd({ initial: 1 }); // readable until read, which nothing does
const selector = openSelector();
selector.register(ready.fd, Interest.READABLE);
const events = new SelectorEvents();
const watched = watchFd(ready.fd);

Deno.bench({
  name: `${WAITS} × Selector.selectInto(events, 0), 1 ready`,
  group: "ready-wait",
  baseline: true,
  fn() {
    for (let i = 0; i < WAITS; i++) {
      if (selector.selectInto(events, 0) !== 1) throw new Error("The eventfd is not ready");
    }
  },
});

Deno.bench({
  name: `${WAITS} × await AsyncFd.waitReadable(), fd ready`,
  group: "ready-wait",
  async fn() {
    for (let i = 0; i < WAITS; i++) await watched.waitReadable();
  },
});

Deno.bench({
  name: `${WAITS} × await read() + tryWrite() of an eventfd whose counter is set`,
  group: "ready-wait",
  async fn() {
    // An eventfd's read() gives its 8-byte counter; writing 1 back makes it ready again.
    const buffer = new Uint8Array(8);
    const one = new Uint8Array(new BigUint64Array([1n]).buffer);
    for (let i = 0; i < WAITS; i++) {
      await ready.read(buffer);
      ready.tryWrite(one);
    }
  },
});

/** A source chunk: the same bytes every write. */
const chunk = new Uint8Array(CHUNK).fill(0x5a);

/** Writes {@linkcode PROXIED} bytes to `conn`, then ends its writing side. */
async function source(conn: Deno.Conn): Promise<void> {
  for (let sent = 0; sent < PROXIED; sent += CHUNK) {
    let done = 0;
    while (done < CHUNK) done += await conn.write(chunk.subarray(done));
  }
  await conn.closeWrite();
}

/** Reads `conn` to its end; throws unless exactly {@linkcode PROXIED} bytes came. */
async function sink(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(CHUNK);
  let got = 0;
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    got += n;
  }
  if (got !== PROXIED) throw new Error(`The sink got ${got} bytes, not ${PROXIED}`);
}

Deno.bench({
  name: "256 MiB through a pipeTo proxy between two Deno.Conns",
  group: "proxy-256MiB",
  baseline: true,
  n: 5,
  warmup: 1,
  async fn() {
    using front = Deno.listen({ hostname: HOST, port: 0 });
    using back = Deno.listen({ hostname: HOST, port: 0 });
    const client = await Deno.connect({ hostname: HOST, port: front.addr.port });
    const inbound = await front.accept();
    const outbound = await Deno.connect({ hostname: HOST, port: back.addr.port });
    const server = await back.accept();
    // pipeTo closes outbound (its writable) at the end; reading inbound to its end closes it.
    await Promise.all([
      source(client),
      inbound.readable.pipeTo(outbound.writable),
      sink(server),
    ]);
    client.close();
    server.close();
  },
});

Deno.bench({
  name: "256 MiB through a pipeTo proxy between two TcpConns",
  group: "proxy-256MiB",
  n: 5,
  warmup: 1,
  async fn() {
    using front = listenTcp({ hostname: HOST, port: 0 });
    using back = Deno.listen({ hostname: HOST, port: 0 });
    const client = await Deno.connect({ hostname: HOST, port: front.addr.port });
    using inbound = await front.accept();
    using outbound = await connectTcp({ hostname: HOST, port: back.addr.port });
    const server = await back.accept();
    // pipeTo ends outbound's writing side at the end (the sink sees its end of stream).
    await Promise.all([
      source(client),
      inbound.readable.pipeTo(outbound.writable),
      sink(server),
    ]);
    client.close();
    server.close();
  },
});
