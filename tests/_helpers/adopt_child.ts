// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The far side of fd_passing_test.ts's hand-off: connects to the abstract
 * name given, takes the one fd that comes, adopts it, accepts one
 * connection on it and tells that connection who accepted it.
 *
 *     deno run --allow-ffi tests/_adopt_child.ts <abstract name>
 */

import {
  adoptSocket,
  connectUnix,
  Interest,
  openSelector,
  type Selector,
  type TcpListener,
} from "../../mod.ts";

async function ready(selector: Selector, fd: number, interest: number): Promise<void> {
  selector.register(fd, interest);
  while ((await selector.wait({ timeout: 10_000 })).length === 0) {
    throw new Error(`fd ${fd} never became ready`);
  }
  selector.unregister(fd);
}

using selector = openSelector();
using parent = await connectUnix({ path: `\0${Deno.args[0]}` });
await ready(selector, parent.fd, Interest.READABLE);
const buffer = new Uint8Array(64);
const { bytes, fds, truncated } = parent.receiveFds(buffer, { maxFds: 1 })!;
if (bytes !== 8 || fds.length !== 1 || truncated) {
  throw new Error(`Expected 8 bytes and one fd, got ${bytes} bytes and ${fds.length} fds`);
}
const socket = adoptSocket(fds[0]);
const kind = "tryAccept" in socket && socket.addr.transport === "tcp" ? "TcpListener" : "other";
using listener = socket as TcpListener;
await ready(selector, listener.fd, Interest.READABLE);
using conn = listener.tryAccept()!;
const text = `accepted by pid ${Deno.pid}: ${kind} on port ${listener.addr.port}\n`;
conn.tryWrite(new TextEncoder().encode(text));
