// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The socket options: UDP `reusePort`, broadcast (to the loopback's own
 * broadcast address, 127.255.255.255, and nowhere else), TTLs, multicast
 * loopback and membership (on the loopback interface only: nothing is sent
 * to a group), and TCP keepalive, each read back from the kernel with
 * getsockopt. Linux, and the same options under Wine for Windows.
 */

import assert from "node:assert/strict";
import {
  bindUdp,
  Interest,
  listenTcp,
  openSelector,
  startConnectTcp,
  type TcpConn,
} from "../../mod.ts";
import * as linux from "../../ffi/libc.ts";
import * as windows from "../../ffi/ws2_32.ts";
import { assertNoNewFds, linuxTest, settledFds, windowsTest } from "../_helpers/mod.ts";

const LINUX_LIBC = {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** An int socket option as the kernel has it (Linux). */
function linuxOption(fd: number, level: number, name: number): number {
  const library = Deno.dlopen("libc.so.6", LINUX_LIBC);
  try {
    const value = new Int32Array(1);
    const length = new Uint32Array([4]);
    assert.equal(library.symbols.getsockopt(fd, level, name, value, length), 0, "getsockopt");
    return value[0];
  } finally {
    library.close();
  }
}

/** The loopback interface's index. */
function loopbackIndex(): number {
  const library = Deno.dlopen("libc.so.6", LINUX_LIBC);
  try {
    return library.symbols.if_nametoindex(new TextEncoder().encode("lo\0"));
  } finally {
    library.close();
  }
}

function optionTest(name: string, fn: () => void | Promise<void>): void {
  linuxTest(name, async () => {
    const before = await settledFds();
    await fn();
    assertNoNewFds(before);
  });
}

/** A connected TCP pair on loopback. */
function tcpPair(): [TcpConn, TcpConn] & Disposable {
  using listener = listenTcp({ port: 0 });
  const client = startConnectTcp({ port: listener.addr.port });
  using selector = openSelector();
  selector.register(listener.fd, Interest.READABLE);
  selector.select(5_000);
  selector.unregister(listener.fd);
  const server = listener.tryAccept()!;
  return Object.assign([client, server] as [TcpConn, TcpConn], {
    [Symbol.dispose]: () => {
      client.close();
      server.close();
    },
  });
}

optionTest(
  "two UDP sockets with reusePort share a port; without it the second is AddrInUse",
  () => {
    using first = bindUdp({ port: 0, reusePort: true });
    const { port } = first.addr;
    assert.equal(linuxOption(first.fd, linux.SOL_SOCKET, linux.SO_REUSEPORT), 1);
    using second = bindUdp({ port, reusePort: true });
    assert.equal(second.addr.port, port);
    assert.throws(() => bindUdp({ port }), Deno.errors.AddrInUse);
    using sender = bindUdp({ port: 0 });
    // The kernel spreads datagrams by the sender's address: one of the two gets each.
    assert.equal(sender.trySend(new Uint8Array([1]), { port }), 1);
    using selector = openSelector();
    selector.register(first.fd, Interest.READABLE);
    selector.register(second.fd, Interest.READABLE);
    assert.equal(selector.select(5_000).length, 1);
    selector.unregister(first.fd);
    selector.unregister(second.fd);
    const buffer = new Uint8Array(4);
    const got = [first.tryReceive(buffer), second.tryReceive(buffer)].filter((r) => r !== null);
    assert.equal(got.length, 1);
    assert.throws(() => bindUdp({ port: 0, reusePort: "yes" as unknown as boolean }), TypeError);
  },
);

optionTest(
  "a send to 127.255.255.255 is PermissionDenied before setBroadcast(true), arrives after",
  () => {
    // Bound to the loopback's broadcast address, the receiver gets what is broadcast there.
    using receiver = bindUdp({ hostname: "127.255.255.255", port: 0 });
    using sender = bindUdp({ hostname: "127.0.0.1", port: 0 });
    const target = { hostname: "127.255.255.255", port: receiver.addr.port };
    const data = new TextEncoder().encode("to all of loopback");
    assert.throws(() => sender.trySend(data, target), (error: Error & { code?: string }) => {
      assert.ok(error instanceof Deno.errors.PermissionDenied, String(error));
      assert.equal(error.code, "EACCES");
      return true;
    });
    assert.equal(linuxOption(sender.fd, linux.SOL_SOCKET, linux.SO_BROADCAST), 0);
    sender.setBroadcast(true);
    assert.equal(linuxOption(sender.fd, linux.SOL_SOCKET, linux.SO_BROADCAST), 1);
    assert.equal(sender.trySend(data, target), data.length);
    using selector = openSelector();
    selector.register(receiver.fd, Interest.READABLE);
    assert.equal(selector.select(5_000).length, 1);
    selector.unregister(receiver.fd);
    const buffer = new Uint8Array(64);
    const [n, from] = receiver.tryReceive(buffer)!;
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n)), "to all of loopback");
    assert.deepEqual(from, sender.addr);
    sender.setBroadcast(false);
    assert.throws(() => sender.trySend(data, target), Deno.errors.PermissionDenied);
    assert.throws(() => sender.setBroadcast("on" as unknown as boolean), TypeError);
  },
);

