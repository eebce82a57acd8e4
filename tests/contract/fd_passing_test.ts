// Copyright 2026 the @evented/io authors. MIT license.
/**
 * fds across Unix sockets (sendFds/receiveFds): a pipe's write end used on
 * the far side, several fds in one message, a truncated control buffer
 * that leaks nothing (the pipe proves no copy survives), messages never
 * merged, a partial send whose fds went with its first bytes, bad input;
 * and a listening TCP socket handed from this process to another `deno`,
 * which adopts it and accepts a connection from this one. Every fd
 * counted before and after.
 */

import assert from "node:assert/strict";
import {
  adoptSocket,
  Interest,
  listenTcp,
  listenUnix,
  openPipe,
  openSelector,
  type Selector,
  startConnectTcp,
  type UnixConn,
} from "../../mod.ts";
import { AF_UNIX, F_GETFD, FD_CLOEXEC, SOCK_STREAM } from "../../ffi/libc.ts";
import { assertNoNewFds, emulatorHere, linuxTest, pattern, settledFds } from "../_helpers/mod.ts";

const TEST_LIBC = {
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestLibc = Deno.DynamicLibrary<typeof TEST_LIBC>["symbols"];

/**
 * A Linux test with the test's own libc, that must leave no new fd open;
 * ignored, with `unsupported` in its name, where that reason holds.
 */
function fdTest(
  name: string,
  fn: (libc: TestLibc) => void | Promise<void>,
  unsupported?: string | null,
): void {
  const test = unsupported ? Deno.test.ignore : linuxTest;
  test(unsupported ? `${name} [${unsupported}]` : name, async () => {
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

/**
 * A socketpair made behind the module's back (blocking, inherited), adopted
 * by it at both ends: UnixConns, nonblocking and close-on-exec from then on.
 */
function socketPair(libc: TestLibc): [UnixConn, UnixConn] & Disposable {
  const fds = new Int32Array(2);
  assert.equal(libc.socketpair(AF_UNIX, SOCK_STREAM, 0, new Uint8Array(fds.buffer)), 0);
  const pair = [adoptSocket(fds[0]) as UnixConn, adoptSocket(fds[1]) as UnixConn] as const;
  return Object.assign([...pair] as [UnixConn, UnixConn], {
    [Symbol.dispose]: () => pair.forEach((conn) => conn.close()),
  });
}

function write(libc: TestLibc, fd: number, bytes: Uint8Array): number {
  return Number(libc.write(fd, bytes, BigInt(bytes.length)));
}

fdTest("a pipe's write end passed across a socketpair is written on the other side", (libc) => {
  using pair = socketPair(libc);
  const [a, b] = pair;
  using pipe = openPipe();
  assert.equal(a.sendFds(new TextEncoder().encode("pipe"), [pipe.writer.fd]), 4);
  pipe.writer.close(); // the copy in flight keeps the write end open
  const buffer = new Uint8Array(16);
  const got = b.receiveFds(buffer);
  assert.ok(got !== null);
  assert.equal(got.bytes, 4);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, 4)), "pipe");
  assert.equal(got.truncated, false);
  assert.equal(got.fds.length, 1);
  const [writer] = got.fds;
  assert.ok(libc.fcntl(writer, F_GETFD) & FD_CLOEXEC, "a received fd is inherited");
  assert.equal(write(libc, writer, new TextEncoder().encode("through")), 7);
  assert.equal(pipe.reader.tryRead(buffer), 7);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, 7)), "through");
  assert.equal(libc.close(writer), 0);
  assert.equal(pipe.reader.tryRead(buffer), null); // the last write end is gone
  assert.equal(b.receiveFds(buffer), null); // nothing more: it would block
});

fdTest("two fds in one message arrive together, in order, with their bytes", (libc) => {
  using pair = socketPair(libc);
  const [a, b] = pair;
  using first = openPipe();
  using second = openPipe();
  assert.equal(a.sendFds(new Uint8Array([9, 8, 7]), [first.writer.fd, second.writer.fd]), 3);
  const buffer = new Uint8Array(8);
  const got = b.receiveFds(buffer, { maxFds: 2 })!;
  assert.deepEqual({ bytes: got.bytes, count: got.fds.length, truncated: got.truncated }, {
    bytes: 3,
    count: 2,
    truncated: false,
  });
  assert.deepEqual(buffer.subarray(0, 3), new Uint8Array([9, 8, 7]));
  assert.equal(write(libc, got.fds[0], new Uint8Array([1])), 1);
  assert.equal(write(libc, got.fds[1], new Uint8Array([2, 2])), 2);
  assert.equal(first.reader.tryRead(buffer), 1);
  assert.equal(second.reader.tryRead(buffer), 2);
  for (const fd of got.fds) libc.close(fd);
});

