// Copyright 2026 the @evented/io authors. MIT license.
// No kernel write into memory JavaScript has given up: an operation whose
// buffer is detached while it is in flight (ArrayBuffer.prototype.transfer,
// structuredClone or postMessage with a transfer list), then garbage
// collected, settles with a TypeError saying what it moved, and writes into
// nothing else; memory from the port's allocate() cannot be detached at
// all. Each case runs in a child process (tests/_helpers/detached_child.ts, with
// --expose-gc), since a failure may crash the process: before the port
// owned the memory the kernel sees, the io_uring read case overwrote live
// buffers or crashed, and the epoll port resolved the read with a false
// end of stream.
import assert from "node:assert/strict";
import type { CompletionBackend } from "../../mod.ts";
import { opens } from "../_helpers/mod.ts";

const OS = Deno.build.os;
const BACKENDS: readonly CompletionBackend[] = OS === "linux"
  ? ["io_uring", "epoll"]
  : OS === "windows"
  ? ["iocp"]
  : [];
const CASES = [
  "read-transfer",
  "read-clone",
  "read-message",
  "write-transfer",
  "write-clone",
  "allocate",
];
const CHILD = new URL("../_helpers/detached_child.ts", import.meta.url).pathname.replace(
  /^\/([A-Za-z]:)/,
  "$1",
);

for (const backend of BACKENDS) {
  const ignore = !opens(backend);
  for (const kind of CASES) {
    Deno.test({
      name: `${backend}: ${
        kind === "allocate"
          ? "port memory cannot be detached, and a read into it needs no copy"
          : `a ${kind.split("-")[0]} whose buffer is detached in flight (${
            kind.split("-")[1]
          }) settles with a TypeError and writes into nothing else`
      }`,
      ignore,
      async fn() {
        const output = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--v8-flags=--expose-gc",
            "--allow-ffi",
            "--allow-read",
            CHILD,
            backend,
            kind,
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(output.stdout).trim();
        const stderr = new TextDecoder().decode(output.stderr).trim();
        assert.equal(
          output.code,
          0,
          `the child exited ${output.code} (signal ${output.signal}):\n${stderr}`,
        );
        assert.equal(stdout, "ok", stderr);
      },
    });
  }
}