optionTest("TTLs and multicast loopback are set at the socket's own IP level", () => {
  using v4 = bindUdp({ port: 0 });
  using v6 = bindUdp({ hostname: "::1", port: 0 });
  v4.setTtl(7);
  v4.setMulticastTtl(0);
  v4.setMulticastLoopback(false);
  assert.equal(linuxOption(v4.fd, linux.IPPROTO_IP, linux.IP_TTL), 7);
  assert.equal(linuxOption(v4.fd, linux.IPPROTO_IP, linux.IP_MULTICAST_TTL), 0);
  assert.equal(linuxOption(v4.fd, linux.IPPROTO_IP, linux.IP_MULTICAST_LOOP), 0);
  v4.setMulticastLoopback();
  assert.equal(linuxOption(v4.fd, linux.IPPROTO_IP, linux.IP_MULTICAST_LOOP), 1);
  v6.setTtl(255);
  v6.setMulticastTtl(3);
  v6.setMulticastLoopback(false);
  assert.equal(linuxOption(v6.fd, linux.IPPROTO_IPV6, linux.IPV6_UNICAST_HOPS), 255);
  assert.equal(linuxOption(v6.fd, linux.IPPROTO_IPV6, linux.IPV6_MULTICAST_HOPS), 3);
  assert.equal(linuxOption(v6.fd, linux.IPPROTO_IPV6, linux.IPV6_MULTICAST_LOOP), 0);
  for (const bad of [0, 256, 1.5, "8"]) assert.throws(() => v4.setTtl(bad as number), RangeError);
  for (const bad of [-1, 256]) assert.throws(() => v6.setMulticastTtl(bad), RangeError);
  assert.throws(() => v4.setMulticastLoopback(1 as unknown as boolean), TypeError);
});

optionTest("multicast groups are joined and left on the loopback interface, IPv4 and IPv6", () => {
  using v4 = bindUdp({ hostname: "0.0.0.0", port: 0 });
  const group = "239.255.42.99";
  v4.joinMulticast(group, { interface: "127.0.0.1" });
  assert.throws(
    () => v4.joinMulticast(group, { interface: "127.0.0.1" }),
    Deno.errors.AddrInUse, // joined already
  );
  v4.leaveMulticast(group, { interface: "127.0.0.1" });
  assert.throws(
    () => v4.leaveMulticast(group, { interface: "127.0.0.1" }),
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof Deno.errors.AddrNotAvailable, String(error));
      assert.match(error.message, /^Cannot leave multicast group 239\.255\.42\.99 on 127\.0\.0\.1/);
      return true;
    },
  );
  using v6 = bindUdp({ hostname: "::", port: 0 });
  const lo = loopbackIndex();
  assert.ok(lo > 0);
  v6.joinMulticast("ff02::1:42", { interface: lo });
  v6.leaveMulticast("ff02::1:42", { interface: lo });
  assert.throws(
    () => v6.leaveMulticast("ff02::1:42", { interface: lo }),
    Deno.errors.AddrNotAvailable,
  );
  // Not multicast addresses, or interfaces of the wrong kind: before any syscall.
  for (
    const call of [
      () => v4.joinMulticast("127.0.0.1"),
      () => v4.joinMulticast("ff02::1", { interface: "127.0.0.1" }),
      () => v4.joinMulticast(group, { interface: 1 }),
      () => v4.joinMulticast(group, { interface: "::1" }),
      () => v4.joinMulticast(group, null as unknown as { interface: string }),
      () => v6.joinMulticast("fe80::1", { interface: lo }),
      () => v6.joinMulticast("not an address"),
      () => v4.joinMulticast(7 as unknown as string),
    ]
  ) {
    assert.throws(call, TypeError);
  }
  assert.throws(() => v6.joinMulticast("ff02::1", { interface: -1 }), RangeError);
});

