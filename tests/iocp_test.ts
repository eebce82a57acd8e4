// Copyright 2026 the @evented/io authors. MIT license.
// The CompletionPort's Windows suite: real handles and a real kernel (Wine's,
// on Linux: tools/wine/run.sh test ... --v8-flags=--expose-gc tests/iocp_test.ts).
// Timings under Wine are slow and noisy: lower bounds are exact, upper
// bounds get seconds of slack.
import assert from "node:assert/strict";
import {
  type Completion,
  type CompletionPort,
  openCompletionPort,
  openNamedPipePair,
  openOverlappedFile,
  openSelector,
} from "../mod.ts";
import {
  ERROR_IO_PENDING,
  ERROR_OPERATION_ABORTED,
  FILE_ATTRIBUTE_NORMAL,
  FILE_FLAG_OVERLAPPED,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  GENERIC_READ,
  GENERIC_WRITE,
  OPEN_EXISTING,
  OVERLAPPED_SIZE,
  wide,
} from "../ffi/kernel32.ts";
import { delay, pattern, windowsTest as sharedWindowsTest } from "./_util.ts";

/** No test here takes this long, even under a loaded Wine. */
const TEST_TIMEOUT_MS = 60_000;
/** Slack on every upper bound of a duration: Wine is slow and the machine is shared. */
const SLACK_MS = 5_000;
/** Packets one dequeue of backends/iocp.ts takes at most (its BATCH). */
const BATCH = 256;

/** A Windows-only test of this file. */
function windowsTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  sharedWindowsTest("iocp", TEST_TIMEOUT_MS, name, fn);
}

/** Asserts `got` holds exactly the bytes of `want`, naming the first that differs. */
function assertBytes(got: Uint8Array, want: Uint8Array, what = "bytes"): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: byte ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/** A completion as a plain tuple, the pointer as its address. */
function tuple(c: Completion): [number, number, number, bigint | null] {
  return [
    c.key,
    c.bytes,
    c.error,
    c.overlapped === null ? null : Deno.UnsafePointer.value(c.overlapped),
  ];
}

/** Milliseconds `fn` took, and what it returned. */
async function timed<R>(fn: () => R | Promise<R>): Promise<[number, R]> {
  const start = performance.now();
  const result = await fn();
  return [performance.now() - start, result];
}

/** Writes every byte of `bytes` in writes of at most `piece` bytes. */
async function writeAll(
  port: CompletionPort,
  handle: Deno.PointerValue,
  bytes: Uint8Array,
  piece = bytes.length,
) {
  for (let written = 0; written < bytes.length;) {
    const n = await port.write(handle, bytes.subarray(written, written + piece));
    assert.ok(n > 0);
    written += n;
  }
}

