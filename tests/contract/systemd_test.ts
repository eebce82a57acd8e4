// Copyright 2026 the @evented/io authors. MIT license.
/**
 * systemd's protocols: listenFds() in children started with LISTEN_FDS,
 * LISTEN_PID and LISTEN_FDNAMES as systemd sets them (tests/_launcher.ts),
 * or set wrong; notify() from a child to a datagram socket this test
 * listens on, at a path and at an abstract (`@`) name; and systemd's own
 * way of reading integers. Every fd counted before and after.
 */

import assert from "node:assert/strict";
import {
  bindUdp,
  bindUnixDatagram,
  connectUnix,
  Interest,
  listenTcp,
  listenUnix,
  openPipe,
  openSelector,
  type Selector,
  startConnectTcp,
  type TcpConn,
  type UnixConn,
} from "../../mod.ts";
import { parseSystemdInteger } from "../../net/_systemd.ts";
import { launchActivated } from "../_helpers/launcher.ts";
import { assertNoNewFds, linuxTest, settledFds } from "../_helpers/mod.ts";

const CHILD = new URL("../_helpers/listen_fds_child.ts", import.meta.url).pathname;
const MOD = new URL("../../mod.ts", import.meta.url).href;

/** A Linux test that spawns children and must leave no new fd open. */
function systemdTest(name: string, fn: () => Promise<void>): void {
  linuxTest(name, async () => {
    const before = await settledFds();
    await fn();
    assertNoNewFds(before);
  });
}

interface Report {
  pid: number;
  sockets?: { name: string; fd: number; kind: string }[];
  error?: { name: string; message: string; code: string | null };
  env: Record<string, string | null>;
}

const NO_ENV = { LISTEN_PID: null, LISTEN_FDS: null, LISTEN_FDNAMES: null };

/** The child's report, once it has exited 0. */
async function reportOf(child: Deno.ChildProcess): Promise<Report> {
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout).split("\n")[0]);
}

/** Launches the child with `fds` as systemd would. */
function launch(
  fds: readonly number[],
  options: Parameters<typeof launchActivated>[3] = {},
  serve = false,
): Deno.ChildProcess {
  const args = ["run", "--allow-ffi", "--allow-env", CHILD];
  return launchActivated(fds, Deno.execPath(), serve ? [...args, "--serve"] : args, options);
}

