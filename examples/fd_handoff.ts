// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A TCP front that hands each connection to another process: the parent
 * accepts, passes the connected socket over a Unix socket (SCM_RIGHTS) and
 * closes its own copy; the child adopts it and serves it (a greeting that
 * names the child, then echo). Linux only.
 *
 *     deno run --allow-ffi --allow-run --allow-read examples/fd_handoff.ts \
 *       [--port 0] [--connections 0]
 *
 * The first lines printed say where it listens and which process serves:
 * `listening on 127.0.0.1:40123` and `handing connections to pid 4321`.
 * Try it with `nc 127.0.0.1 40123`: the child greets you with
 * `served by pid 4321`, then echoes every line. `--connections N` stops
 * after N connections have been handed over (0, the default: never): the
 * parent closes the Unix socket, and the child ends once its clients have.
 *
 * The parent starts the child itself (`--child <name>`), and they meet on
 * a name in the abstract namespace, so no file is left behind. Each handed
 * socket travels with one byte; the child takes at most 16 fds per message
 * (`maxFds`), adopts each (`adoptSocket`: nonblocking, close-on-exec, owned
 * by the object), and drives all of them with one Selector, as the parent
 * does its listener.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  adoptSocket,
  connectUnix,
  Interest,
  listenTcp,
  listenUnix,
  openSelector,
  type Selector,
  type TcpConn,
  type UnixConn,
} from "../mod.ts";

const USAGE = "Usage: deno run --allow-ffi --allow-run --allow-read examples/fd_handoff.ts " +
  "[--port 0] [--connections 0]";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    connections: { type: "string", default: "0" },
    child: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (Deno.build.os !== "linux") {
  console.error("fd_handoff.ts: passing fds between processes is Linux only");
  Deno.exit(1);
}

/** Waits until one of `selector`'s fds is ready; returns the events. */
async function ready<T>(selector: Selector<T>) {
  for (;;) {
    const events = await selector.wait();
    if (events.length > 0) return events;
  }
}

// ---------------------------------------------------------------------------
// The parent: accept, hand over, forget.

async function parent(port: number, connections: number): Promise<number> {
  const name = `evented-io-fd-handoff-${Deno.pid}`;
  using handoff = listenUnix({ path: `\0${name}` });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", new URL(import.meta.url).pathname, "--child", name],
    stdin: "null",
  }).spawn();
  using selector = openSelector<"handoff" | "tcp">();
  selector.register(handoff.fd, Interest.READABLE, { data: "handoff" });
  await ready(selector);
  using toChild = handoff.tryAccept()!; // the child, connected
  selector.unregister(handoff.fd);
  using listener = listenTcp({ port });
  console.log(`listening on ${listener.addr.hostname}:${listener.addr.port}`);
  console.log(`handing connections to pid ${child.pid}`);
  selector.register(listener.fd, Interest.READABLE, { data: "tcp" });
  const one = new Uint8Array([1]); // what each socket travels with
  let handed = 0;
  while (connections === 0 || handed < connections) {
    await ready(selector);
    for (let conn; (conn = listener.tryAccept()) !== null;) {
      using accepted = conn;
      // One byte and one fd; a full Unix socket (a slow child) is waited out.
      while (toChild.sendFds(one, [accepted.fd]) === 0) {
        selector.register(toChild.fd, Interest.WRITABLE, { data: "handoff" });
        await ready(selector);
        selector.unregister(toChild.fd);
      }
      handed++; // our copy closes here: the child's is the only one left
      if (handed === connections) break;
    }
  }
  selector.unregister(listener.fd);
  toChild.close(); // the child sees the end of the stream
  const { code } = await child.status;
  return code;
}

// ---------------------------------------------------------------------------
// The child: adopt what arrives, greet, echo.

/** A connection handed over, and the bytes it has yet to write back. */
interface Client {
  conn: TcpConn;
  pending: Uint8Array;
}

async function serve(name: string): Promise<number> {
  using fromParent: UnixConn = await connectUnix({ path: `\0${name}` });
  using selector = openSelector<Client | "parent">();
  selector.register(fromParent.fd, Interest.READABLE, { data: "parent" });
  const clients = new Set<Client>();
  const buffer = new Uint8Array(16 * 1024);
  const greeting = new TextEncoder().encode(`served by pid ${Deno.pid}\n`);
  let parentDone = false;
  const drop = (client: Client) => {
    selector.unregister(client.conn.fd);
    client.conn.close();
    clients.delete(client);
  };
  const flush = (client: Client) => {
    const n = client.conn.tryWrite(client.pending);
    client.pending = client.pending.subarray(n);
    const interest = client.pending.length > 0 ? Interest.WRITABLE : Interest.READABLE;
    selector.modify(client.conn.fd, interest);
  };
  while (!parentDone || clients.size > 0) {
    for (const event of await ready(selector)) {
      const data = event.data!;
      if (data === "parent") {
        for (let got; (got = fromParent.receiveFds(buffer, { maxFds: 16 })) !== null;) {
          for (const fd of got.fds) {
            const client = { conn: adoptSocket(fd) as TcpConn, pending: greeting };
            clients.add(client);
            selector.register(client.conn.fd, Interest.WRITABLE, { data: client });
          }
          if (got.truncated) console.error("child: more than 16 fds in one message; lost some");
          if (got.bytes === null) {
            parentDone = true;
            selector.unregister(fromParent.fd);
            break;
          }
        }
      } else if (data.pending.length > 0) {
        try {
          flush(data);
        } catch {
          drop(data); // a client that went away
        }
      } else {
        try {
          const n = data.conn.tryRead(buffer);
          if (n === null) drop(data);
          else if (n > 0) {
            data.pending = buffer.slice(0, n);
            flush(data);
          }
        } catch {
          drop(data);
        }
      }
    }
  }
  return 0;
}

const port = Number(values.port);
const connections = Number(values.connections);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  throw new RangeError(`--port must be an integer from 0 to 65535, got ${values.port}`);
}
if (!Number.isInteger(connections) || connections < 0) {
  throw new RangeError(`--connections must be a non-negative integer, got ${values.connections}`);
}
Deno.exit(values.child !== undefined ? await serve(values.child) : await parent(port, connections));
