// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The examples of fd passing and socket activation, run as a user runs
 * them: examples/fd_handoff.ts hands two connections to its child, which
 * serves them; examples/activated.ts serves a socket passed by the test's
 * own launcher, and by systemd-socket-activate where it is installed: a
 * listener, and with --accept a connection.
 */

import assert from "node:assert/strict";
import { Interest, listenTcp, openSelector, startConnectTcp, type TcpConn } from "../../mod.ts";
import { launchActivated } from "../_helpers/launcher.ts";
import { assertNoNewFds, emulatorHere, linuxTest, settledFds } from "../_helpers/mod.ts";

const HANDOFF = new URL("../../examples/fd_handoff.ts", import.meta.url).pathname;
const ACTIVATED = new URL("../../examples/activated.ts", import.meta.url).pathname;

/** The lines a child prints, as they come. */
class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #buffered = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  async next(): Promise<string> {
    for (;;) {
      const end = this.#buffered.indexOf("\n");
      if (end >= 0) {
        const line = this.#buffered.slice(0, end);
        this.#buffered = this.#buffered.slice(end + 1);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`The output ended: ${JSON.stringify(this.#buffered)}`);
      this.#buffered += value;
    }
  }
  /** The rest, once the stream has ended. */
  async rest(): Promise<string> {
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) return this.#buffered;
      this.#buffered += value;
    }
  }
}

