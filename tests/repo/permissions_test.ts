// Copyright 2026 the @evented/io authors. MIT license.
import assert from "node:assert/strict";

const linux = Deno.build.os === "linux";
const MOD = new URL("../../mod.ts", import.meta.url).href;

/** Runs `code` as a program read from stdin, with only the permissions in `args`. */
async function run(args: string[], code: string): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...args, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  return await child.output();
}

Deno.test({
  name: "importing mod.ts needs no permission; opening a selector needs --allow-ffi",
  ignore: !linux,
  async fn() {
    const code = `
      import { openSelector } from "${MOD}";
      console.log("imported");
      try { openSelector(); } catch (e) { console.log(e.name); }
    `;
    const denied = await run([], code);
    assert.equal(new TextDecoder().decode(denied.stdout), "imported\nNotCapable\n");
    const allowed = await run(["--allow-ffi"], code);
    assert.equal(new TextDecoder().decode(allowed.stdout), "imported\n");
    assert.equal(allowed.code, 0);
  },
});

Deno.test({
  name:
    "--allow-ffi alone listens and connects where Deno.listen() is refused: it bypasses --allow-net",
  ignore: !linux,
  async fn() {
    const code = `
      import { startConnectTcp, listenTcp } from "${MOD}";
      try { Deno.listen({ hostname: "127.0.0.1", port: 0 }).close(); } catch (e) { console.log("Deno.listen", e.name); }
      console.log("net", (await Deno.permissions.query({ name: "net" })).state);
      using listener = listenTcp({ port: 0 });
      using client = startConnectTcp({ port: listener.addr.port });
      console.log("listenTcp and startConnectTcp", listener.addr.hostname, client.remoteAddr.port === listener.addr.port);
    `;
    const result = await run(["--allow-ffi"], code);
    assert.equal(
      new TextDecoder().decode(result.stdout),
      "Deno.listen NotCapable\nnet prompt\nlistenTcp and startConnectTcp 127.0.0.1 true\n",
      new TextDecoder().decode(result.stderr),
    );
    assert.equal(result.code, 0);
  },
});