/** kernel32 calls the tests make themselves (the library does not export them). */
const TEST_KERNEL32 = {
  CreateFileW: {
    parameters: ["buffer", "u32", "u32", "pointer", "u32", "u32", "pointer"],
    result: "pointer",
  },
  DeviceIoControl: {
    parameters: ["pointer", "u32", "pointer", "u32", "pointer", "u32", "buffer", "pointer"],
    result: "i32",
  },
  ReadFile: { parameters: ["pointer", "pointer", "u32", "pointer", "pointer"], result: "i32" },
  CancelIoEx: { parameters: ["pointer", "pointer"], result: "i32" },
  CloseHandle: { parameters: ["pointer"], result: "i32" },
  GetLastError: { parameters: [], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestKernel32 = Deno.DynamicLibrary<typeof TEST_KERNEL32>["symbols"];

/** Runs `fn` with the test's own binding of kernel32, closed once `fn` has settled. */
async function withKernel32<R>(fn: (k32: TestKernel32) => R | Promise<R>): Promise<R> {
  const library = Deno.dlopen("kernel32.dll", TEST_KERNEL32);
  try {
    return await fn(library.symbols);
  } finally {
    library.close();
  }
}

/** FSCTL_SET_SPARSE: marks a file sparse, so a write far out allocates nothing in between. */
const FSCTL_SET_SPARSE = 0x900c4;

/** Marks the file at `path` sparse; false if the file system (or Wine) will not. */
function markSparse(path: string): Promise<boolean> {
  return withKernel32((k32) => {
    const handle = k32.CreateFileW(
      wide(path),
      (GENERIC_READ | GENERIC_WRITE) >>> 0,
      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
      null,
      OPEN_EXISTING,
      FILE_ATTRIBUTE_NORMAL,
      null,
    );
    if (handle === null || Deno.UnsafePointer.value(handle) === 0xffffffffffffffffn) return false;
    try {
      return k32.DeviceIoControl(
        handle,
        FSCTL_SET_SPARSE,
        null,
        0,
        null,
        0,
        new Uint8Array(4),
        null,
      ) !==
        0;
    } finally {
      k32.CloseHandle(handle);
    }
  });
}

// ---------------------------------------------------------------------------
// post, get, wait

windowsTest("a posted packet comes back from get() with its key and byte count", () => {
  using port = openCompletionPort();
  port.post(42, 5);
  port.post(2 ** 40, 7);
  const got = port.get(1_000);
  assert.deepEqual(got.map(tuple), [
    [42, 5, 0, null],
    [2 ** 40, 7, 0, null],
  ]);
});

windowsTest(
  "post() round-trips every key up to MAX_SAFE_INTEGER, every DWORD byte count, and its overlapped pointer as is",
  () => {
    using port = openCompletionPort();
    const own = new Uint8Array(new ArrayBuffer(OVERLAPPED_SIZE));
    const ownAddress = Deno.UnsafePointer.value(Deno.UnsafePointer.of(own));
    const sent: [number, number, bigint | null][] = [
      [0, 0, null],
      [1, 1, null],
      [2 ** 31, 0x7fffffff, null],
      [2 ** 32 - 1, 2 ** 31, 0x7ffedeadbeefn],
      [2 ** 32, 0xffffffff, 0x1000n],
      [2 ** 52 + 1, 12345, ownAddress],
      [Number.MAX_SAFE_INTEGER - 1, 3, null],
      [Number.MAX_SAFE_INTEGER, 0xfffffffe, 0x7fffffffffffn],
    ];
    for (const [key, bytes, address] of sent) {
      port.post(key, bytes, address === null ? null : Deno.UnsafePointer.create(address));
    }
    const got = port.get(1_000);
    assert.deepEqual(got.map(tuple), sent.map(([key, bytes, address]) => [key, bytes, 0, address]));
    // The pointer handed back is the one posted: it reads the caller's own memory.
    own[0] = 0x5a;
    const back = got[5].overlapped!;
    assert.ok(Deno.UnsafePointer.equals(back, Deno.UnsafePointer.of(own)));
    assert.equal(new Deno.UnsafePointerView(back).getUint8(0), 0x5a);
    // post() with the defaults: 0 bytes, no pointer.
    port.post(9);
    assert.deepEqual(port.get(1_000).map(tuple), [[9, 0, 0, null]]);
  },
);

windowsTest("600 posted packets are dequeued by get() in full batches, in order, none lost", () => {
  using port = openCompletionPort();
  const COUNT = 600;
  for (let i = 0; i < COUNT; i++) port.post(i, i * 3);
  const batches: Completion[][] = [];
  while (batches.flat().length < COUNT) {
    const got = port.get(5_000);
    assert.ok(got.length > 0, `get() timed out after ${batches.flat().length} packets`);
    batches.push(got);
  }
  assert.deepEqual(batches.map((b) => b.length), [BATCH, BATCH, COUNT - 2 * BATCH]);
  assert.deepEqual(
    batches.flat().map((c) => [c.key, c.bytes]),
    Array.from({ length: COUNT }, (_, i) => [i, i * 3]),
  );
  assert.deepEqual(port.get(0), []);
});

windowsTest(
  "600 posted packets are dequeued by wait() in full batches, in order, none lost",
  async () => {
    await using port = openCompletionPort();
    const COUNT = 600;
    for (let i = 0; i < COUNT; i++) port.post(i + 1_000, i);
    const batches: Completion[][] = [];
    while (batches.flat().length < COUNT) {
      const got = await port.wait({ timeout: 5_000 });
      assert.ok(got.length > 0, `wait() timed out after ${batches.flat().length} packets`);
      batches.push(got);
    }
    assert.deepEqual(batches.map((b) => b.length), [BATCH, BATCH, COUNT - 2 * BATCH]);
    assert.deepEqual(
      batches.flat().map((c) => [c.key, c.bytes]),
      Array.from({ length: COUNT }, (_, i) => [i + 1_000, i]),
    );
    assert.deepEqual(await port.wait({ timeout: 0 }), []);
  },
);

windowsTest(
  "a read on the caller's own OVERLAPPED comes back from wait() with the handle's key, its bytes, its error and that OVERLAPPED",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    const key = 2 ** 50 + 3;
    port.associate(pipe.server.handle, key);
    // Memory the kernel writes to, off the V8 heap and referenced to the end.
    const overlapped = new Uint8Array(new ArrayBuffer(OVERLAPPED_SIZE));
    const buffer = new Uint8Array(new ArrayBuffer(16));
    const ov = Deno.UnsafePointer.of(overlapped);
    const address = Deno.UnsafePointer.value(ov);
    await withKernel32(async (k32) => {
      assert.equal(
        k32.ReadFile(pipe.server.handle, Deno.UnsafePointer.of(buffer), 16, null, ov),
        0,
      );
      assert.equal(k32.GetLastError(), ERROR_IO_PENDING);
      assert.equal(await port.write(pipe.client.handle, new Uint8Array([5, 6, 7])), 3);
      assert.deepEqual((await port.wait({ timeout: 10_000 })).map(tuple), [[key, 3, 0, address]]);
      assertBytes(buffer.subarray(0, 3), new Uint8Array([5, 6, 7]));
      // A failed operation: cancelled, its packet carries the Win32 error.
      overlapped.fill(0);
      assert.equal(
        k32.ReadFile(pipe.server.handle, Deno.UnsafePointer.of(buffer), 16, null, ov),
        0,
      );
      assert.equal(k32.GetLastError(), ERROR_IO_PENDING);
      assert.notEqual(k32.CancelIoEx(pipe.server.handle, ov), 0);
      assert.deepEqual(
        (await port.wait({ timeout: 10_000 })).map(tuple),
        [[key, 0, ERROR_OPERATION_ABORTED, address]],
      );
    });
  },
);

// ---------------------------------------------------------------------------
// Timeouts

windowsTest("get(timeout) never returns before its timeout, fractions included", () => {
  using port = openCompletionPort();
  for (const timeout of [0.5, 1, 2.5, 10, 15.2, 40]) {
    const start = performance.now();
    const got = port.get(timeout);
    const elapsed = performance.now() - start;
    assert.deepEqual(got, []);
    assert.ok(elapsed >= timeout, `get(${timeout}) returned after ${elapsed} ms`);
    assert.ok(elapsed < timeout + SLACK_MS, `get(${timeout}) returned after ${elapsed} ms`);
  }
});

windowsTest("wait({ timeout }) never resolves before its timeout, fractions included", async () => {
  await using port = openCompletionPort();
  for (const timeout of [0.5, 1, 2.5, 10, 15.2, 40]) {
    const [elapsed, got] = await timed(() => port.wait({ timeout }));
    assert.deepEqual(got, []);
    assert.ok(elapsed >= timeout, `wait(${timeout}) resolved after ${elapsed} ms`);
    assert.ok(elapsed < timeout + SLACK_MS, `wait(${timeout}) resolved after ${elapsed} ms`);
  }
});

windowsTest("get(0), wait({ timeout: 0 }) and negative timeouts return at once", async () => {
  await using port = openCompletionPort();
  for (const timeout of [0, -1, -0.5, -Infinity]) {
    const [elapsedGet, got] = await timed(() => port.get(timeout));
    assert.deepEqual(got, []);
    assert.ok(elapsedGet < SLACK_MS, `get(${timeout}) took ${elapsedGet} ms`);
    const [elapsedWait, waited] = await timed(() => port.wait({ timeout }));
    assert.deepEqual(waited, []);
    assert.ok(elapsedWait < SLACK_MS, `wait(${timeout}) took ${elapsedWait} ms`);
  }
  // A packet that is there is returned at once, also by a 0 timeout.
  port.post(1);
  assert.deepEqual(port.get(0).map((c) => c.key), [1]);
  port.post(2);
  assert.deepEqual((await port.wait({ timeout: 0 })).map((c) => c.key), [2]);
});

windowsTest("wait() resolves when a packet is posted from a timer", async () => {
  await using port = openCompletionPort();
  setTimeout(() => port.post(7, 1), 20);
  const [elapsed, got] = await timed(() => port.wait({ timeout: 10_000 }));
  assert.deepEqual(got.map(tuple), [[7, 1, 0, null]]);
  assert.ok(elapsed >= 15, `resolved after ${elapsed} ms`);
});

// ---------------------------------------------------------------------------
// wait() and the event loop

windowsTest("timers keep firing while wait() is parked", async () => {
  await using port = openCompletionPort();
  let ticks = 0;
  const interval = setInterval(() => {
    if (++ticks === 5) port.post(5, ticks);
  }, 5);
  try {
    const got = await port.wait({ timeout: 30_000 });
    // Only the fifth tick posts: the loop turned five times while wait() was parked.
    assert.deepEqual(got.map(tuple), [[5, 5, 0, null]]);
    assert.ok(ticks >= 5);
  } finally {
    clearInterval(interval);
  }
});

windowsTest("wait() with packets already there resolves without a thread hop", async () => {
  await using port = openCompletionPort();
  for (let round = 0; round < 3; round++) {
    port.post(round);
    let fired = false;
    const timer = setTimeout(() => fired = true, 0);
    const got = await port.wait();
    assert.equal(fired, false, "a 0 ms timer fired before wait() resolved");
    clearTimeout(timer);
    assert.deepEqual(got.map((c) => c.key), [round]);
  }
});

windowsTest("an aborted wait() rejects with the signal's exact reason", async () => {
  await using port = openCompletionPort();
  const reason = new Error("stop waiting");
  const controller = new AbortController();
  const waiting = port.wait({ signal: controller.signal });
  setTimeout(() => controller.abort(reason), 10);
  await assert.rejects(waiting, (error) => error === reason);
  // The default reason (a DOMException) is handed over as is too.
  const second = new AbortController();
  const waiting2 = port.wait({ signal: second.signal, timeout: 30_000 });
  second.abort();
  await assert.rejects(waiting2, (error) => error === second.signal.reason);
  // The port is left usable: the next wait() takes the next packet.
  setTimeout(() => port.post(3), 5);
  assert.deepEqual((await port.wait({ timeout: 10_000 })).map((c) => c.key), [3]);
});

windowsTest(
  "wait() with an already-aborted signal rejects with its reason and takes nothing",
  async () => {
    await using port = openCompletionPort();
    const reason = { why: "aborted before" };
    port.post(1);
    await assert.rejects(port.wait({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.deepEqual(port.get(0).map((c) => c.key), [1]);
  },
);

// ---------------------------------------------------------------------------
// Busy

windowsTest("a second wait(), and any get(), during a pending wait() are Busy", async () => {
  await using port = openCompletionPort();
  const waiting = port.wait({ timeout: 30_000 });
  await assert.rejects(port.wait(), Deno.errors.Busy);
  await assert.rejects(port.wait({ timeout: 0 }), Deno.errors.Busy);
  assert.throws(() => port.get(10), Deno.errors.Busy);
  assert.throws(() => port.get(), Deno.errors.Busy);
  assert.throws(() => port.get(0), Deno.errors.Busy);
  port.post(8);
  assert.deepEqual((await waiting).map((c) => c.key), [8]);
  // Once it has resolved, get() may block again.
  assert.deepEqual(port.get(1), []);
});

windowsTest(
  "get() with a timeout is Busy while a read is in flight; get(0) is allowed and returns posted packets",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    const buffer = new Uint8Array(8);
    const reading = port.read(pipe.server.handle, buffer);
    assert.throws(() => port.get(10), Deno.errors.Busy);
    assert.throws(() => port.get(), Deno.errors.Busy);
    assert.deepEqual(port.get(0), []);
    port.post(9, 1);
    // The parked pump or get(0) itself takes it; either way get(0) returns it.
    let got: Completion[] = [];
    for (const deadline = performance.now() + SLACK_MS; got.length === 0;) {
      got = port.get(0);
      if (got.length === 0) {
        assert.ok(performance.now() < deadline, "the posted packet never came back");
        await delay(1);
      }
    }
    assert.deepEqual(got.map(tuple), [[9, 1, 0, null]]);
    assert.equal(await port.write(pipe.client.handle, new Uint8Array([4, 2])), 2);
    assert.equal(await reading, 2);
    assertBytes(buffer.subarray(0, 2), new Uint8Array([4, 2]));
    // Nothing in flight any more: get() may block again.
    assert.deepEqual(port.get(1), []);
  },
);

windowsTest(
  "the packet of a read that get(0) or wait() dequeued itself still lets the port close",
  async () => {
    // A read that completes at once queues its packet; a synchronous
    // get(0)/wait() often (a few rounds in ten under Wine) takes it before
    // the parked thread does. That thread must not stay parked: the port
    // could never be released.
    for (let round = 0; round < 40; round++) {
      using pipe = openNamedPipePair();
      const port = openCompletionPort();
      assert.equal(await port.write(pipe.client.handle, new Uint8Array([round, 1, 2])), 3);
      const buffer = new Uint8Array(8);
      const reading = port.read(pipe.server.handle, buffer);
      if (round % 2 === 0) assert.deepEqual(port.get(0), []);
      else assert.deepEqual(await port.wait({ timeout: 0 }), []);
      assert.equal(await reading, 3);
      assertBytes(buffer.subarray(0, 3), new Uint8Array([round, 1, 2]));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("stuck"), 10_000);
      });
      const released = port[Symbol.asyncDispose]().then(() => "released");
      try {
        assert.equal(await Promise.race([released, stuck]), "released", `round ${round}`);
      } finally {
        clearTimeout(timer);
      }
    }
  },
);

