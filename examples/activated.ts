// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A socket-activated service: it listens on the sockets systemd (or any
 * launcher that follows its protocol) passed it, tells the manager it is
 * ready, greets each client with its own name and echoes what it sends.
 * Linux only.
 *
 *     systemd-socket-activate -l 127.0.0.1:8080 --fdname=echo \
 *       deno run --allow-ffi --allow-env examples/activated.ts [--connections 0]
 *
 * then `nc 127.0.0.1 8080`: the first connection starts it, and it greets
 * with `hello from pid 4321 on echo`. As a systemd unit, with
 * `ListenStream=8080` in a `.socket` and `Type=notify` in the `.service`,
 * it is started on the first connection and reported ready once it has
 * taken its sockets. It serves every socket it was given, listeners
 * (`Accept=no`) and connections (`Accept=yes`, `systemd-socket-activate
 * --accept`) alike. `--connections N` stops after N connections have
 * ended (0, the default: never).
 *
 * Run without a launcher, it says so and exits with status 2.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type AdoptedSocket,
  Interest,
  listenFds,
  notify,
  openSelector,
  type TcpConn,
  type TcpListener,
  type UnixConn,
  type UnixListener,
} from "../mod.ts";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "0" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: systemd-socket-activate -l 127.0.0.1:8080 --fdname=echo " +
      "deno run --allow-ffi --allow-env examples/activated.ts [--connections 0]",
  );
  Deno.exit(0);
}
const connections = Number(values.connections);
if (!Number.isInteger(connections) || connections < 0) {
  throw new RangeError(`--connections must be a non-negative integer, got ${values.connections}`);
}

type Listener = TcpListener | UnixListener;
type Conn = TcpConn | UnixConn;
/** What a registration is: a listener and its socket's name, or a client. */
type Entry =
  | { listener: Listener; name: string }
  | { conn: Conn; pending: Uint8Array };

function isListener(socket: AdoptedSocket): socket is Listener {
  return "tryAccept" in socket;
}
function isConn(socket: AdoptedSocket): socket is Conn {
  return "tryRead" in socket;
}

const sockets = listenFds();
if (sockets.length === 0) {
  console.error(
    "activated.ts: no sockets were passed (LISTEN_FDS); run it under systemd-socket-activate " +
      "or a systemd .socket unit",
  );
  Deno.exit(2);
}

using selector = openSelector<Entry>();
const encoder = new TextEncoder();
const buffer = new Uint8Array(16 * 1024);
let clients = 0;
let ended = 0;

/** Starts serving a connection: the greeting first. */
function welcome(conn: Conn, name: string): void {
  clients++;
  const pending = encoder.encode(`hello from pid ${Deno.pid} on ${name}\n`);
  selector.register(conn.fd, Interest.WRITABLE, { data: { conn, pending } });
}

function drop(entry: { conn: Conn }): void {
  selector.unregister(entry.conn.fd);
  entry.conn.close();
  ended++;
}

for (const { name, socket } of sockets) {
  console.log(`activated: ${name} on fd ${socket.fd}`);
  if (isListener(socket)) {
    selector.register(socket.fd, Interest.READABLE, { data: { listener: socket, name } });
  } else if (isConn(socket)) {
    welcome(socket, name);
  } else {
    console.error(`activated.ts: ${name} is a datagram socket; not served`);
    socket.close();
  }
}
notify(`READY=1\nSTATUS=serving ${sockets.length} socket(s)`); // false outside systemd

while (connections === 0 || ended < connections) {
  for (const event of await selector.wait()) {
    const entry = event.data!;
    if ("listener" in entry) {
      for (let conn; (conn = entry.listener.tryAccept()) !== null;) welcome(conn, entry.name);
      continue;
    }
    try {
      if (entry.pending.length === 0) {
        const n = entry.conn.tryRead(buffer);
        if (n === null) {
          drop(entry);
          continue;
        }
        entry.pending = buffer.slice(0, n);
      }
      entry.pending = entry.pending.subarray(entry.conn.tryWrite(entry.pending));
      selector.modify(
        entry.conn.fd,
        entry.pending.length > 0 ? Interest.WRITABLE : Interest.READABLE,
      );
    } catch {
      drop(entry); // a client that went away
    }
  }
}
notify("STOPPING=1");
for (const { socket } of sockets) {
  if (socket.fd >= 0 && selector.getKey(socket.fd) !== undefined) selector.unregister(socket.fd);
  socket.close();
}
console.log(`done after ${clients} connection(s)`);
