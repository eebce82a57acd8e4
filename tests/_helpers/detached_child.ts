// Copyright 2026 the @evented/io authors. MIT license.
// Run by detached_buffer_test.ts in a child process (a failure may crash
// it): `deno run --v8-flags=--expose-gc --allow-ffi detached_child.ts
// <backend> <case>`. Starts an operation through a CompletionPort, detaches
// its buffer the way the case says while it is in flight, collects garbage,
// fills the heap with fresh buffers, lets the operation complete, and
// checks that it settled with a TypeError saying what it moved and that no
// fresh buffer was written into. Prints "ok" and exits 0, or throws.
import { type CompletionBackend, type CompletionPort, openCompletionPort } from "../../mod.ts";
import { delay, openStream } from "./mod.ts";

const [backend, kind] = Deno.args as [CompletionBackend, string];
// deno-lint-ignore no-explicit-any
const gc = (globalThis as any).gc as () => void;

/** Detaches `buffer` as the case says. */
function detach(buffer: ArrayBuffer): void {
  switch (kind.split("-")[1]) {
    case "transfer":
      buffer.transfer(buffer.byteLength * 4);
      break;
    case "clone":
      structuredClone(buffer, { transfer: [buffer] });
      break;
    case "message": {
      const channel = new MessageChannel();
      channel.port1.postMessage(buffer, [buffer]);
      channel.port1.close();
      channel.port2.close();
      break;
    }
    default:
      throw new Error(`no such case: ${kind}`);
  }
  if (!buffer.detached) throw new Error("the buffer was not detached");
}

/** Fresh buffers, each filled with its own byte, where the freed memory may go. */
function fill(): Uint8Array[] {
  const buffers: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) buffers.push(new Uint8Array(4096 * (1 + (i % 4))).fill(i & 0xff));
  return buffers;
}

function checkIntact(buffers: Uint8Array[]): void {
  buffers.forEach((buffer, i) => {
    if (buffer.some((b) => b !== (i & 0xff))) throw new Error(`buffer ${i} was written into`);
  });
}

async function expectTypeError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    const value = await promise;
    throw new Error(`settled with ${value}, not a TypeError`);
  } catch (error) {
    if (!(error instanceof TypeError) || !pattern.test(error.message)) throw error;
  }
}

async function readCase(port: CompletionPort): Promise<void> {
  const stream = openStream();
  try {
    let buffer: Uint8Array | undefined = new Uint8Array(4096);
    const reading = port.read(stream.reader, buffer);
    await delay(20); // in flight, nothing to read yet
    detach(buffer.buffer as ArrayBuffer);
    buffer = undefined;
    gc();
    const fresh = fill();
    await port.write(stream.writer, new Uint8Array(100).fill(0xee));
    await expectTypeError(
      reading,
      /the buffer was detached while the read was in flight: (100|0) bytes read and lost$/,
    );
    gc();
    checkIntact(fresh);
  } finally {
    stream[Symbol.dispose]();
  }
}

async function writeCase(port: CompletionPort): Promise<void> {
  const stream = openStream();
  try {
    // More than the stream holds: the write stays in flight.
    let buffer: Uint8Array | undefined = new Uint8Array(4 * 1024 * 1024).fill(0x5a);
    const writing = port.write(stream.writer, buffer);
    await delay(50);
    detach(buffer.buffer as ArrayBuffer);
    buffer = undefined;
    gc();
    const fresh = fill();
    // Drain the stream: the write goes on, meets its detached buffer, and says so.
    const sink = new Uint8Array(256 * 1024);
    let drained = 0;
    const settled = writing.then(() => "resolved", (error) => error);
    // Read until the write settles; a read still waiting then is aborted
    // (one that moved bytes first resolves with them), so that no read
    // waits for bytes that will never come.
    for (;;) {
      const controller = new AbortController();
      void settled.then(() => controller.abort());
      try {
        const n = (await port.read(stream.reader, sink, { signal: controller.signal }))!;
        if (sink.subarray(0, n).some((b) => b !== 0x5a)) throw new Error("wrong bytes came");
        drained += n;
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
      if (controller.signal.aborted) break;
    }
    const outcome = await settled;
    if (!(outcome instanceof TypeError)) throw new Error(`the write gave ${outcome}`);
    const match = /the buffer was detached while the write was in flight \((\d+) bytes written\)$/
      .exec(outcome.message);
    if (!match) throw outcome;
    const written = Number(match[1]);
    // Read what is left of what it wrote: exactly that many bytes, all 0x5a.
    while (drained < written) {
      const n = (await port.read(stream.reader, sink))!;
      if (sink.subarray(0, n).some((b) => b !== 0x5a)) throw new Error("wrong bytes came");
      drained += n;
    }
    if (drained !== written) throw new Error(`read ${drained}, written ${written}`);
    gc();
    checkIntact(fresh);
  } finally {
    stream[Symbol.dispose]();
  }
}

async function allocateCase(port: CompletionPort): Promise<void> {
  const stream = openStream();
  try {
    const buffer = port.allocate(4096);
    // Port memory cannot be detached: the mistake throws in the caller's code.
    for (
      const attempt of [
        () => (buffer.buffer as ArrayBuffer).transfer(),
        () => structuredClone(buffer.buffer, { transfer: [buffer.buffer as ArrayBuffer] }),
      ]
    ) {
      try {
        attempt();
        throw new Error("port memory was detached");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
      }
    }
    const reading = port.read(stream.reader, buffer);
    await delay(20);
    gc();
    await port.write(stream.writer, new Uint8Array(10).fill(7));
    const n = await reading;
    if (n !== 10 || buffer.subarray(0, 10).some((b) => b !== 7)) {
      throw new Error(`read ${n} bytes into port memory`);
    }
  } finally {
    stream[Symbol.dispose]();
  }
}

await using port = openCompletionPort({ backend });
if (kind.startsWith("read-")) await readCase(port);
else if (kind.startsWith("write-")) await writeCase(port);
else if (kind === "allocate") await allocateCase(port);
else throw new Error(`no such case: ${kind}`);
console.log("ok");
