// Copyright 2026 the @evented/io authors. MIT license.
import assert from "node:assert/strict";
import { openCompletionPort, openNamedPipePair, openOverlappedFile } from "../mod.ts";

const windows = Deno.build.os === "windows";

Deno.test({
  name: "iocp: a posted packet comes back from get() with its key and byte count",
  ignore: !windows,
  fn() {
    using port = openCompletionPort();
    port.post(42, 5);
    port.post(2 ** 40, 7);
    const got = port.get(1_000);
    assert.deepEqual(
      got.map(({ key, bytes, error, overlapped }) => [key, bytes, error, overlapped]),
      [
        [42, 5, 0, null],
        [2 ** 40, 7, 0, null],
      ],
    );
  },
});

Deno.test({
  name: "iocp: bytes written to one end of a named pipe are read from the other",
  ignore: !windows,
  async fn() {
    await using port = openCompletionPort();
    using pipe = openNamedPipePair();
    const buffer = new Uint8Array(16);
    const reading = port.read(pipe.server.handle, buffer);
    assert.equal(await port.write(pipe.client.handle, new Uint8Array([1, 2, 3])), 3);
    assert.equal(await reading, 3);
    assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
    pipe.client.close();
    assert.equal(await port.read(pipe.server.handle, buffer), null);
  },
});

Deno.test({
  name: "iocp: a file is written and read at offsets",
  ignore: !windows,
  async fn() {
    const path = Deno.makeTempFileSync();
    try {
      await using port = openCompletionPort();
      using file = openOverlappedFile(path, { write: true });
      assert.equal(
        await port.write(file.handle, new TextEncoder().encode("hello world"), { offset: 0 }),
        11,
      );
      const buffer = new Uint8Array(5);
      assert.equal(await port.read(file.handle, buffer, { offset: 6 }), 5);
      assert.equal(new TextDecoder().decode(buffer), "world");
      assert.equal(await port.read(file.handle, buffer, { offset: 100 }), null);
      await assert.rejects(port.read(file.handle, buffer), TypeError);
    } finally {
      Deno.removeSync(path);
    }
  },
});

Deno.test({
  name: "iocp: wait() resolves when a packet is posted from a timer",
  ignore: !windows,
  async fn() {
    await using port = openCompletionPort();
    setTimeout(() => port.post(7, 1), 20);
    const start = performance.now();
    const got = await port.wait({ timeout: 10_000 });
    assert.deepEqual(got.map((c) => c.key), [7]);
    assert.ok(performance.now() - start >= 15);
    const t = performance.now();
    assert.deepEqual(await port.wait({ timeout: 30 }), []);
    assert.ok(performance.now() - t >= 30);
  },
});