// ---------------------------------------------------------------------------
// Named pipes

windowsTest("bytes written to one end of a named pipe are read from the other", async () => {
  using pipe = openNamedPipePair();
  await using port = openCompletionPort();
  const buffer = new Uint8Array(16);
  const reading = port.read(pipe.server.handle, buffer);
  assert.equal(await port.write(pipe.client.handle, new Uint8Array([1, 2, 3])), 3);
  assert.equal(await reading, 3);
  assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
  // And the other way, into the middle of a buffer.
  const back = new Uint8Array(16).fill(0xee);
  const readingBack = port.read(pipe.client.handle, back.subarray(5, 9));
  assert.equal(await port.write(pipe.server.handle, new Uint8Array([9, 8, 7, 6, 5])), 5);
  assert.equal(await readingBack, 4);
  assertBytes(back.subarray(4, 10), new Uint8Array([0xee, 9, 8, 7, 6, 0xee]));
  assert.equal(await port.read(pipe.client.handle, back), 1);
  assert.equal(back[0], 5);
  // A zero-length read or write moves nothing and does not wait.
  assert.equal(await port.read(pipe.server.handle, new Uint8Array(0)), 0);
  assert.equal(await port.write(pipe.server.handle, new Uint8Array(0)), 0);
});

windowsTest("a large pipe transfer in uneven pieces arrives whole and in order", async () => {
  using pipe = openNamedPipePair();
  await using port = openCompletionPort();
  const data = pattern(3 * 1024 * 1024 + 12_345, 7);
  const received = new Uint8Array(data.length);
  let reads = 0;
  const reader = (async () => {
    for (let filled = 0; filled < received.length; reads++) {
      // Reads of an odd size, straight into the right place of the result.
      const n = await port.read(
        pipe.server.handle,
        received.subarray(filled, Math.min(filled + 65_537, received.length)),
      );
      assert.notEqual(n, null);
      filled += n!;
    }
  })();
  await Promise.all([writeAll(port, pipe.client.handle, data, 100_003), reader]);
  assertBytes(received, data, "received");
  assert.ok(reads >= Math.ceil(data.length / 65_537), `${reads} reads`);
});

