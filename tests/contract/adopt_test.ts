// Copyright 2026 the @evented/io authors. MIT license.
/**
 * adoptSocket() on sockets made behind the module's back (blocking,
 * inherited, by the test's own libc): each kind becomes the module's own
 * object, nonblocking and close-on-exec, which then owns the fd; what is
 * no socket, or a socket the module has no object for, is refused and left
 * as it was.
 */

import assert from "node:assert/strict";
import {
  adoptSocket,
  Interest,
  openSelector,
  type TcpConn,
  type TcpListener,
  type UdpSocket,
} from "../../mod.ts";
import type { UnixConn, UnixDatagramSocket, UnixListener } from "../../unix.ts";
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_UNIX,
  F_GETFD,
  F_GETFL,
  FD_CLOEXEC,
  O_NONBLOCK,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
} from "../../ffi/libc.ts";
import { encodeSockaddr, parseAddress } from "../../backends/shared/_address.ts";
import { parseUnixPath } from "../../net/_unix_address.ts";
import { assertNoNewFds, linuxTest, settledFds } from "../_helpers/mod.ts";

const TEST_LIBC = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  accept: { parameters: ["i32", "pointer", "pointer"], result: "i32" },
  pipe: { parameters: ["buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestLibc = Deno.DynamicLibrary<typeof TEST_LIBC>["symbols"];
const FAMILIES = { inet: AF_INET, inet6: AF_INET6 };
/** NETLINK_ROUTE: a netlink socket anyone may open. */
const NETLINK_ROUTE = 0;

function adoptTest(name: string, fn: (libc: TestLibc) => void | Promise<void>): void {
  linuxTest(name, async () => {
    const before = await settledFds();
    const library = Deno.dlopen("libc.so.6", TEST_LIBC);
    try {
      await fn(library.symbols);
    } finally {
      library.close();
    }
    assertNoNewFds(before);
  });
}

/** Waits (at most 5 s) until `fd` is readable: loopback TCP and UDP deliver a moment later. */
function readable(fd: number): void {
  using selector = openSelector();
  selector.register(fd, Interest.READABLE);
  assert.equal(selector.select(5_000).length, 1, `fd ${fd} never became readable`);
  selector.unregister(fd);
}

/** Whether `fd` is open. */
function isOpen(libc: TestLibc, fd: number): boolean {
  return libc.fcntl(fd, F_GETFD) >= 0;
}

/** The fd's [nonblocking, close-on-exec] flags. */
function flags(libc: TestLibc, fd: number): [boolean, boolean] {
  return [
    (libc.fcntl(fd, F_GETFL) & O_NONBLOCK) !== 0,
    (libc.fcntl(fd, F_GETFD) & FD_CLOEXEC) !== 0,
  ];
}

/** A blocking, inherited socket of the test's own making. */
function rawSocket(libc: TestLibc, domain: number, type: number, protocol = 0): number {
  const fd = libc.socket(domain, type, protocol);
  assert.ok(fd >= 0, "socket() failed");
  assert.deepEqual(flags(libc, fd), [false, false]);
  return fd;
}

adoptTest(
  "TCP: a listener, a connected client and an accepted server, over IPv4 and IPv6",
  (libc) => {
    for (const hostname of ["127.0.0.1", "::1"]) {
      const ipv6 = hostname === "::1";
      const family = ipv6 ? AF_INET6 : AF_INET;
      const listenFd = rawSocket(libc, family, SOCK_STREAM);
      const wildcard = encodeSockaddr(parseAddress("bind", hostname, 0), FAMILIES);
      assert.equal(libc.bind(listenFd, wildcard, wildcard.length), 0);
      assert.equal(libc.listen(listenFd, 4), 0);
      using listener = adoptSocket(listenFd) as TcpListener;
      assert.equal(listener.fd, listenFd);
      assert.deepEqual(flags(libc, listenFd), [true, true]);
      assert.equal(listener.addr.hostname, hostname);
      const port = listener.addr.port;
      assert.ok(port > 0);
      const clientFd = rawSocket(libc, family, SOCK_STREAM);
      const target = encodeSockaddr(parseAddress("connect", hostname, port), FAMILIES);
      assert.equal(libc.connect(clientFd, target, target.length), 0); // blocking: done at once
      using client = adoptSocket(clientFd) as TcpConn;
      assert.deepEqual(client.remoteAddr, { transport: "tcp", hostname, port });
      readable(listenFd);
      using server = listener.tryAccept()!;
      assert.equal(server.remoteAddr.port, client.localAddr.port);
      assert.equal(listener.tryAccept(), null); // nonblocking now: none waits, and it does not block
      assert.equal(client.tryWrite(new Uint8Array([1, 2, 3])), 3);
      readable(server.fd);
      assert.equal(server.tryRead(new Uint8Array(8)), 3);
      assert.equal(client.tryRead(new Uint8Array(8)), 0); // would block, not blocks
      client.setNoDelay();
      client.finishConnect(); // adopted connected: nothing to finish
    }
  },
);

adoptTest("UDP over IPv4 and IPv6, bound or not", (libc) => {
  for (const hostname of ["127.0.0.1", "::1"]) {
    const ipv6 = hostname === "::1";
    const fd = rawSocket(libc, ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM);
    const address = encodeSockaddr(parseAddress("bind", hostname, 0), FAMILIES);
    assert.equal(libc.bind(fd, address, address.length), 0);
    using socket = adoptSocket(fd) as UdpSocket;
    assert.equal(socket.addr.transport, "udp");
    assert.equal(socket.addr.hostname, hostname);
    assert.deepEqual(flags(libc, fd), [true, true]);
    assert.equal(socket.trySend(new Uint8Array([7]), socket.addr), 1);
    readable(fd);
    const [n, from] = socket.tryReceive(new Uint8Array(4))!;
    assert.equal(n, 1);
    assert.deepEqual(from, socket.addr);
    assert.equal(socket.tryReceive(new Uint8Array(4)), null);
  }
  using unbound = adoptSocket(rawSocket(libc, AF_INET, SOCK_DGRAM)) as UdpSocket;
  assert.deepEqual(unbound.addr, { transport: "udp", hostname: "0.0.0.0", port: 0 });
});

adoptTest(
  "Unix: a listener (whose file it leaves), its connections, and a datagram socket",
  async (libc) => {
    const dir = Deno.makeTempDirSync({ prefix: "evented-io-adopt-" });
    try {
      const path = `${dir}/adopted.sock`;
      const address = parseUnixPath("bind", path);
      const listenFd = rawSocket(libc, AF_UNIX, SOCK_STREAM);
      assert.equal(libc.bind(listenFd, address.sockaddr, address.sockaddr.length), 0);
      assert.equal(libc.listen(listenFd, 4), 0);
      const listener = adoptSocket(listenFd) as UnixListener;
      assert.deepEqual(listener.addr, { transport: "unix", path });
      const clientFd = rawSocket(libc, AF_UNIX, SOCK_STREAM);
      assert.equal(libc.connect(clientFd, address.sockaddr, address.sockaddr.length), 0);
      using client = adoptSocket(clientFd) as UnixConn;
      assert.deepEqual(client.remoteAddr, { transport: "unix", path });
      assert.deepEqual(client.localAddr, { transport: "unix", path: "" });
      using server = listener.tryAccept()!;
      assert.equal(client.tryWrite(new Uint8Array([5])), 1);
      assert.equal(server.tryRead(new Uint8Array(2)), 1);
      listener.close();
      assert.ok(Deno.lstatSync(path).isSocket, "an adopted listener removed a file not its own");
      const datagramFd = rawSocket(libc, AF_UNIX, SOCK_DGRAM);
      using datagram = adoptSocket(datagramFd) as UnixDatagramSocket;
      assert.deepEqual(datagram.addr, { transport: "unixpacket", path: "" });
      assert.deepEqual(flags(libc, datagramFd), [true, true]);
      // A socketpair's ends are connected Unix sockets with no names.
      const pair = new Int32Array(2);
      assert.equal(libc.socketpair(AF_UNIX, SOCK_STREAM, 0, new Uint8Array(pair.buffer)), 0);
      using first = adoptSocket(pair[0]) as UnixConn;
      using second = adoptSocket(pair[1]) as UnixConn;
      assert.deepEqual([first.localAddr.path, first.remoteAddr.path], ["", ""]);
      await first.closeWrite();
      assert.equal(second.tryRead(new Uint8Array(1)), null);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

adoptTest("the adopted object owns the fd: its close() closes it", (libc) => {
  const fd = rawSocket(libc, AF_UNIX, SOCK_DGRAM);
  const socket = adoptSocket(fd);
  assert.ok(isOpen(libc, fd));
  socket.close();
  assert.equal(isOpen(libc, fd), false);
  assert.equal(socket.fd, -1);
});

adoptTest(
  "an fd that is no socket is a TypeError with code ENOTSOCK, and stays as it was",
  (libc) => {
    const fds = new Int32Array(2);
    assert.equal(libc.pipe(new Uint8Array(fds.buffer)), 0);
    try {
      for (const fd of fds) {
        assert.throws(() => adoptSocket(fd), (error: Error & { code?: string; errno?: number }) => {
          assert.equal(error.constructor, TypeError);
          assert.equal(error.code, "ENOTSOCK");
          assert.equal(error.errno, 88);
          assert.equal(
            error.message,
            `Cannot adopt fd ${fd}: it is not a socket: ENOTSOCK (os error 88)`,
          );
          return true;
        });
        assert.deepEqual(flags(libc, fd), [false, false]);
      }
    } finally {
      for (const fd of fds) libc.close(fd);
    }
  },
);

adoptTest(
  "sockets the module has no object for are NotSupported, and stay as they were",
  (libc) => {
    const pair = new Int32Array(2);
    assert.equal(libc.socketpair(AF_UNIX, SOCK_SEQPACKET, 0, new Uint8Array(pair.buffer)), 0);
    const netlink = rawSocket(libc, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    try {
      for (
        const [fd, what] of [[pair[0], /AF_UNIX socket of type SOCK_SEQPACKET/], [
          netlink,
          /AF_NETLINK socket of type SOCK_RAW/,
        ]] as const
      ) {
        assert.throws(() => adoptSocket(fd), (error: Error) => {
          assert.ok(error instanceof Deno.errors.NotSupported, String(error));
          assert.match(error.message, what);
          return true;
        });
        assert.deepEqual(flags(libc, fd), [false, false]);
        assert.ok(isOpen(libc, fd));
      }
    } finally {
      for (const fd of [...pair, netlink]) libc.close(fd);
    }
  },
);

adoptTest(
  "a stream socket neither listening nor connected is NotConnected, and stays as it was",
  (libc) => {
    for (const family of [AF_INET, AF_UNIX]) {
      const fd = rawSocket(libc, family, SOCK_STREAM);
      try {
        assert.throws(() => adoptSocket(fd), (error: Error & { code?: string }) => {
          assert.ok(error instanceof Deno.errors.NotConnected, String(error));
          assert.equal(error.code, "ENOTCONN");
          return true;
        });
        assert.deepEqual(flags(libc, fd), [false, false]);
      } finally {
        libc.close(fd);
      }
    }
  },
);

adoptTest("a closed fd is BadResource, a bad number a TypeError", (libc) => {
  const fd = rawSocket(libc, AF_UNIX, SOCK_DGRAM);
  libc.close(fd);
  assert.throws(() => adoptSocket(fd), Deno.errors.BadResource);
  for (const bad of [-1, 1.5, "3", 2 ** 31]) {
    assert.throws(() => adoptSocket(bad as number), TypeError);
  }
});
