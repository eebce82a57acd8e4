// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A named-pipe echo on one CompletionPort (Windows): the server end sends
 * each message, the client end reads it whole and sends it back, and the
 * server end reads it whole again; every byte is checked both ways. All of
 * it runs through the port's `read()`/`write()`, without blocking the event
 * loop.
 *
 *     deno run --allow-ffi examples/pipe_echo.ts [--messages 1000] [--size 4096]
 *
 * Prints one summary line and exits 0; exits 1 if a byte came back wrong,
 * 2 for a bad flag. On another OS it says it needs Windows and exits 0.
 * Under Wine the line says so: Wine's timings are not Windows'.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CompletionPort, type Handle, openCompletionPort, openNamedPipePair } from "../mod.ts";

const USAGE = "Usage: deno run --allow-ffi examples/pipe_echo.ts [--messages 1000] [--size 4096]";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "1000" },
    size: { type: "string", default: "4096" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}

/** A flag's value as an integer from 1 to `max`, or exit 2. */
function positive(name: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    console.error(`--${name} must be an integer from 1 to ${max}, got ${text}\n${USAGE}`);
    Deno.exit(2);
  }
  return value;
}
const messages = positive("messages", values.messages, 1_000_000);
const size = positive("size", values.size, 64 * 1024 * 1024);

if (Deno.build.os !== "windows") {
  console.log(`pipe_echo needs Windows (named pipes and IOCP); this is ${Deno.build.os}`);
  Deno.exit(0);
}

/** Reads until `buffer` is full; a pipe that ends early is an error. */
async function readFull(port: CompletionPort, handle: Handle, buffer: Uint8Array): Promise<void> {
  for (let filled = 0; filled < buffer.length;) {
    const n = await port.read(handle, buffer.subarray(filled));
    if (n === null) {
      throw new Deno.errors.UnexpectedEof(
        `The pipe ended after ${filled} of ${buffer.length} bytes`,
      );
    }
    filled += n;
  }
}

/** Writes every byte of `bytes` (a write may take fewer). */
async function writeAll(port: CompletionPort, handle: Handle, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await port.write(handle, bytes.subarray(written));
  }
}

/** Throws unless `got` holds exactly the bytes of `want`. */
function check(what: string, message: number, want: Uint8Array, got: Uint8Array): void {
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      throw new Error(
        `Message ${message}, ${what}: byte ${i} is ${got[i]}, expected ${want[i]}`,
      );
    }
  }
}

/** "windows x86_64, Deno 2.9.6", plus "under Wine 10.0" when Wine is what runs it. */
function platform(): string {
  let label = `${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno}`;
  const ntdll = Deno.dlopen("ntdll.dll", {
    wine_get_version: { parameters: [], result: "pointer", optional: true },
  });
  try {
    const version = ntdll.symbols.wine_get_version?.();
    if (version) label += `, under Wine ${Deno.UnsafePointerView.getCString(version)}`;
  } finally {
    ntdll.close();
  }
  return label;
}

// Each message is a different window on one pseudo-random pattern.
const pattern = new Uint8Array(size + 251);
for (let i = 0, x = 12345; i < pattern.length; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  pattern[i] = x >>> 24;
}
const atClient = new Uint8Array(size);
const atServer = new Uint8Array(size);

// The pipe is declared first so that the port is closed first.
using pipe = openNamedPipePair();
await using port = openCompletionPort();
const { server, client } = pipe;

const start = performance.now();
for (let m = 0; m < messages; m++) {
  const message = pattern.subarray(m % 251, m % 251 + size);
  // Both directions at once: a message larger than the pipe's buffer
  // needs its reader running while it is written.
  await Promise.all([
    writeAll(port, server.handle, message),
    readFull(port, client.handle, atClient),
  ]);
  check("at the client", m, message, atClient);
  await Promise.all([
    writeAll(port, client.handle, atClient),
    readFull(port, server.handle, atServer),
  ]);
  check("back at the server", m, message, atServer);
}
const elapsed = performance.now() - start;

console.log(
  `pipe_echo: ${messages} messages of ${size} bytes echoed, ${
    2 * messages * size
  } bytes moved and checked, in ${elapsed.toFixed(1)} ms on ${platform()}`,
);