windowsTest(
  "a pipe read returns null once the other end is closed, also when pending",
  async () => {
    {
      using pipe = openNamedPipePair();
      await using port = openCompletionPort();
      const buffer = new Uint8Array(16);
      const reading = port.read(pipe.server.handle, buffer);
      await delay(20);
      pipe.client.close();
      assert.equal(await reading, null);
    }
    {
      using pipe = openNamedPipePair();
      await using port = openCompletionPort();
      const buffer = new Uint8Array(16);
      assert.equal(await port.write(pipe.client.handle, new Uint8Array([1, 2])), 2);
      pipe.client.close();
      // What was written before the close is still read, then the end.
      assert.equal(await port.read(pipe.server.handle, buffer), 2);
      assert.equal(await port.read(pipe.server.handle, buffer), null);
      assert.equal(await port.read(pipe.server.handle, buffer), null);
    }
  },
);

windowsTest(
  "a write to a pipe whose reading end is closed is BrokenPipe with code and errno",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    pipe.server.close();
    await assert.rejects(port.write(pipe.client.handle, new Uint8Array([1])), (error) => {
      assert.ok(error instanceof Deno.errors.BrokenPipe, String(error));
      const { code, errno } = error as Error & { code: string; errno: number };
      assert.ok(
        (code === "ERROR_NO_DATA" && errno === 232) ||
          (code === "ERROR_BROKEN_PIPE" && errno === 109),
        `${code} ${errno}`,
      );
      assert.match(error.message, /^Cannot write to handle 0x[0-9a-f]+: ERROR_/);
      return true;
    });
  },
);

// ---------------------------------------------------------------------------
// Files

windowsTest("a file is written and read at offsets, numbers and bigints", async (t) => {
  const path = Deno.makeTempFileSync();
  try {
    await using port = openCompletionPort();
    using file = openOverlappedFile(path, { write: true });
    const head = new TextEncoder().encode("hello world");
    const middle = pattern(1_000, 1);
    const tail = pattern(70_000, 2);
    const TAIL_AT = 1024 * 1024 - 7;

    await t.step("writes at several offsets", async () => {
      assert.equal(await port.write(file.handle, head, { offset: 0 }), head.length);
      assert.equal(await port.write(file.handle, middle, { offset: 4_095 }), middle.length);
      assert.equal(await port.write(file.handle, tail, { offset: BigInt(TAIL_AT) }), tail.length);
    });

    await t.step("reads them back exactly, and zeros in between", async () => {
      const five = new Uint8Array(5);
      assert.equal(await port.read(file.handle, five, { offset: 6 }), 5);
      assert.equal(new TextDecoder().decode(five), "world");
      const back = new Uint8Array(middle.length + 2);
      assert.equal(await port.read(file.handle, back, { offset: 4_094n }), back.length);
      assertBytes(back.subarray(1, -1), middle, "middle");
      assert.deepEqual([back[0], back[back.length - 1]], [0, 0]);
      const gap = new Uint8Array(4_096).fill(1);
      assert.equal(await port.read(file.handle, gap, { offset: 500_000 }), gap.length);
      assert.ok(gap.every((b) => b === 0));
      const tailBack = new Uint8Array(tail.length);
      assert.equal(await port.read(file.handle, tailBack, { offset: TAIL_AT }), tail.length);
      assertBytes(tailBack, tail, "tail");
    });

    await t.step("concurrent reads at different offsets each get their own bytes", async () => {
      const offsets = [0, 4_095, 4_500, TAIL_AT, TAIL_AT + 33_333];
      const buffers = offsets.map(() => new Uint8Array(300));
      const counts = await Promise.all(
        offsets.map((offset, i) => port.read(file.handle, buffers[i], { offset })),
      );
      assert.deepEqual(counts, offsets.map(() => 300));
      const whole = new Uint8Array(TAIL_AT + tail.length);
      whole.set(head, 0);
      whole.set(middle, 4_095);
      whole.set(tail, TAIL_AT);
      offsets.forEach((offset, i) =>
        assertBytes(buffers[i], whole.subarray(offset, offset + 300), `at ${offset}`)
      );
    });

    await t.step("a read across the end is short; at or past the end it is null", async () => {
      const end = TAIL_AT + tail.length;
      const buffer = new Uint8Array(100);
      assert.equal(await port.read(file.handle, buffer, { offset: end - 3 }), 3);
      assertBytes(buffer.subarray(0, 3), tail.subarray(-3));
      assert.equal(await port.read(file.handle, buffer, { offset: end }), null);
      assert.equal(await port.read(file.handle, buffer, { offset: end + 1_000_000 }), null);
      assert.equal(await port.read(file.handle, buffer, { offset: 2n ** 40n }), null);
    });

    await t.step("an offset is required", async () => {
      await assert.rejects(port.read(file.handle, new Uint8Array(5)), TypeError);
      await assert.rejects(port.write(file.handle, new Uint8Array(5)), TypeError);
    });
  } finally {
    Deno.removeSync(path);
  }
});

