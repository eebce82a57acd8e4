// Copyright 2026 the @evented/io authors. MIT license.
import assert from "node:assert/strict";
import { BACKENDS } from "../_helpers/mod.ts";

const linux = Deno.build.os === "linux";
const WATCH = new URL("../../examples/watch.ts", import.meta.url).pathname;

for (const backend of BACKENDS) {
  Deno.test({
    name: `${backend}: examples/watch.ts echoes stdin and pipe ticks, and stops at end of stdin`,
    ignore: !linux,
    async fn() {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-ffi", WATCH, "--seconds", "20", "--backend", backend],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("hello\n"));
      await writer.close();
      const { code, stdout, stderr } = await child.output();
      const out = new TextDecoder().decode(stdout);
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      assert.match(out, new RegExp(`watching stdin and a pipe with ${backend}`));
      assert.match(out, /stdin readable: "hello\\n"/);
      assert.match(out, /stdin ended/);
      assert.match(out, /pipe readable: tick 1/);
      assert.match(out, /done after \d+ ticks/);
    },
  });
}
