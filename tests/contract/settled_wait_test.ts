// Copyright 2026 the @evented/io authors. MIT license.
// A wait() that has settled leaves no call of its object in flight, on
// every backend of this OS (Linux: the io_uring and epoll ports, the epoll
// and poll Selectors; Windows, under Wine: the iocp port and the afd
// Selector). Each test is what a user's test does: open, await one wait(),
// close synchronously, end; Deno's op and resource sanitizers then report
// any nonblocking FFI call still on its way back, and the library still
// open. Each way a wait can settle (its timeout, its signal, a post() or a
// wakeup(), an event) is its own test, declared ROUNDS times, because such
// a leak shows in some runs and not others.
import assert from "node:assert/strict";
import {
  bindUdp,
  type CompletionBackend,
  Interest,
  openCompletionPort,
  openSelector,
  type SelectorBackend,
} from "../../mod.ts";
import { opens } from "../_helpers/mod.ts";

const OS = Deno.build.os;
const ROUNDS = 20;
/** How long after the wait starts its trigger fires, in ms. */
const AFTER_MS = 5;

const PORTS: readonly CompletionBackend[] = OS === "linux"
  ? ["io_uring", "epoll"]
  : OS === "windows"
  ? ["iocp"]
  : [];
const SELECTORS: readonly SelectorBackend[] = OS === "linux"
  ? ["epoll", "poll"]
  : OS === "windows"
  ? ["afd"]
  : [];

/** Declares `fn` ROUNDS times, as separate tests. */
function rounds(name: string, ignore: boolean, fn: () => Promise<void>): void {
  for (let round = 1; round <= ROUNDS; round++) {
    Deno.test({ name: `${name} (round ${round})`, ignore, fn });
  }
}

for (const backend of PORTS) {
  const ignore = !opens(backend);
  const name = `${backend} port: a wait() settled`;
  rounds(`${name} by its timeout leaves nothing in flight`, ignore, async () => {
    const port = openCompletionPort({ backend });
    assert.deepEqual(await port.wait({ timeout: AFTER_MS }), []);
    port.close();
  });
  rounds(`${name} by its signal leaves nothing in flight`, ignore, async () => {
    const port = openCompletionPort({ backend });
    const reason = new Error("enough");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(reason), AFTER_MS);
    try {
      await assert.rejects(port.wait({ signal: controller.signal }), (e) => e === reason);
    } finally {
      clearTimeout(timer);
    }
    port.close();
  });
  rounds(`${name} by a post() leaves nothing in flight`, ignore, async () => {
    const port = openCompletionPort({ backend });
    const timer = setTimeout(() => port.post(7, 1), AFTER_MS);
    try {
      assert.deepEqual((await port.wait()).map(({ key }) => key), [7]);
    } finally {
      clearTimeout(timer);
    }
    port.close();
  });
  rounds(`${name} by close() leaves nothing in flight`, ignore, async () => {
    const port = openCompletionPort({ backend });
    const timer = setTimeout(() => port.close(), AFTER_MS);
    try {
      assert.deepEqual(await port.wait(), []);
    } finally {
      clearTimeout(timer);
    }
  });
}

for (const backend of SELECTORS) {
  const name = `${backend} Selector: a wait() settled`;
  rounds(`${name} by its timeout leaves nothing in flight`, false, async () => {
    const selector = openSelector({ backend });
    assert.deepEqual(await selector.wait({ timeout: AFTER_MS }), []);
    selector.close();
  });
  rounds(`${name} by its signal leaves nothing in flight`, false, async () => {
    const selector = openSelector({ backend });
    const reason = new Error("enough");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(reason), AFTER_MS);
    try {
      await assert.rejects(selector.wait({ signal: controller.signal }), (e) => e === reason);
    } finally {
      clearTimeout(timer);
    }
    selector.close();
  });
  rounds(`${name} by a wakeup() leaves nothing in flight`, false, async () => {
    const selector = openSelector({ backend });
    const timer = setTimeout(() => selector.wakeup(), AFTER_MS);
    try {
      assert.deepEqual(await selector.wait(), []);
    } finally {
      clearTimeout(timer);
    }
    selector.close();
  });
  rounds(`${name} by an event leaves nothing in flight`, false, async () => {
    const selector = openSelector({ backend });
    using receiver = bindUdp({ port: 0 });
    using sender = bindUdp({ port: 0 });
    selector.register(receiver.fd, Interest.READABLE);
    const timer = setTimeout(() => sender.trySend(new Uint8Array([1]), receiver.addr), AFTER_MS);
    try {
      const events = await selector.wait({ timeout: 10_000 });
      assert.deepEqual(events.map(({ fd, readable }) => [fd, readable]), [[receiver.fd, true]]);
    } finally {
      clearTimeout(timer);
    }
    selector.unregister(receiver.fd);
    selector.close();
  });
}