windowsTest("a sparse file is written and read above 4 GiB", async (t) => {
  const path = Deno.makeTempFileSync();
  try {
    // Without a sparse file a write above 4 GiB would fill 4 GiB of zeros.
    const sparse = await markSparse(path);
    await t.step({
      name: "writes and reads at offsets above 2^32 (ignored where FSCTL_SET_SPARSE fails)",
      ignore: !sparse,
      async fn() {
        await using port = openCompletionPort();
        using file = openOverlappedFile(path, { write: true });
        const low = pattern(10, 3);
        const high = pattern(5_000, 4);
        const HIGH_AT = 2 ** 32 + 4_093; // crosses the 2^32 + 2^12 page, OffsetHigh = 1
        assert.equal(await port.write(file.handle, low, { offset: 2 ** 32 - 5 }), low.length);
        assert.equal(await port.write(file.handle, high, { offset: BigInt(HIGH_AT) }), high.length);
        const lowBack = new Uint8Array(low.length);
        assert.equal(await port.read(file.handle, lowBack, { offset: 2n ** 32n - 5n }), 10);
        assertBytes(lowBack, low, "across 2^32");
        const highBack = new Uint8Array(high.length + 10);
        assert.equal(
          await port.read(file.handle, highBack, { offset: HIGH_AT - 5 }),
          high.length + 5,
        );
        assertBytes(highBack.subarray(5, 5 + high.length), high, "above 2^32");
        // The low 32 bits alone would name offset 4_093 (a hole of zeros).
        const aliased = new Uint8Array(16).fill(1);
        assert.equal(await port.read(file.handle, aliased, { offset: 4_093 }), 16);
        assert.ok(aliased.every((b) => b === 0));
        assert.equal(
          await port.read(file.handle, aliased, { offset: HIGH_AT + high.length }),
          null,
        );
      },
    });
  } finally {
    Deno.removeSync(path);
  }
});

windowsTest("writes at many offsets in flight at once all land", async () => {
  const path = Deno.makeTempFileSync();
  try {
    await using port = openCompletionPort();
    using file = openOverlappedFile(path, { write: true });
    const COUNT = 32;
    const SIZE = 3_000;
    const chunks = Array.from({ length: COUNT }, (_, i) => pattern(SIZE, 100 + i));
    // Written in reverse order, each at its own place.
    const written = await Promise.all(
      chunks.map((_, j) => {
        const i = COUNT - 1 - j;
        return port.write(file.handle, chunks[i], { offset: i * SIZE });
      }),
    );
    assert.deepEqual(written, chunks.map(() => SIZE));
    const whole = new Uint8Array(COUNT * SIZE + 1);
    assert.equal(await port.read(file.handle, whole, { offset: 0 }), COUNT * SIZE);
    chunks.forEach((chunk, i) => assertBytes(whole.subarray(i * SIZE, (i + 1) * SIZE), chunk));
  } finally {
    Deno.removeSync(path);
  }
});

// ---------------------------------------------------------------------------
// Cancellation

windowsTest("a pending pipe read aborted by a signal rejects with the exact reason", async () => {
  using pipe = openNamedPipePair();
  await using port = openCompletionPort();
  const reason = new Error("no longer wanted");
  const controller = new AbortController();
  const reading = port.read(pipe.server.handle, new Uint8Array(8), { signal: controller.signal });
  await delay(20);
  controller.abort(reason);
  await assert.rejects(reading, (error) => error === reason);
  // Nothing was taken from the pipe: the next read gets the next bytes whole.
  const buffer = new Uint8Array(8);
  const next = port.read(pipe.server.handle, buffer);
  assert.equal(await port.write(pipe.client.handle, new Uint8Array([1, 2, 3])), 3);
  assert.equal(await next, 3);
  assertBytes(buffer.subarray(0, 3), new Uint8Array([1, 2, 3]));
});

windowsTest(
  "a read that completed before its abort resolves with its bytes (none thrown away)",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    for (let round = 0; round < 8; round++) {
      const controller = new AbortController();
      const buffer = new Uint8Array(8);
      const reading = port.read(pipe.server.handle, buffer, { signal: controller.signal });
      await delay(5);
      // WriteFile runs now, on this thread: the pending read is satisfied in
      // the kernel before the abort below, which then finds nothing to cancel.
      const writing = port.write(pipe.client.handle, new Uint8Array([round, 2, 3, 4]));
      controller.abort(new Error("too late"));
      assert.equal(await reading, 4, `round ${round}`);
      assertBytes(buffer.subarray(0, 4), new Uint8Array([round, 2, 3, 4]));
      assert.equal(await writing, 4);
    }
  },
);