/** A TCP client on this module's sockets that talks in lines. */
class Client implements Disposable {
  #selector = openSelector();
  #conn: TcpConn;
  #lines = "";
  private constructor(conn: TcpConn) {
    this.#conn = conn;
  }
  static async connect(port: number): Promise<Client> {
    const client = new Client(startConnectTcp({ port }));
    try {
      await client.#ready(Interest.WRITABLE);
      client.#conn.finishConnect();
      return client;
    } catch (error) {
      client[Symbol.dispose](); // a refused connect keeps nothing open
      throw error;
    }
  }
  async #ready(interest: number): Promise<void> {
    this.#selector.register(this.#conn.fd, interest);
    try {
      if ((await this.#selector.wait({ timeout: 10_000 })).length === 0) {
        throw new Error("Timed out");
      }
    } finally {
      this.#selector.unregister(this.#conn.fd);
    }
  }
  async line(): Promise<string> {
    const buffer = new Uint8Array(256);
    while (!this.#lines.includes("\n")) {
      const n = this.#conn.tryRead(buffer);
      if (n === null) throw new Error(`The connection ended: ${JSON.stringify(this.#lines)}`);
      if (n === 0) await this.#ready(Interest.READABLE);
      this.#lines += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const end = this.#lines.indexOf("\n");
    const line = this.#lines.slice(0, end);
    this.#lines = this.#lines.slice(end + 1);
    return line;
  }
  send(text: string): void {
    const bytes = new TextEncoder().encode(text);
    assert.equal(this.#conn.tryWrite(bytes), bytes.length);
  }
  [Symbol.dispose](): void {
    this.#conn.close();
    this.#selector.close();
  }
}

function exampleTest(name: string, fn: () => Promise<void>): void {
  linuxTest(name, async () => {
    const before = await settledFds();
    await fn();
    assertNoNewFds(before);
  });
}

exampleTest(
  "examples/fd_handoff.ts: its child serves the connections the parent accepts",
  async () => {
    const parent = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-run", "--allow-read", HANDOFF, "--connections", "2"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(parent.stderr).text();
    const lines = new Lines(parent.stdout);
    const port = Number((await lines.next()).match(/^listening on 127\.0\.0\.1:(\d+)$/)?.[1]);
    const childPid = Number((await lines.next()).match(/^handing connections to pid (\d+)$/)?.[1]);
    assert.ok(port > 0 && childPid > 0 && childPid !== parent.pid);
    for (const text of ["hello", "again"]) {
      using client = await Client.connect(port);
      assert.equal(await client.line(), `served by pid ${childPid}`);
      client.send(`${text}\n`);
      assert.equal(await client.line(), text);
    }
    assert.equal(await lines.rest(), "");
    const status = await parent.status;
    assert.equal(status.code, 0, await stderr);
  },
);

/** Serves one connection of examples/activated.ts, started by `start` on `port`. */
async function serveOnce(child: Deno.ChildProcess, port: number): Promise<void> {
  const stderr = new Response(child.stderr).text();
  const stdout = new Response(child.stdout).text();
  {
    using client = await connectRetrying(port);
    assert.equal(await client.line(), `hello from pid ${child.pid} on echo`);
    client.send("ping\n");
    assert.equal(await client.line(), "ping");
  }
  const status = await child.status;
  assert.equal(status.code, 0, await stderr);
  assert.equal(await stdout, "activated: echo on fd 3\ndone after 1 connection(s)\n");
}

/** Connects, trying again while nothing listens yet (a launcher still starting). */
async function connectRetrying(port: number): Promise<Client> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    try {
      return await Client.connect(port);
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused) || performance.now() > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

exampleTest(
  "examples/activated.ts serves the socket a launcher passed, as systemd passes it",
  async () => {
    const listener = listenTcp({ port: 0 });
    const port = listener.addr.port;
    let child;
    try {
      child = launchActivated(
        [listener.fd],
        Deno.execPath(),
        ["run", "--allow-ffi", "--allow-env", ACTIVATED, "--connections", "1"],
        { names: ["echo"] },
      );
    } finally {
      listener.close(); // the child has its copy
    }
    await serveOnce(child, port);
  },
);

/**
 * systemd-socket-activate hands its service only TERM, PATH, USER, HOME and
 * what -E names: under qemu-user, the sysroot the emulated Deno needs too.
 */
const EMULATOR_ENV = emulatorHere() ? ["-E", "QEMU_LD_PREFIX"] : [];

const socketActivate = Deno.build.os === "linux" && (() => {
  try {
    return new Deno.Command("systemd-socket-activate", { args: ["--version"] }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: `examples/activated.ts under systemd-socket-activate${
    socketActivate ? "" : " [not installed here]"
  }`,
  ignore: Deno.build.os !== "linux" || !socketActivate,
  async fn() {
    const before = await settledFds();
    // A port that was free a moment ago (systemd-socket-activate binds it itself).
    const probe = listenTcp({ port: 0 });
    const port = probe.addr.port;
    probe.close();
    const child = new Deno.Command("systemd-socket-activate", {
      args: [
        "-l",
        `127.0.0.1:${port}`,
        "--fdname=echo",
        ...EMULATOR_ENV,
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "--allow-env",
        ACTIVATED,
        "--connections",
        "1",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await serveOnce(child, port);
    assertNoNewFds(before);
  },
});

Deno.test({
  name: `examples/activated.ts serves the connection systemd-socket-activate --accept passes${
    socketActivate ? "" : " [not installed here]"
  }`,
  ignore: Deno.build.os !== "linux" || !socketActivate,
  async fn() {
    const before = await settledFds();
    const probe = listenTcp({ port: 0 });
    const port = probe.addr.port;
    probe.close();
    // With --accept the launcher stays, and starts one service per connection, given that connection.
    const launcher = new Deno.Command("systemd-socket-activate", {
      args: [
        "--accept",
        "-l",
        `127.0.0.1:${port}`,
        "--fdname=echo",
        ...EMULATOR_ENV,
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "--allow-env",
        ACTIVATED,
        "--connections",
        "1",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new Response(launcher.stdout).text();
    let log = ""; // the launcher's own, as it comes
    const logged = (async () => {
      for await (const text of launcher.stderr.pipeThrough(new TextDecoderStream())) log += text;
    })();
    try {
      using client = await connectRetrying(port);
      const greeting = await client.line();
      const pid = Number(greeting.match(/^hello from pid (\d+) on echo$/)?.[1]);
      assert.ok(pid > 0 && pid !== launcher.pid, greeting);
      client.send("pong\n");
      assert.equal(await client.line(), "pong");
    } finally {
      // Once its service has ended (the log says so), the launcher is stopped.
      const deadline = performance.now() + 10_000;
      while (!log.includes("died with code")) {
        if (performance.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      launcher.kill("SIGTERM");
      await launcher.status;
      await logged;
    }
    assert.equal(await stdout, "activated: echo on fd 3\ndone after 1 connection(s)\n");
    assert.match(log, /Child \d+ died with code 0/);
    assertNoNewFds(before);
  },
});