fdTest("a truncated control buffer returns the fds that fit and leaks none of the rest", (libc) => {
  using pair = socketPair(libc);
  const [a, b] = pair;
  using pipe = openPipe();
  const writer = pipe.writer.fd;
  // Three copies of the write end in one message, one in the next; take one of each.
  assert.equal(a.sendFds(new Uint8Array([1]), [writer, writer, writer]), 1);
  assert.equal(a.sendFds(new Uint8Array([2]), [writer]), 1);
  pipe.writer.close();
  const buffer = new Uint8Array(8);
  const got = b.receiveFds(buffer, { maxFds: 1 })!;
  assert.equal(got.bytes, 1);
  assert.equal(got.fds.length, 1);
  assert.equal(got.truncated, true);
  const none = b.receiveFds(buffer, { maxFds: 0 })!; // no room at all: the fd is closed
  assert.deepEqual(none, { bytes: 1, fds: [], truncated: true });
  assert.equal(buffer[0], 2);
  libc.close(got.fds[0]);
  // Had the kernel kept any copy of the write end, the pipe would not end.
  assert.equal(pipe.reader.tryRead(buffer), null);
}, emulatorHere() && `${emulatorHere()} hides recvmsg's MSG_CTRUNC and keeps the fds cut off`);

fdTest(
  "a receive ends with the bytes that carried fds: two messages' fds never come at once",
  (libc) => {
    using pair = socketPair(libc);
    const [a, b] = pair;
    using pipe = openPipe();
    assert.equal(a.sendFds(new Uint8Array([1, 1]), [pipe.writer.fd]), 2);
    assert.equal(a.sendFds(new Uint8Array([2]), [pipe.reader.fd]), 1);
    assert.equal(a.tryWrite(new Uint8Array([3])), 1);
    assert.equal(a.sendFds(new Uint8Array([4, 4]), [pipe.writer.fd]), 2);
    assert.equal(a.tryWrite(new Uint8Array([5])), 1);
    const buffer = new Uint8Array(64);
    const received: [number[], number][] = [];
    for (let got; (got = b.receiveFds(buffer)) !== null;) {
      received.push([[...buffer.subarray(0, got.bytes!)], got.fds.length]);
      for (const fd of got.fds) libc.close(fd);
    }
    // Bytes without fds before a message may come with it; the message ends the receive.
    assert.deepEqual(received, [[[1, 1], 1], [[2], 1], [[3, 4, 4], 1], [[5], 0]]);
  },
);

fdTest(
  "a partial send returns the bytes taken, and its fds went with the first of them",
  (libc) => {
    using pair = socketPair(libc);
    const [a, b] = pair;
    using pipe = openPipe();
    const payload = pattern(4 << 20, 11);
    const taken = a.sendFds(payload, [pipe.writer.fd]);
    assert.ok(taken > 0 && taken < payload.length, `sendFds took ${taken} of ${payload.length}`);
    // The rest is written as usual, as the reader makes room.
    const got = new Uint8Array(payload.length);
    let sent = taken;
    let received = 0;
    const fds: number[] = [];
    const deadline = performance.now() + 10_000;
    while (received < payload.length) {
      if (performance.now() > deadline) throw new Error(`only ${received} bytes came`);
      if (sent < payload.length) sent += a.tryWrite(payload.subarray(sent));
      const r = b.receiveFds(got.subarray(received));
      if (r === null) continue;
      assert.ok(r.bytes !== null);
      if (r.fds.length > 0) assert.equal(received, 0, "the fds came after the first bytes");
      fds.push(...r.fds);
      received += r.bytes;
    }
    assert.deepEqual(got, payload);
    assert.equal(fds.length, 1);
    libc.close(fds[0]);
  },
);

fdTest("at the end of the stream receiveFds() reports bytes: null", (libc) => {
  using pair = socketPair(libc);
  const [a, b] = pair;
  a.shutdown("write");
  assert.deepEqual(b.receiveFds(new Uint8Array(4)), { bytes: null, fds: [], truncated: false });
});