windowsTest(
  "a read with an already-aborted signal rejects with its reason and reads nothing",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    assert.equal(await port.write(pipe.client.handle, new Uint8Array([7, 8])), 2);
    const reason = new RangeError("before it started");
    const buffer = new Uint8Array(8);
    await assert.rejects(
      port.read(pipe.server.handle, buffer, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    await assert.rejects(
      port.write(pipe.client.handle, buffer, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    assert.equal(await port.read(pipe.server.handle, buffer), 2);
    assertBytes(buffer.subarray(0, 2), new Uint8Array([7, 8]));
  },
);

// ---------------------------------------------------------------------------
// close()

windowsTest(
  "close() with operations in flight: they reject Interrupted, a pending wait() gets [], and asyncDispose waits for them",
  async () => {
    using readPipe = openNamedPipePair();
    using writePipe = openNamedPipePair();
    const events: string[] = [];
    let reading: Promise<unknown>;
    let writing: Promise<unknown>;
    let waiting: Promise<Completion[]>;
    let port: CompletionPort;
    {
      await using p = openCompletionPort();
      port = p;
      reading = p.read(readPipe.server.handle, new Uint8Array(64)).then(
        (n) => events.push(`read resolved ${n}`),
        (error) => {
          events.push("read rejected");
          return error;
        },
      );
      // More than the pipe holds, and nobody reads: the write stays pending.
      writing = p.write(writePipe.client.handle, new Uint8Array(1024 * 1024)).then(
        (n) => events.push(`write resolved ${n}`),
        (error) => {
          events.push("write rejected");
          return error;
        },
      );
      waiting = p.wait().then((got) => {
        events.push("wait resolved");
        return got;
      });
      await delay(20);
      assert.equal(events.length, 0, events.join());
      // The end of this block closes the port and awaits its release.
    }
    events.push("disposed");
    assert.equal(port.closed, true);
    assert.deepEqual(await waiting, []);
    const readError = await reading;
    const writeError = await writing;
    assert.ok(readError instanceof Deno.errors.Interrupted, String(readError));
    assert.ok(writeError instanceof Deno.errors.Interrupted, String(writeError));
    assert.match((readError as Error).message, /closed/);
    assert.equal(events[0], "wait resolved");
    assert.deepEqual(events.slice(1, 3).sort(), ["read rejected", "write rejected"]);
    assert.equal(events[3], "disposed");
  },
);

windowsTest("close() resolves a pending wait() with [] and is idempotent", async () => {
  const port = openCompletionPort();
  const waiting = port.wait();
  port.close();
  assert.equal(port.closed, true);
  assert.deepEqual(await waiting, []);
  port.close();
  port[Symbol.dispose]();
  await port[Symbol.asyncDispose]();
  await port[Symbol.asyncDispose]();
});

windowsTest("every method of a closed port throws or rejects BadResource", async () => {
  using pipe = openNamedPipePair();
  const port = openCompletionPort();
  port.post(1); // a packet left behind is dropped with the port
  await port[Symbol.asyncDispose]();
  assert.equal(port.closed, true);
  assert.equal(port.backend, "iocp");
  const closed = (error: unknown) => {
    assert.ok(error instanceof Deno.errors.BadResource, String(error));
    assert.match((error as Error).message, /the completion port is closed$/);
    return true;
  };
  assert.throws(() => port.associate(pipe.server.handle, 1), closed);
  assert.throws(() => port.post(1), closed);
  assert.throws(() => port.get(0), closed);
  assert.throws(() => port.get(), closed);
  await assert.rejects(port.wait(), closed);
  await assert.rejects(port.wait({ timeout: 0 }), closed);
  await assert.rejects(port.read(pipe.server.handle, new Uint8Array(4)), closed);
  await assert.rejects(port.write(pipe.client.handle, new Uint8Array(4)), closed);
  port.close();
});

// ---------------------------------------------------------------------------
// Argument errors and OS errors

windowsTest("bad arguments are TypeError or RangeError, before any I/O", async (t) => {
  const path = Deno.makeTempFileSync();
  try {
    using pipe = openNamedPipePair();
    using file = openOverlappedFile(path, { write: true });
    await using port = openCompletionPort();
    const h = pipe.server.handle;
    const any = port as unknown as Record<string, (...args: unknown[]) => unknown>;

    await t.step("keys", () => {
      for (const key of [-1, 1.5, 2 ** 53, NaN, Infinity, "1", 1n, undefined, null]) {
        assert.throws(() => any.post.call(port, key), RangeError, `post(${String(key)})`);
        assert.throws(() => any.associate.call(port, h, key), RangeError, `key ${String(key)}`);
      }
    });

    await t.step("byte counts and posted pointers", () => {
      for (const bytes of [-1, 2 ** 32, 1.5, NaN, "1"]) {
        assert.throws(() => any.post.call(port, 1, bytes), RangeError, `bytes ${String(bytes)}`);
      }
      for (const overlapped of [5, "x", 5n, true]) {
        assert.throws(() => any.post.call(port, 1, 0, overlapped), TypeError);
      }
    });

    await t.step("timeouts", async () => {
      for (const timeout of [NaN, "10", null, 10n, {}]) {
        assert.throws(() => any.get.call(port, timeout), TypeError, `get(${String(timeout)})`);
        await assert.rejects(port.wait({ timeout } as never), TypeError);
      }
      await assert.rejects(port.wait("soon" as never), TypeError);
      await assert.rejects(port.wait({ signal: {} } as never), TypeError);
    });

    await t.step("buffers", async () => {
      const sab = new Uint8Array(new SharedArrayBuffer(8));
      const resizable = new Uint8Array(new ArrayBuffer(8, { maxByteLength: 16 }));
      const detached = new Uint8Array(8);
      detached.buffer.transfer();
      for (
        const buffer of [
          new ArrayBuffer(8),
          new Uint16Array(4),
          new Int8Array(8),
          new DataView(new ArrayBuffer(8)),
          [1, 2],
          "bytes",
          null,
          undefined,
          sab,
          resizable,
          detached,
        ]
      ) {
        await assert.rejects(any.read.call(port, h, buffer) as Promise<unknown>, TypeError);
        await assert.rejects(any.write.call(port, h, buffer) as Promise<unknown>, TypeError);
      }
    });

    await t.step("offsets", async () => {
      const buffer = new Uint8Array(4);
      // Missing on a file; given on a pipe.
      await assert.rejects(port.read(file.handle, buffer), /offset is required/);
      await assert.rejects(port.write(file.handle, buffer), TypeError);
      await assert.rejects(port.read(h, buffer, { offset: 0 }), /offset must be omitted/);
      await assert.rejects(port.write(h, buffer, { offset: 0n }), TypeError);
      // Out of range or of the wrong type.
      for (const offset of [-1, -1n, 1.5, 2 ** 53, 2n ** 63n, NaN]) {
        await assert.rejects(
          port.read(file.handle, buffer, { offset }),
          RangeError,
          String(offset),
        );
      }
      for (const offset of ["0", null, {}]) {
        await assert.rejects(port.read(file.handle, buffer, { offset } as never), TypeError);
      }
      await assert.rejects(port.read(h, buffer, "x" as never), TypeError);
      await assert.rejects(port.read(h, buffer, { signal: "x" } as never), TypeError);
    });

    await t.step("handles", async () => {
      for (const handle of [0, -1, 1.5, NaN, "handle", undefined, null, true, 2 ** 53]) {
        await assert.rejects(
          any.read.call(port, handle, new Uint8Array(4)) as Promise<unknown>,
          TypeError,
          `handle ${String(handle)}`,
        );
        assert.throws(() => any.associate.call(port, handle, 1), TypeError);
      }
    });

    await t.step("options of openCompletionPort()", () => {
      assert.throws(() => openCompletionPort({ concurrency: -1 }), RangeError);
      assert.throws(() => openCompletionPort({ concurrency: 1.5 }), RangeError);
      assert.throws(() => openCompletionPort({ backend: "kqueue" as never }), TypeError);
    });

    await t.step("the port still works after all of that", async () => {
      port.post(77, 1);
      assert.deepEqual(port.get(1_000).map(tuple), [[77, 1, 0, null]]);
      const buffer = new Uint8Array(4);
      const reading = port.read(h, buffer);
      assert.equal(await port.write(pipe.client.handle, new Uint8Array([3])), 1);
      assert.equal(await reading, 1);
    });
  } finally {
    Deno.removeSync(path);
  }
});

windowsTest(
  "a closed handle is BadResource with code ERROR_INVALID_HANDLE and errno 6",
  async () => {
    await using port = openCompletionPort();
    const invalid = (error: unknown) => {
      assert.ok(error instanceof Deno.errors.BadResource, String(error));
      const { code, errno } = error as Error & { code: string; errno: number };
      assert.equal(code, "ERROR_INVALID_HANDLE");
      assert.equal(errno, 6);
      assert.match((error as Error).message, /ERROR_INVALID_HANDLE \(os error 6\)$/);
      return true;
    };
    // Never associated: associating it fails.
    const pipe = openNamedPipePair();
    const server = pipe.server.handle;
    const client = pipe.client.handle;
    pipe.close();
    await assert.rejects(port.read(server, new Uint8Array(4)), invalid);
    await assert.rejects(port.write(client, new Uint8Array(4)), invalid);
    assert.throws(() => port.associate(Number(Deno.UnsafePointer.value(client)), 1), invalid);
  },
);

windowsTest(
  "a closed handle the port already knows fails its read with ERROR_INVALID_HANDLE",
  async () => {
    await using port = openCompletionPort();
    const pipe = openNamedPipePair();
    const reading = port.read(pipe.server.handle, new Uint8Array(4));
    assert.equal(await port.write(pipe.client.handle, new Uint8Array([1])), 1);
    assert.equal(await reading, 1);
    const server = pipe.server.handle;
    pipe.close();
    await assert.rejects(port.read(server, new Uint8Array(4)), (error) => {
      assert.ok(error instanceof Deno.errors.BadResource, String(error));
      assert.equal((error as Error & { code: string }).code, "ERROR_INVALID_HANDLE");
      assert.equal((error as Error & { errno: number }).errno, 6);
      assert.match((error as Error).message, /^Cannot read from handle 0x[0-9a-f]+: /);
      return true;
    });
  },
);

windowsTest("opening a file that does not exist is NotFound with its code", () => {
  const path = `${Deno.makeTempDirSync()}\\missing.bin`;
  try {
    assert.throws(() => openOverlappedFile(path), (error) => {
      assert.ok(error instanceof Deno.errors.NotFound, String(error));
      assert.equal((error as Error & { code: string }).code, "ERROR_FILE_NOT_FOUND");
      assert.equal((error as Error & { errno: number }).errno, 2);
      return true;
    });
  } finally {
    Deno.removeSync(path.slice(0, path.lastIndexOf("\\")));
  }
});

windowsTest(
  "associate() of a handle twice is AlreadyExists, also after a read associated it",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    port.associate(pipe.server.handle, 1);
    assert.throws(() => port.associate(pipe.server.handle, 2), Deno.errors.AlreadyExists);
    // A read associates its handle (key 0) if nobody did.
    const reading = port.read(pipe.client.handle, new Uint8Array(4));
    assert.throws(() => port.associate(pipe.client.handle, 3), Deno.errors.AlreadyExists);
    assert.equal(await port.write(pipe.server.handle, new Uint8Array([1, 2])), 2);
    assert.equal(await reading, 2);
  },
);

windowsTest("openCompletionPort() with a Linux backend is NotSupported on Windows", () => {
  for (const backend of ["io_uring", "epoll"] as const) {
    assert.throws(() => openCompletionPort({ backend }), (error) => {
      assert.ok(error instanceof Deno.errors.NotSupported, String(error));
      assert.match((error as Error).message, new RegExp(`${backend}.*windows`));
      return true;
    });
  }
  using port = openCompletionPort({ backend: "iocp", concurrency: 2 });
  assert.equal(port.backend, "iocp");
});

windowsTest("openSelector() on Windows is NotSupported and names the OS", () => {
  assert.throws(() => openSelector(), (error) => {
    assert.ok(error instanceof Deno.errors.NotSupported, String(error));
    assert.match((error as Error).message, /windows/);
    return true;
  });
});

// ---------------------------------------------------------------------------
// Garbage collection

windowsTest(
  "buffers referenced only by the port survive gc() while 64 pipe reads are pending",
  async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    assert.equal(typeof gc, "function", "run this test with --v8-flags=--expose-gc");
    const PAIRS = 64;
    const SIZES = [1, 7, 16, 31, 32, 48, 64, 65, 100, 1_000, 4_096, 65_536];
    const sizeOf = (i: number) => SIZES[i % SIZES.length];
    const payloadOf = (i: number) => pattern(sizeOf(i), 1_000 + i);
    const pipes = Array.from({ length: PAIRS }, () => openNamedPipePair());
    try {
      await using port = openCompletionPort();
      // The buffers are made here and handed to the port only: the test
      // keeps weak references, and the read promises, which do not hold them.
      const start = () => {
        const refs: WeakRef<Uint8Array>[] = [];
        const reads = pipes.map((pipe, i) => {
          const buffer = new Uint8Array(sizeOf(i));
          refs.push(new WeakRef(buffer));
          return port.read(pipe.server.handle, buffer);
        });
        return { refs, reads };
      };
      const { refs, reads } = start();
      // Should an assertion fail first, closing the port rejects these: not unhandled.
      for (const read of reads) read.catch(() => {});
      let junk: unknown[] = [];
      for (let round = 0; round < 6; round++) {
        // A new task: WeakRef targets are no longer kept alive for the last one.
        await delay(1);
        for (let k = 0; k < 20_000; k++) junk.push(new Uint8Array(k % 97), { k });
        if (round % 2 === 1) junk = [];
        gc!();
      }
      junk = [];
      await delay(1);
      gc!();
      const alive = refs.filter((ref) => ref.deref() !== undefined).length;
      assert.equal(alive, PAIRS, "the port let buffers of pending reads be collected");
      // Now the bytes: taken from here on, and collected again meanwhile.
      const buffers = refs.map((ref) => ref.deref()!);
      const writes = pipes.map((pipe, i) => port.write(pipe.client.handle, payloadOf(i)));
      gc!();
      assert.deepEqual(await Promise.all(writes), pipes.map((_, i) => sizeOf(i)));
      assert.deepEqual(await Promise.all(reads), pipes.map((_, i) => sizeOf(i)));
      gc!();
      buffers.forEach((buffer, i) => assertBytes(buffer, payloadOf(i), `pipe ${i}`));
    } finally {
      for (const pipe of pipes) pipe.close();
    }
  },
);

// ---------------------------------------------------------------------------
// The example

const PIPE_ECHO = new URL("../examples/pipe_echo.ts", import.meta.url).href;

windowsTest("examples/pipe_echo.ts echoes every byte and prints one summary line", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", PIPE_ECHO, "--messages", "40", "--size", "150000"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const lines = out.trimEnd().split("\n");
  assert.equal(lines.length, 1, out);
  assert.match(
    lines[0],
    /^pipe_echo: 40 messages of 150000 bytes echoed, 12000000 bytes moved and checked, in \d+\.\d ms on windows x86_64, Deno \d+\.\d+\.\d+/,
  );
});

