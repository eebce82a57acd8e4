// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The Selector's hot calls beside the same kernel calls made raw through
 * FFI (the baselines); `bench/run.ts` adds the C figures and the ratios.
 *
 *     deno bench --allow-ffi bench/selector_bench.ts
 *
 * Ready fds are eventfds with a counter of 1: readable until read, which
 * no benchmark does.
 *
 * @module
 */

import { Interest, openEventFd, openSelector, SelectorEvents } from "../mod.ts";
import {
  acquireLibc,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLL_EVENT_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
} from "../ffi/libc.ts";

const MANY = 1000;
const libc = acquireLibc();
const STRIDE = EPOLL_EVENT_SIZE / 4;
const DATA = EPOLL_EVENT_DATA_OFFSET / 4;

/** A raw epoll set of `fds`, watched for EPOLLIN, with the fd as data. */
function rawEpoll(fds: number[]): number {
  const epfd = libc.epoll_create1(0);
  const event = new Uint8Array(16);
  const words = new Uint32Array(event.buffer);
  for (const fd of fds) {
    words[0] = EPOLLIN | EPOLLRDHUP;
    words[DATA] = fd;
    words[DATA + 1] = 1;
    if (libc.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, event) !== 0) throw new Error("epoll_ctl");
  }
  return epfd;
}

/** The raw loop's work per event: read flags and data, as the C program does. */
function consume(words: Uint32Array, n: number): number {
  let acc = 0;
  for (let i = 0, w = 0; i < n; i++, w += STRIDE) acc += words[w] + words[w + DATA];
  return acc;
}

// Everything below lives as long as the bench process.
const ready = Array.from({ length: MANY }, () => openEventFd({ initial: 1 }));
const idle = openEventFd();

const one = openSelector<number>();
one.register(ready[0].fd, Interest.READABLE, { data: 0 });
const many = openSelector<number>();
ready.forEach((fd, i) => many.register(fd.fd, Interest.READABLE, { data: i }));
const ctl = openSelector();
const events = new SelectorEvents<number>(MANY + 1);

const rawOne = rawEpoll([ready[0].fd]);
const rawMany = rawEpoll(ready.map((fd) => fd.fd));
const rawCtl = libc.epoll_create1(0);
const rawBuffer = new Uint8Array((MANY + 64) * EPOLL_EVENT_SIZE);
const rawWords = new Uint32Array(rawBuffer.buffer);
const rawEvent = new Uint8Array(16);
const rawEventWords = new Uint32Array(rawEvent.buffer);
let sink = 0;

Deno.bench({
  group: "select-1-ready",
  name: "raw epoll_wait(0) through FFI",
  baseline: true,
  fn() {
    const n = libc.epoll_wait(rawOne, rawBuffer, 64, 0);
    if (n !== 1) throw new Error(`${n} events`);
    sink += consume(rawWords, n);
  },
});
Deno.bench({
  group: "select-1-ready",
  name: "Selector.selectInto(events, 0)",
  fn() {
    const n = one.selectInto(events, 0);
    if (n !== 1) throw new Error(`${n} events`);
    sink += events.flags(0) + events.data(0)!;
  },
});
Deno.bench({
  group: "select-1-ready",
  name: "Selector.select(0), allocating",
  fn() {
    const list = one.select(0);
    if (list.length !== 1) throw new Error(`${list.length} events`);
    sink += list[0].data!;
  },
});

Deno.bench({
  group: "select-1000-ready",
  name: "raw epoll_wait(0) through FFI",
  baseline: true,
  fn() {
    const n = libc.epoll_wait(rawMany, rawBuffer, MANY + 64, 0);
    if (n !== MANY) throw new Error(`${n} events`);
    sink += consume(rawWords, n);
  },
});
Deno.bench({
  group: "select-1000-ready",
  name: "Selector.selectInto(events, 0)",
  fn() {
    const n = many.selectInto(events, 0);
    if (n !== MANY) throw new Error(`${n} events`);
    let acc = 0;
    for (let i = 0; i < n; i++) acc += events.flags(i) + events.data(i)!;
    sink += acc;
  },
});
Deno.bench({
  group: "select-1000-ready",
  name: "Selector.select(0), allocating",
  fn() {
    const list = many.select(0);
    if (list.length !== MANY) throw new Error(`${list.length} events`);
    let acc = 0;
    for (const event of list) acc += event.data!;
    sink += acc;
  },
});

Deno.bench({
  group: "ctl",
  name: "raw epoll_ctl ADD + MOD + DEL through FFI",
  baseline: true,
  fn() {
    rawEventWords[0] = EPOLLIN | EPOLLRDHUP;
    rawEventWords[DATA] = idle.fd;
    libc.epoll_ctl(rawCtl, EPOLL_CTL_ADD, idle.fd, rawEvent);
    rawEventWords[0] = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    libc.epoll_ctl(rawCtl, EPOLL_CTL_MOD, idle.fd, rawEvent);
    libc.epoll_ctl(rawCtl, EPOLL_CTL_DEL, idle.fd, rawEvent);
  },
});
Deno.bench({
  group: "ctl",
  name: "Selector register + modify + unregister",
  fn() {
    ctl.register(idle.fd, Interest.READABLE);
    ctl.modify(idle.fd, Interest.READABLE | Interest.WRITABLE);
    ctl.unregister(idle.fd);
  },
});

// An async benchmark pays the harness's own await per iteration; each
// "wait-ready" iteration makes 100 calls, so that the calls are compared.
const CALLS = 100;
Deno.bench({
  group: "wait-ready",
  name: "100 × Selector.selectInto(events, 0)",
  baseline: true,
  fn() {
    for (let i = 0; i < CALLS; i++) sink += one.selectInto(events, 0);
  },
});
Deno.bench({
  group: "wait-ready",
  name: "100 × await Selector.waitInto(events), events ready",
  async fn() {
    for (let i = 0; i < CALLS; i++) sink += await one.waitInto(events);
  },
});
Deno.bench({
  group: "wait-ready",
  name: "100 × await Selector.wait(), events ready, allocating",
  async fn() {
    for (let i = 0; i < CALLS; i++) sink += (await one.wait()).length;
  },
});

// Waking: a select() blocked on this thread and woken by a Worker's Waker,
// against a pending wait() woken by wakeup() from this thread. A wait()
// that follows one that found something (here, the previous wakeup) looks
// again on the next event-loop turns before it parks a thread, and finds the
// wakeup there; the cost of a real park is in the README.
const sleeper = openSelector();
const asleep = new Int32Array(new SharedArrayBuffer(4));
const worker = new Worker(new URL("./_wake_worker.ts", import.meta.url), { type: "module" });
worker.postMessage({ handle: sleeper.wakerHandle, flag: asleep });
await new Promise((resolve) => worker.onmessage = resolve);

Deno.bench({
  group: "wake",
  name: "select() blocked, woken by a Worker's Waker",
  baseline: true,
  fn() {
    Atomics.store(asleep, 0, 1);
    Atomics.notify(asleep, 0);
    sleeper.select();
  },
});
Deno.bench({
  group: "wake",
  name: "wait() pending, woken by wakeup() (found before it parks)",
  async fn() {
    const pending = sleeper.wait();
    sleeper.wakeup();
    await pending;
  },
});

globalThis.addEventListener("unload", () => {
  Atomics.store(asleep, 0, -1);
  Atomics.notify(asleep, 0);
  worker.terminate();
  if (sink === 0.5) console.log(sink); // keeps the work observable
});
