// Copyright 2026 the @evented/io authors. MIT license.
// The examples that are neither echo servers (tests/contract/echo_test.ts)
// nor Unix-socket programs (unix_examples_test.ts), run as users run them,
// each bounded in time and on loopback only.
import assert from "node:assert/strict";
import { connectTcp } from "../../mod.ts";
import { startServer } from "../../examples/_process.ts";
import { BACKENDS, timeLimit } from "../_helpers/mod.ts";

const linux = Deno.build.os === "linux";
const sockets = linux || Deno.build.os === "windows";
const example = (name: string) => new URL(`../../examples/${name}`, import.meta.url).pathname;
const WATCH = example("watch.ts");

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

Deno.test({
  name: "examples/inotify_watch.ts prints what happens in a directory, and stops on SIGINT",
  ignore: !linux,
  fn: () =>
    timeLimit(30_000, async () => {
      const dir = await Deno.makeTempDir();
      try {
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-ffi",
            example("inotify_watch.ts"),
            "--dir",
            dir,
            "--seconds",
            "20",
          ],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const errors = new Response(child.stderr).text();
        let out = "";
        const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        const until = async (pattern: RegExp) => {
          while (!pattern.test(out)) {
            const { value, done } = await lines.read();
            if (done) assert.fail(`ended before ${pattern}: ${out}${await errors}`);
            out += value;
          }
        };
        await until(/^watching /m);
        await Deno.writeTextFile(`${dir}/hello.txt`, "hi");
        await Deno.rename(`${dir}/hello.txt`, `${dir}/bye.txt`);
        await until(/^moved in bye\.txt$/m);
        child.kill("SIGINT");
        await until(/^stopped$/m);
        await lines.cancel();
        const { code } = await child.status;
        assert.equal(code, 0, await errors);
        assert.match(out, /^created hello\.txt$/m);
        assert.match(out, /^modified hello\.txt$/m);
        assert.match(out, /^moved out hello\.txt$/m);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }),
});

Deno.test({
  name: "examples/line_numbers.ts numbers the lines of each connection, split anywhere",
  ignore: !sockets,
  fn: () =>
    timeLimit(60_000, async () => {
      await using server = await startServer(Deno.execPath(), [
        "run",
        "--allow-ffi",
        example("line_numbers.ts"),
        "--port",
        "0",
      ]);
      const text = "first\nsec\u00f6nd\n\nlast, with no newline";
      const bytes = new TextEncoder().encode(text);
      const exchanges = [1, 3, 7].map(async (piece) => {
        using conn = await connectTcp({ port: server.port });
        for (let at = 0; at < bytes.length; at += piece) {
          await conn.write(bytes.subarray(at, at + piece)); // split inside "ö" too
        }
        await conn.closeWrite();
        let reply = "";
        for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
          reply += chunk;
        }
        return reply;
      });
      for (const reply of await Promise.all(exchanges)) {
        assert.equal(reply, "1: first\n2: sec\u00f6nd\n3: \n4: last, with no newline\n");
      }
      if (!linux) return; // Deno on Windows sends no signal to a child: it is killed
      const { code, stdout, stderr } = await server.stop("SIGINT");
      assert.equal(code, 0, stderr);
      assert.equal(stdout, "stopped: 3 connections served\n");
    }),
});