windowsTest("examples/pipe_echo.ts rejects a bad flag with exit code 2", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", PIPE_ECHO, "--size", "0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.equal(new TextDecoder().decode(stdout), "");
  assert.match(new TextDecoder().decode(stderr), /--size must be an integer from 1 to/);
});

windowsTest(
  "a handle value reused after a helper closed its handle works on the same port",
  async () => {
    await using port = openCompletionPort();
    for (let round = 0; round < 5; round++) {
      using pipe = openNamedPipePair();
      const buffer = new Uint8Array(4);
      const reading = port.read(pipe.server.handle, buffer);
      assert.equal(await port.write(pipe.client.handle, new Uint8Array([round])), 1);
      assert.equal(await reading, 1);
      assert.equal(buffer[0], round);
    }
  },
);

windowsTest(
  "associate() of a raw handle value that now names another handle takes the new one",
  async () => {
    const path = Deno.makeTempFileSync();
    try {
      await using port = openCompletionPort();
      await withKernel32(async (k32) => {
        const open = () => {
          const handle = k32.CreateFileW(
            wide(path),
            (GENERIC_READ | GENERIC_WRITE) >>> 0,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            null,
            OPEN_EXISTING,
            (FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED) >>> 0,
            null,
          );
          assert.ok(handle !== null && Deno.UnsafePointer.value(handle) !== 0xffffffffffffffffn);
          return handle;
        };
        const first = open();
        port.associate(first, 1);
        assert.equal(await port.write(first, new Uint8Array([1, 2]), { offset: 0 }), 2);
        k32.CloseHandle(first); // behind the port's back
        const second = open();
        try {
          // Windows (and Wine) hand the value out again; associate() asks the kernel.
          port.associate(second, 2);
          const buffer = new Uint8Array(2);
          assert.equal(await port.read(second, buffer, { offset: 0 }), 2);
          assert.deepEqual([...buffer], [1, 2]);
        } finally {
          k32.CloseHandle(second);
        }
      });
    } finally {
      Deno.removeSync(path);
    }
  },
);

windowsTest(
  "an idle port keeps no process alive, also after operations went through it",
  async () => {
    const mod = new URL("../mod.ts", import.meta.url).href;
    const code = `
    import { openCompletionPort, openNamedPipePair } from "${mod}";
    const port = openCompletionPort(); // never closed
    const pipe = openNamedPipePair();
    const reading = port.read(pipe.server.handle, new Uint8Array(4));
    await port.write(pipe.client.handle, new Uint8Array([1]));
    console.log("read", await reading);
    port.post(1);
    console.log("posted", port.get(0).length);
  `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(code));
    await writer.close();
    // Exiting by itself is the point; a process kept alive is killed after a while and fails.
    const timer = setTimeout(() => child.kill(), 30_000);
    const { code: status, stdout } = await child.output();
    clearTimeout(timer);
    assert.equal(new TextDecoder().decode(stdout), "read 1\nposted 1\n");
    assert.equal(status, 0);
  },
);
