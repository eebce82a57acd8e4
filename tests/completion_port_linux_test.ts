// Copyright 2026 the @evented/io authors. MIT license.
import assert from "node:assert/strict";
import { openCompletionPort } from "../mod.ts";
import { linuxTest } from "./_util.ts";

linuxTest("openCompletionPort() on Linux throws NotSupported naming the OS", () => {
  for (const options of [undefined, { backend: "iocp" as const }, { concurrency: 2 }]) {
    assert.throws(() => openCompletionPort(options), (error: Error) => {
      assert.ok(error instanceof Deno.errors.NotSupported);
      assert.match(error.message, /^Cannot open completion port on linux: /);
      return true;
    });
  }
});

linuxTest("openCompletionPort() checks its options before anything else", () => {
  assert.throws(() => openCompletionPort({ concurrency: -1 }), RangeError);
  assert.throws(() => openCompletionPort({ concurrency: 1.5 }), RangeError);
  // @ts-expect-error: not a backend
  assert.throws(() => openCompletionPort({ backend: "kqueue" }), TypeError);
});