fdTest(
  "bad arguments are TypeError or RangeError before any syscall; a closed fd EBADF",
  (libc) => {
    using pair = socketPair(libc);
    const [a, b] = pair;
    const one = new Uint8Array([1]);
    assert.throws(() => a.sendFds(new Uint8Array(0), [0]), TypeError); // fds travel with bytes
    assert.throws(() => a.sendFds([1] as unknown as Uint8Array, [0]), TypeError);
    assert.throws(() => a.sendFds(one, 0 as unknown as number[]), TypeError);
    assert.throws(() => a.sendFds(one, [-1]), TypeError);
    assert.throws(() => a.sendFds(one, [1.5]), TypeError);
    assert.throws(() => a.sendFds(one, new Array(254).fill(0)), RangeError);
    assert.throws(() => b.receiveFds(new Uint8Array(0)), TypeError);
    assert.throws(() => b.receiveFds(one, { maxFds: 254 }), RangeError);
    assert.throws(() => b.receiveFds(one, { maxFds: -1 }), RangeError);
    assert.throws(() => b.receiveFds(one, null as unknown as { maxFds: number }), TypeError);
    assert.equal(b.receiveFds(one), null, "a refused call sent something");
    // An fd that is not open: the kernel refuses the whole message.
    const pipe = openPipe();
    const closed = pipe.reader.fd;
    pipe.close();
    assert.throws(() => b.sendFds(one, [closed]), (error: Error & { code?: string }) => {
      assert.ok(error instanceof Deno.errors.BadResource, String(error));
      assert.equal(error.code, "EBADF");
      assert.match(error.message, /^Cannot send 1 fds \(\d+\) over fd \d+: EBADF \(os error 9\)$/);
      return true;
    });
    assert.equal(a.receiveFds(one), null);
  },
);

fdTest("253 fds (SCM_MAX_FD) go in one message", (libc) => {
  using pair = socketPair(libc);
  const [a, b] = pair;
  using pipe = openPipe();
  const fds = new Array(253).fill(pipe.writer.fd);
  assert.equal(a.sendFds(new Uint8Array([1]), fds), 1);
  pipe.writer.close();
  const got = b.receiveFds(new Uint8Array(1))!; // maxFds defaults to 253
  assert.equal(got.fds.length, 253);
  assert.equal(got.truncated, false);
  for (const fd of got.fds) libc.close(fd);
  assert.equal(pipe.reader.tryRead(new Uint8Array(1)), null);
});

// ---------------------------------------------------------------------------
// Across processes

/** Waits (at most 10 s, without blocking the event loop) until `fd` is ready for `interest`. */
async function ready(selector: Selector, fd: number, interest: number): Promise<void> {
  selector.register(fd, interest);
  try {
    const deadline = performance.now() + 10_000;
    while ((await selector.wait({ timeout: 100 })).length === 0) {
      if (performance.now() > deadline) throw new Error(`fd ${fd} never became ready`);
    }
  } finally {
    selector.unregister(fd);
  }
}

const CHILD = new URL("../_helpers/adopt_child.ts", import.meta.url).pathname;

linuxTest(
  "a listening TCP socket handed to another deno is adopted there and accepts from here",
  async () => {
    const before = await settledFds();
    await handOff();
    assertNoNewFds(before);
  },
);

async function handOff(): Promise<void> {
  const name = `evented-io-test-handoff-${crypto.randomUUID()}`;
  using selector = openSelector();
  using handoff = listenUnix({ path: `\0${name}` });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", CHILD, name],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    await ready(selector, handoff.fd, Interest.READABLE);
    using toChild = handoff.tryAccept()!;
    using tcp = listenTcp({ port: 0 });
    const port = tcp.addr.port;
    assert.equal(toChild.sendFds(new TextEncoder().encode("listener"), [tcp.fd]), 8);
    tcp.close(); // the child holds the only copy now
    using client = startConnectTcp({ port });
    await ready(selector, client.fd, Interest.WRITABLE);
    client.finishConnect();
    const buffer = new Uint8Array(64);
    let text = "";
    const deadline = performance.now() + 10_000;
    for (let n; (n = client.tryRead(buffer)) !== null;) {
      if (n === 0) {
        if (performance.now() > deadline) throw new Error(`only "${text}" came`);
        await ready(selector, client.fd, Interest.READABLE);
      }
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    assert.equal(text, `accepted by pid ${child.pid}: TcpListener on port ${port}\n`);
  } finally {
    const { code, stderr } = await output;
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  }
}