optionTest("TCP keepalive is turned on with its timings and off again", () => {
  using pair = tcpPair();
  const [client] = pair;
  client.setKeepAlive(true, { idleSeconds: 30, intervalSeconds: 5, count: 3 });
  assert.equal(linuxOption(client.fd, linux.SOL_SOCKET, linux.SO_KEEPALIVE), 1);
  assert.equal(linuxOption(client.fd, linux.IPPROTO_TCP, linux.TCP_KEEPIDLE), 30);
  assert.equal(linuxOption(client.fd, linux.IPPROTO_TCP, linux.TCP_KEEPINTVL), 5);
  assert.equal(linuxOption(client.fd, linux.IPPROTO_TCP, linux.TCP_KEEPCNT), 3);
  client.setKeepAlive(false);
  assert.equal(linuxOption(client.fd, linux.SOL_SOCKET, linux.SO_KEEPALIVE), 0);
  client.setKeepAlive(); // on, timings kept
  assert.equal(linuxOption(client.fd, linux.SOL_SOCKET, linux.SO_KEEPALIVE), 1);
  assert.equal(linuxOption(client.fd, linux.IPPROTO_TCP, linux.TCP_KEEPIDLE), 30);
  for (
    const options of [{ idleSeconds: 0 }, { intervalSeconds: 32768 }, { count: 128 }, {
      count: 1.5,
    }]
  ) {
    assert.throws(() => client.setKeepAlive(true, options), RangeError);
  }
  assert.throws(() => client.setKeepAlive(false, { count: 3 }), TypeError);
  assert.throws(() => client.setKeepAlive("on" as unknown as boolean), TypeError);
  assert.throws(() => client.setKeepAlive(true, 5 as unknown as { count: number }), TypeError);
  client.close();
  assert.throws(() => client.setKeepAlive(), Deno.errors.BadResource);
});

optionTest("closed UDP sockets refuse their options with BadResource", () => {
  const socket = bindUdp({ port: 0 });
  socket.close();
  for (
    const call of [
      () => socket.setBroadcast(),
      () => socket.setTtl(1),
      () => socket.setMulticastTtl(1),
      () => socket.setMulticastLoopback(),
      () => socket.joinMulticast("239.1.1.1"),
      () => socket.leaveMulticast("239.1.1.1"),
    ]
  ) {
    assert.throws(call, Deno.errors.BadResource);
  }
});

// ---------------------------------------------------------------------------
// Windows (under Wine): the same options, read back through Winsock

const WINSOCK = {
  getsockopt: { parameters: ["pointer", "i32", "i32", "buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function winsockOption(socket: number, level: number, name: number): number {
  const library = Deno.dlopen("ws2_32.dll", WINSOCK);
  try {
    const value = new Int32Array(1);
    const length = new Int32Array([4]);
    const handle = Deno.UnsafePointer.create(BigInt(socket));
    assert.equal(library.symbols.getsockopt(handle, level, name, value, length), 0, "getsockopt");
    return value[0];
  } finally {
    library.close();
  }
}

windowsTest(
  "socket options",
  30_000,
  "UDP broadcast, TTLs and multicast loopback read back",
  () => {
    using v4 = bindUdp({ port: 0 });
    v4.setBroadcast(true);
    v4.setTtl(9);
    v4.setMulticastTtl(4);
    v4.setMulticastLoopback(false);
    assert.equal(winsockOption(v4.fd, windows.SOL_SOCKET, windows.SO_BROADCAST), 1);
    assert.equal(winsockOption(v4.fd, windows.IPPROTO_IP, windows.IP_TTL), 9);
    assert.equal(winsockOption(v4.fd, windows.IPPROTO_IP, windows.IP_MULTICAST_TTL), 4);
    assert.equal(winsockOption(v4.fd, windows.IPPROTO_IP, windows.IP_MULTICAST_LOOP), 0);
    v4.setBroadcast(false);
    assert.equal(winsockOption(v4.fd, windows.SOL_SOCKET, windows.SO_BROADCAST), 0);
    using v6 = bindUdp({ hostname: "::1", port: 0 });
    v6.setTtl(200);
    v6.setMulticastLoopback(true);
    assert.equal(winsockOption(v6.fd, windows.IPPROTO_IPV6, windows.IPV6_UNICAST_HOPS), 200);
    assert.equal(winsockOption(v6.fd, windows.IPPROTO_IPV6, windows.IPV6_MULTICAST_LOOP), 1);
    assert.throws(() => bindUdp({ port: 0, reusePort: true }), Deno.errors.NotSupported);
  },
);

windowsTest("socket options", 30_000, "a multicast group is joined and left", () => {
  using socket = bindUdp({ hostname: "0.0.0.0", port: 0 });
  socket.joinMulticast("239.255.42.98", { interface: "127.0.0.1" });
  socket.leaveMulticast("239.255.42.98", { interface: "127.0.0.1" });
  assert.throws(() => socket.joinMulticast("10.0.0.1"), TypeError);
});

windowsTest("socket options", 30_000, "TCP keepalive is turned on with its timings", async () => {
  using listener = listenTcp({ port: 0 });
  using client = startConnectTcp({ port: listener.addr.port });
  using selector = openSelector();
  selector.register(client.fd, Interest.WRITABLE);
  await selector.wait({ timeout: 5_000 });
  selector.unregister(client.fd);
  client.finishConnect();
  client.setKeepAlive(true, { idleSeconds: 30, intervalSeconds: 5, count: 3 });
  assert.equal(winsockOption(client.fd, windows.SOL_SOCKET, windows.SO_KEEPALIVE), 1);
  client.setKeepAlive(false);
  assert.equal(winsockOption(client.fd, windows.SOL_SOCKET, windows.SO_KEEPALIVE), 0);
});