/** Reads `conn` to its end (at most 10 s), waiting with `selector`. */
async function readAll(selector: Selector, conn: TcpConn | UnixConn): Promise<string> {
  const buffer = new Uint8Array(256);
  let text = "";
  const deadline = performance.now() + 10_000;
  selector.register(conn.fd, Interest.READABLE);
  try {
    for (let n; (n = conn.tryRead(buffer)) !== null;) {
      if (performance.now() > deadline) throw new Error(`only "${text}" came`);
      if (n === 0) await selector.wait({ timeout: 100 });
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } finally {
    selector.unregister(conn.fd);
  }
  return text;
}

systemdTest(
  "listenFds() in a child launched as systemd does: fds from 3, named, variables removed",
  async () => {
    using selector = openSelector();
    const web = listenTcp({ port: 0 });
    const adminPath = `\0evented-io-test-admin-${crypto.randomUUID()}`;
    const admin = listenUnix({ path: adminPath });
    const dns = bindUdp({ port: 0 });
    const port = web.addr.port;
    const child = launch([web.fd, admin.fd, dns.fd], { names: ["web", "admin", "dns"] }, true);
    const output = reportOf(child);
    // The child holds its own copies: ours may go, and the sockets stay open.
    web.close();
    admin.close();
    dns.close();
    using tcp = startConnectTcp({ port });
    using unix = await connectUnix({ path: adminPath });
    assert.equal(await readAll(selector, tcp), "web\n");
    assert.equal(await readAll(selector, unix), "admin\n");
    const report = await output;
    assert.equal(report.pid, child.pid, "LISTEN_PID was not the child's own pid");
    assert.deepEqual(report.sockets, [
      { name: "web", fd: 3, kind: "TcpListener" },
      { name: "admin", fd: 4, kind: "UnixListener" },
      { name: "dns", fd: 5, kind: "UdpSocket" },
    ]);
    assert.deepEqual(report.env, NO_ENV);
  },
);

systemdTest('without LISTEN_FDNAMES each socket is named "unknown"', async () => {
  using first = listenUnix({ path: `\0evented-io-test-unknown-${crypto.randomUUID()}` });
  using second = bindUnixDatagram({});
  const report = await reportOf(launch([first.fd, second.fd]));
  assert.deepEqual(report.sockets, [
    { name: "unknown", fd: 3, kind: "UnixListener" },
    { name: "unknown", fd: 4, kind: "UnixDatagramSocket" },
  ]);
});

systemdTest(
  "LISTEN_PID of another process: nothing is taken, and the variables are removed",
  async () => {
    using socket = bindUnixDatagram({});
    const report = await reportOf(launch([socket.fd], { pid: "1", names: ["x"] }));
    assert.deepEqual(report.sockets, []);
    assert.deepEqual(report.env, NO_ENV);
    // Nor is anything taken without LISTEN_PID at all.
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-env", CHILD],
      env: { LISTEN_FDS: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const bare = await reportOf(child);
    assert.deepEqual(bare.sockets, []);
    assert.deepEqual(bare.env, NO_ENV);
  },
);

systemdTest(
  "malformed variables, or an fd that is no socket, are a TypeError and take nothing",
  async () => {
    using socket = bindUnixDatagram({});
    using pipe = openPipe();
    const cases: [
      readonly number[],
      Parameters<typeof launchActivated>[3],
      RegExp,
      string | null,
    ][] = [
      [[socket.fd], { pid: "abc" }, /LISTEN_PID must be a process id, got "abc"/, null],
      [[socket.fd], { pid: "-5" }, /LISTEN_PID must be a process id/, null],
      [[socket.fd], { count: "0" }, /LISTEN_FDS must be a positive number of fds, got "0"/, null],
      [[socket.fd], { count: "1x" }, /LISTEN_FDS must be a positive number/, null],
      [
        [socket.fd],
        { names: ["a", "b"] },
        /LISTEN_FDNAMES names 2 fds \("a:b"\), LISTEN_FDS says 1/,
        null,
      ],
      [
        [socket.fd, pipe.reader.fd],
        { names: ["sock", "fifo"] },
        /fd 4 \("fifo"\) of 2: Cannot adopt fd 4: it is not a socket: ENOTSOCK/,
        "ENOTSOCK",
      ],
    ];
    for (const [fds, options, message, code] of cases) {
      const report = await reportOf(launch(fds, options));
      assert.equal(report.sockets, undefined, `taken with ${JSON.stringify(options)}`);
      assert.equal(report.error?.name, "TypeError");
      assert.match(report.error!.message, message);
      assert.equal(report.error?.code, code);
      assert.deepEqual(report.env, NO_ENV);
    }
  },
);

linuxTest("systemd's integers: blanks, a sign, 0x, 0o, 0b and C's octal, nothing after", () => {
  const cases: [string, number | undefined][] = [
    ["3", 3],
    ["  42", 42],
    ["+7", 7],
    ["-7", -7],
    ["0x1f", 31],
    ["0X1F", 31],
    ["010", 8],
    ["0o10", 8],
    ["0b101", 5],
    ["0", 0],
    ["", undefined],
    ["3 ", undefined],
    ["3x", undefined],
    ["08", undefined],
    ["0x", undefined],
    ["0b2", undefined],
    ["1e3", undefined],
    ["9".repeat(20), undefined],
  ];
  for (const [text, value] of cases) {
    assert.equal(parseSystemdInteger(text), value, JSON.stringify(text));
  }
});

/** Runs `code` in a child with NOTIFY_SOCKET set (or not), and the permissions in `allow`. */
async function runNotify(
  code: string,
  notifySocket: string | undefined,
  allow = ["--allow-ffi", "--allow-env"],
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...allow, "-"],
    env: notifySocket === undefined ? {} : { NOTIFY_SOCKET: notifySocket },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(`import { notify, listenFds } from "${MOD}";\n${code}`),
  );
  await writer.close();
  const { code: status, stdout, stderr } = await child.output();
  assert.equal(status, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

const TRY_NOTIFY = `
  try { console.log(notify(Deno.args[0] ?? "READY=1\\nSTATUS=up")); }
  catch (e) { console.log(e.constructor.name, e.code ?? "-", e.message); }
`;

systemdTest("notify() sends its state to NOTIFY_SOCKET, a path or an @ name", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "evented-io-notify-" });
  try {
    const name = `evented-io-test-notify-${crypto.randomUUID()}`;
    for (
      const [address, bound] of [[`${dir}/notify.sock`, `${dir}/notify.sock`], [
        `@${name}`,
        `\0${name}`,
      ]]
    ) {
      using manager = bindUnixDatagram({ path: bound });
      assert.equal(await runNotify(TRY_NOTIFY, address), "true\n");
      const buffer = new Uint8Array(256);
      const got = manager.tryReceive(buffer);
      assert.ok(got !== null, `nothing came to ${address}`);
      assert.equal(new TextDecoder().decode(buffer.subarray(0, got[0])), "READY=1\nSTATUS=up");
      assert.equal(manager.tryReceive(buffer), null);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

systemdTest(
  "notify() without NOTIFY_SOCKET is false; a bad one is an error saying why",
  async () => {
    assert.equal(await runNotify(TRY_NOTIFY, undefined), "false\n");
    const nobody = `@evented-io-test-nobody-${crypto.randomUUID()}`;
    assert.match(
      await runNotify(TRY_NOTIFY, nobody),
      /^ConnectionRefused ECONNREFUSED Cannot notify/,
    );
    assert.match(await runNotify(TRY_NOTIFY, "/nonexistent/notify"), /^NotFound ENOENT/);
    assert.match(
      await runNotify(TRY_NOTIFY, "relative/path"),
      /^TypeError - .*absolute path or an @/,
    );
    assert.match(await runNotify(TRY_NOTIFY, "vsock:2:999"), /^NotSupported - .*AF_VSOCK/);
  },
);

systemdTest("without --allow-env, listenFds() and notify() are NotCapable", async () => {
  const out = await runNotify(
    `for (const f of [() => listenFds(), () => notify("READY=1")]) {
       try { f(); console.log("no error"); } catch (e) { console.log(e.name); }
     }`,
    "@x",
    ["--allow-ffi"],
  );
  assert.equal(out, "NotCapable\nNotCapable\n");
});
