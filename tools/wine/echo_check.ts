// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Checks an echo server byte for byte, with this library's own sockets and
 * default Selector (so it runs as well on Linux as under Wine):
 * `--connections` connections at once, each sending a pseudo-random payload
 * (sizes from 1 byte to 1 MiB: the large ones force the server into partial
 * writes), then shutting its writing side down; each must get back exactly
 * what it sent, then the end of the stream.
 *
 *     deno run --allow-ffi tools/wine/echo_check.ts --port 9000 [--host 127.0.0.1]
 *       [--connections 24] [--seed 1]
 *
 * Prints `echo ok: …` and exits 0, or says what differed and exits 1.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Interest, openSelector, startConnectTcp, type TcpConn } from "../../mod.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    connections: { type: "string", default: "24" },
    seed: { type: "string", default: "1" },
  },
});
const port = Number(values.port);
const count = Number(values.connections);
if (!(port > 0 && port < 65536) || !(count > 0)) {
  console.error("Usage: echo_check.ts --port PORT [--host H] [--connections N] [--seed S]");
  Deno.exit(2);
}
/** How long the whole exchange may take, in ms (Wine is slow). */
const DEADLINE_MS = 120_000;
const SIZES = [1, 2, 100, 1460, 4096, 65_535, 65_536, 200_000, 1 << 20];

/** xorshift32: payloads that differ at every byte and repeat from the seed. */
function payload(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = (seed >>> 0) || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

interface Peer {
  index: number;
  conn: TcpConn;
  sent: Uint8Array;
  written: number;
  received: Uint8Array;
  got: number;
  connected: boolean;
  eof: boolean;
  interest: number;
}

const selector = openSelector<Peer>();
const peers: Peer[] = [];
const buffer = new Uint8Array(256 * 1024);
let failure: string | undefined;
try {
  for (let i = 0; i < count; i++) {
    const size = SIZES[i % SIZES.length];
    const peer: Peer = {
      index: i,
      conn: startConnectTcp({ hostname: values.host, port }),
      sent: payload(size, Number(values.seed) * 7919 + i),
      written: 0,
      received: new Uint8Array(size),
      got: 0,
      connected: false,
      eof: false,
      interest: Interest.READABLE | Interest.WRITABLE,
    };
    peers.push(peer);
    selector.register(peer.conn.fd, peer.interest, { data: peer });
  }
  const deadline = performance.now() + DEADLINE_MS;
  let open = peers.length;
  while (open > 0 && failure === undefined) {
    if (performance.now() > deadline) {
      failure = `timed out: ${
        peers.filter((p) => !p.eof).map((p) => `#${p.index} ${p.got}/${p.sent.length}`).join(", ")
      } (received/sent)`;
      break;
    }
    for (const event of selector.select(1_000)) {
      const p = event.data!;
      if (!p.connected) {
        p.conn.finishConnect();
        p.connected = true;
      }
      if (event.writable && p.written < p.sent.length) {
        p.written += p.conn.tryWrite(p.sent.subarray(p.written));
        if (p.written === p.sent.length) {
          p.conn.shutdown("write");
          p.interest = Interest.READABLE;
          selector.modify(p.conn.fd, p.interest);
        }
      }
      if (event.readable && !p.eof) {
        const n = p.conn.tryRead(buffer);
        if (n === null) {
          p.eof = true;
          open--;
          selector.unregister(p.conn.fd);
          if (p.got !== p.sent.length) {
            failure = `#${p.index}: end of stream after ${p.got} of ${p.sent.length} bytes`;
          }
        } else if (p.got + n > p.sent.length) {
          failure = `#${p.index}: ${p.got + n} bytes came back, ${p.sent.length} were sent`;
        } else {
          p.received.set(buffer.subarray(0, n), p.got);
          p.got += n;
        }
      }
    }
  }
  for (const p of peers) {
    if (failure !== undefined) break;
    for (let i = 0; i < p.sent.length; i++) {
      if (p.received[i] !== p.sent[i]) {
        failure = `#${p.index}: byte ${i} of ${p.sent.length} is ${p.received[i]}, ` +
          `${p.sent[i]} was sent`;
        break;
      }
    }
  }
} catch (error) {
  failure = (error as Error).message;
} finally {
  for (const p of peers) {
    if (selector.getKey(p.conn.fd) !== undefined) selector.unregister(p.conn.fd);
    p.conn.close();
  }
  selector.close();
}
if (failure !== undefined) {
  console.error(`echo FAILED (${Deno.build.os}): ${failure}`);
  Deno.exit(1);
}
const total = peers.reduce((sum, p) => sum + p.sent.length, 0);
console.log(
  `echo ok (${Deno.build.os} client, ${selector.backend}): ${count} connections, ` +
    `${total} bytes back byte for byte, each ended by the server's FIN`,
);
