// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A socket-activated child for systemd_test.ts: prints, as one JSON line,
 * what listenFds() gave (or threw) and the LISTEN_* variables left after
 * it; with `--serve`, each listener then accepts one connection and writes
 * its socket's name to it.
 *
 *     deno run --allow-ffi --allow-env tests/_listen_fds_child.ts [--serve]
 */

import {
  type AdoptedSocket,
  Interest,
  type ListenedSocket,
  listenFds,
  openSelector,
  type TcpListener,
  type UnixListener,
} from "../../mod.ts";

function kindOf(socket: AdoptedSocket): string {
  if ("tryAccept" in socket) {
    return socket.addr.transport === "tcp" ? "TcpListener" : "UnixListener";
  }
  if ("trySend" in socket) {
    return socket.addr.transport === "udp" ? "UdpSocket" : "UnixDatagramSocket";
  }
  return socket.remoteAddr.transport === "tcp" ? "TcpConn" : "UnixConn";
}

const report: Record<string, unknown> = { pid: Deno.pid };
let sockets: ListenedSocket[] = [];
try {
  sockets = listenFds();
  report.sockets = sockets.map(({ name, socket }) => ({
    name,
    fd: socket.fd,
    kind: kindOf(socket),
  }));
} catch (error) {
  const { name, message, code } = error as Error & { code?: string };
  report.error = { name: (error as Error).constructor.name, message, code: code ?? null };
  void name;
}
report.env = Object.fromEntries(
  ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"].map((name) => [name, Deno.env.get(name) ?? null]),
);
console.log(JSON.stringify(report));

if (Deno.args.includes("--serve")) {
  using selector = openSelector();
  for (const { name, socket } of sockets) {
    if (!("tryAccept" in socket)) continue;
    const listener = socket as TcpListener | UnixListener;
    selector.register(listener.fd, Interest.READABLE);
    if ((await selector.wait({ timeout: 10_000 })).length === 0) {
      throw new Error(`${name}: nobody came`);
    }
    selector.unregister(listener.fd);
    using conn = listener.tryAccept()!;
    conn.tryWrite(new TextEncoder().encode(`${name}\n`));
  }
}
for (const { socket } of sockets) socket.close();
