// Copyright 2026 the @evented/io authors. MIT license.
// Arguments are type-checked before any coercion: an argument whose
// valueOf, toString or Symbol.toPrimitive throws gets our TypeError or
// RangeError, and none of its code runs.
import assert from "node:assert/strict";
import {
  bindUdp,
  Interest,
  listenTcp,
  openCompletionPort,
  openEventFd,
  openPipe,
  openSelector,
  openWaker,
  raiseFdLimit,
  SelectorEvents,
  startConnectTcp,
  wake,
} from "../../mod.ts";

const LINUX = Deno.build.os === "linux";

/** A value whose every coercion is recorded, and throws. */
class Hostile {
  static ran = 0;
  valueOf(): never {
    Hostile.ran++;
    throw new Error("valueOf ran");
  }
  toString(): never {
    Hostile.ran++;
    throw new Error("toString ran");
  }
  [Symbol.toPrimitive](): never {
    Hostile.ran++;
    throw new Error("Symbol.toPrimitive ran");
  }
}

// deno-lint-ignore no-explicit-any
const h = (): any => new Hostile();

/** Runs `call`, which must fail with our TypeError or RangeError without coercing anything. */
async function assertRefused(name: string, call: () => unknown): Promise<void> {
  Hostile.ran = 0;
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  assert.equal(Hostile.ran, 0, `${name}: a coercion of the argument ran`);
  assert.ok(
    error instanceof TypeError || error instanceof RangeError,
    `${name}: expected a TypeError or RangeError, got ${error}`,
  );
  assert.match((error as Error).message, /^Cannot /, `${name}: ${(error as Error).message}`);
}

Deno.test("hostile arguments: the module's functions coerce nothing", async () => {
  await assertRefused("openSelector({ backend })", () => openSelector({ backend: h() }));
  await assertRefused("wake(handle)", () => wake(h()));
  await assertRefused("openWaker(handle)", () => openWaker(h()));
  await assertRefused(
    "openCompletionPort({ backend })",
    () => openCompletionPort({ backend: h() }),
  );
  await assertRefused("listenTcp(options)", () => listenTcp(h()));
  await assertRefused("listenTcp({ port })", () => listenTcp({ port: h() }));
  await assertRefused("listenTcp({ hostname })", () => listenTcp({ port: 0, hostname: h() }));
  await assertRefused("listenTcp({ backlog })", () => listenTcp({ port: 0, backlog: h() }));
  await assertRefused("listenTcp({ reusePort })", () => listenTcp({ port: 0, reusePort: h() }));
  await assertRefused("startConnectTcp({ port })", () => startConnectTcp({ port: h() }));
  await assertRefused(
    "startConnectTcp({ hostname })",
    () => startConnectTcp({ hostname: h(), port: 1 }),
  );
  await assertRefused("bindUdp({ port })", () => bindUdp({ port: h() }));
  await assertRefused("new SelectorEvents(capacity)", () => new SelectorEvents(h()));
  if (LINUX) {
    await assertRefused("openEventFd({ initial })", () => openEventFd({ initial: h() }));
    await assertRefused("openEventFd({ semaphore })", () => openEventFd({ semaphore: h() }));
    await assertRefused("raiseFdLimit(wanted)", () => raiseFdLimit(h()));
  }
});

Deno.test("hostile arguments: a Selector's methods coerce nothing", async () => {
  using selector = openSelector();
  using listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
  const fd = listener.fd;
  await assertRefused("register(fd)", () => selector.register(h(), Interest.READABLE));
  await assertRefused("register(fd, interest)", () => selector.register(fd, h()));
  await assertRefused(
    "register(fd, interest, { oneshot })",
    () => selector.register(fd, Interest.READABLE, { oneshot: h() }),
  );
  selector.register(fd, Interest.READABLE);
  await assertRefused("modify(fd, interest)", () => selector.modify(fd, h()));
  await assertRefused("unregister(fd)", () => selector.unregister(h()));
  await assertRefused("select(timeout)", () => selector.select(h()));
  await assertRefused("selectInto(events)", () => selector.selectInto(h()));
  await assertRefused(
    "selectInto(events, timeout)",
    () => selector.selectInto(new SelectorEvents(), h()),
  );
  await assertRefused("wait({ timeout })", () => selector.wait({ timeout: h() }));
  await assertRefused("wait({ signal })", () => selector.wait({ signal: h() }));
  selector.unregister(fd);
  const events = new SelectorEvents();
  Hostile.ran = 0;
  assert.equal(events.fd(h()), -1);
  assert.equal(events.flags(h()), 0);
  assert.equal(events.data(h()), undefined);
  assert.equal(Hostile.ran, 0, "an event index was coerced");
});

Deno.test("hostile arguments: sockets coerce nothing", async () => {
  using listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
  using udp = bindUdp({ hostname: "127.0.0.1", port: 0 });
  await assertRefused(
    "trySend(buffer)",
    () => udp.trySend(h(), { hostname: "127.0.0.1", port: 9 }),
  );
  await assertRefused("trySend(buffer, address)", () => udp.trySend(new Uint8Array(1), h()));
  await assertRefused(
    "trySend(buffer, { port })",
    () => udp.trySend(new Uint8Array(1), { hostname: "127.0.0.1", port: h() }),
  );
  await assertRefused("tryReceive(buffer)", () => udp.tryReceive(h()));
  using conn = startConnectTcp({ hostname: "127.0.0.1", port: listener.addr.port });
  await assertRefused("shutdown(how)", () => conn.shutdown(h()));
  await assertRefused("setNoDelay(on)", () => conn.setNoDelay(h()));
  await assertRefused("tryRead(buffer)", () => conn.tryRead(h()));
  await assertRefused("tryWrite(buffer)", () => conn.tryWrite(h()));
});

Deno.test({
  name: "hostile arguments: a CompletionPort's methods coerce nothing",
  ignore: !LINUX,
  async fn() {
    await using port = openCompletionPort();
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    const one = new Uint8Array(1);
    await assertRefused("read(handle)", () => port.read(h(), one));
    await assertRefused("read(handle, buffer)", () => port.read(fd, h()));
    await assertRefused("read(…, { offset })", () => port.read(fd, one, { offset: h() }));
    await assertRefused("read(…, { signal })", () => port.read(fd, one, { signal: h() }));
    await assertRefused("write(handle, buffer)", () => port.write(pipe.writer.fd, h()));
    await assertRefused("post(key)", () => port.post(h()));
    await assertRefused("post(key, bytes)", () => port.post(1, h()));
    await assertRefused("associate(handle)", () => port.associate(h(), 1));
    await assertRefused("associate(handle, key)", () => port.associate(fd, h()));
    await assertRefused("get(timeout)", () => port.get(h()));
    await assertRefused("wait({ timeout })", () => port.wait({ timeout: h() }));
    await assertRefused("allocate(size)", () => port.allocate(h()));
    await assertRefused("accept(listener)", () => port.accept(h()));
    await assertRefused("connect(address)", () => port.connect(h()));
    await assertRefused(
      "connect({ port })",
      () => port.connect({ hostname: "127.0.0.1", port: h() }),
    );
  },
});
