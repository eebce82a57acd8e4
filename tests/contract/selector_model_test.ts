// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A state-machine test of the Selector on both Linux backends.
 *
 * A seeded PRNG drives random sequences of register / modify / unregister,
 * pipe writes and reads, closing registered fds (and opening replacements,
 * which reuse their numbers), and `select(0)` / `selectInto(events, 0)`.
 * After every step the selector is compared with a model of what the
 * contract and the kernel say it holds (`size`, every key) and reports (the
 * exact set of events, flags and data).
 *
 * A failure names the backend, the seed, the step and the last steps: put
 * the seed in `SEEDS` to replay it.
 */

import assert from "node:assert/strict";
import {
  Interest,
  openPipe,
  openSelector,
  type Pipe,
  type RegisterOptions,
  type Selector,
  SelectorEvents,
  type SelectorKey,
} from "../../mod.ts";
import { acquireLibc, F_GETFD, releaseLibc } from "../../ffi/libc.ts";
import { Random } from "../_helpers/mod.ts";

const linux = Deno.build.os === "linux";
const R = Interest.READABLE;
const W = Interest.WRITABLE;
const INTERESTS = [R, W, R | W] as const;
/** Pipes in the pool: their read and write ends are the fds the steps use. */
const POOL = 16;
const STEPS = 400;
/** The most bytes a pipe holds in the model (far from full: a write end stays writable). */
const MAX_BYTES = 8;
/** A number that is not an open fd (checked), below the fd limit. */
const NOT_OPEN = 19_999;
/** Fixed seeds, and a fresh one per run (it is in the test name). */
const SEEDS = [1, 2, 42, 0xdecafbad, 20260127, Date.now() >>> 0];
const ONE = new Uint8Array([1]);

type Backend = "epoll" | "poll";
type ErrorClass = new (message?: string) => Error;

/** One end of a pipe of the pool. */
interface FileState {
  readonly pipe: PipeState;
  readonly end: "reader" | "writer";
  readonly fd: number;
}

class PipeState {
  readonly pipe: Pipe;
  readonly reader: FileState;
  readonly writer: FileState;
  /** Bytes written and not read yet. */
  bytes = 0;
  open = true;

  constructor(pipe: Pipe) {
    this.pipe = pipe;
    this.reader = { pipe: this, end: "reader", fd: pipe.reader.fd };
    this.writer = { pipe: this, end: "writer", fd: pipe.writer.fd };
  }
}

/** A registration as the model holds it. */
interface ModelKey {
  fd: number;
  interest: number;
  data: unknown;
  edge: boolean;
  oneshot: boolean;
  exclusive: boolean;
  /** False once a oneshot key has fired, until modify(). */
  armed: boolean;
  /** epoll, edge-triggered: a new readiness happened since the last report. */
  pending: boolean;
  /** The open file the fd number named when it was registered (or last modified). */
  file: FileState;
}

interface EventView {
  fd: number;
  data: unknown;
  readable: boolean;
  writable: boolean;
  priority: boolean;
  error: boolean;
  hangup: boolean;
  readHangup: boolean;
}

/** The Interest bits an open pipe end is ready for: the pipes never fill up. */
function readiness(file: FileState): number {
  if (file.end === "writer") return W;
  return file.pipe.bytes > 0 ? R : 0;
}

function show(value: unknown): string {
  if (value === undefined) return "undefined";
  return JSON.stringify(value);
}

function showOptions(options: RegisterOptions<unknown> | undefined): string {
  if (options === undefined) return "";
  const parts = Object.entries(options).map(([name, value]) => `${name}: ${show(value)}`);
  return `, { ${parts.join(", ")} }`;
}

function byFd(a: EventView, b: EventView): number {
  return a.fd - b.fd;
}

class Machine {
  readonly backend: Backend;
  readonly seed: number;
  readonly #rng: Random;
  readonly #sel: Selector<unknown>;
  readonly #pool: PipeState[] = [];
  /** The open fds of the pool, by number. */
  readonly #files = new Map<number, FileState>();
  readonly #keys = new Map<number, ModelKey>();
  /** Starts small: selectInto() must grow it. */
  readonly #events = new SelectorEvents<unknown>(1);
  readonly #log: string[] = [];
  #nextData = 0;

  constructor(backend: Backend, seed: number) {
    this.backend = backend;
    this.seed = seed;
    this.#rng = new Random(seed);
    this.#sel = openSelector({ backend });
    try {
      for (let i = 0; i < POOL; i++) this.#pool.push(this.#openPipe());
    } catch (error) {
      this.close();
      throw error;
    }
  }

  close(): void {
    this.#sel.close();
    for (const state of this.#pool) state.pipe.close();
  }

  #openPipe(): PipeState {
    const state = new PipeState(openPipe());
    this.#files.set(state.reader.fd, state.reader);
    this.#files.set(state.writer.fd, state.writer);
    return state;
  }

  run(steps: number): void {
    const ops: [number, () => string][] = [
      [18, () => this.#register()],
      [16, () => this.#modify()],
      [10, () => this.#unregister()],
      [14, () => this.#write()],
      [10, () => this.#read()],
      [5, () => this.#closeWhileRegistered()],
      [22, () => this.#select()],
    ];
    const total = ops.reduce((sum, [weight]) => sum + weight, 0);
    this.#check("start");
    for (let step = 0; step < steps; step++) {
      let roll = this.#rng.below(total);
      let i = 0;
      while (roll >= ops[i][0]) roll -= ops[i++][0];
      this.#guard(step, () => {
        this.#log.push(`${step}: ${ops[i][1]()}`);
        this.#check(this.#log.at(-1)!);
      });
    }
    this.#guard(steps, () => this.#teardown());
  }

  /** Runs a step; a failure is rethrown with the seed and the last steps. */
  #guard(step: number, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${this.backend}, seed ${this.seed}, step ${step} failed: ${message}\n` +
          `last steps:\n  ${this.#log.slice(-15).join("\n  ")}`,
        { cause: error },
      );
    }
  }

  /** The fds a step may name: the pool's open fds and every registered number. */
  #candidates(): number[] {
    return [...new Set([...this.#files.keys(), ...this.#keys.keys()])];
  }

  /** Mostly a registered fd; sometimes any fd of the pool, or one that is not open. */
  #pickRegistered(): number {
    if (this.#rng.chance(0.03)) return NOT_OPEN;
    if (this.#keys.size > 0 && this.#rng.chance(0.8)) return this.#rng.pick([...this.#keys.keys()]);
    return this.#rng.pick(this.#candidates());
  }

  #randomData(): unknown {
    const n = this.#nextData++;
    switch (this.#rng.below(5)) {
      case 0:
        return undefined;
      case 1:
        return null;
      case 2:
        return n;
      case 3:
        return `d${n}`;
      default:
        return { id: n };
    }
  }

  #randomFlags(options: RegisterOptions<unknown>): void {
    const rng = this.#rng;
    if (this.backend === "epoll") {
      if (rng.chance(0.5)) options.edge = rng.chance(0.6);
    } else if (rng.chance(0.1)) {
      options.edge = rng.chance(0.3); // true: NotSupported
    }
    if (rng.chance(0.4)) options.oneshot = rng.chance(0.5);
    if (rng.chance(this.backend === "epoll" ? 0.15 : 0.03)) options.exclusive = rng.chance(0.7);
  }

  #register(): string {
    const rng = this.#rng;
    const fd = rng.chance(0.03) ? NOT_OPEN : rng.pick(this.#candidates());
    const interest = rng.pick(INTERESTS);
    let options: RegisterOptions<unknown> | undefined;
    if (!rng.chance(0.15)) {
      options = {};
      if (rng.chance(0.7)) options.data = this.#randomData();
      this.#randomFlags(options);
    }
    const what = `register(${fd}, ${interest}${showOptions(options)})`;
    const edge = options?.edge ?? false;
    const oneshot = options?.oneshot ?? false;
    const exclusive = options?.exclusive ?? false;
    const errors: ErrorClass[] = [];
    if (exclusive && oneshot) errors.push(RangeError);
    if (this.backend === "poll" && (edge || exclusive)) errors.push(Deno.errors.NotSupported);
    if (this.#keys.has(fd)) errors.push(Deno.errors.AlreadyExists);
    else if (!this.#files.has(fd)) errors.push(Deno.errors.BadResource);
    if (errors.length > 0) {
      expectThrows(() => this.#sel.register(fd, interest, options), errors, what);
      return `${what} throws`;
    }
    const file = this.#files.get(fd)!;
    const key: ModelKey = {
      fd,
      interest,
      data: options?.data,
      edge,
      oneshot,
      exclusive,
      armed: true,
      // epoll_ctl(ADD) queues a registration whose file is ready already.
      pending: (readiness(file) & interest) !== 0,
      file,
    };
    checkKey(this.#sel.register(fd, interest, options), key, `${what} returned`);
    this.#keys.set(fd, key);
    return what;
  }

  #modify(): string {
    const rng = this.#rng;
    const fd = this.#pickRegistered();
    const interest = rng.pick(INTERESTS);
    let options: RegisterOptions<unknown> | undefined;
    const form = rng.below(5);
    if (form > 0) {
      options = {};
      if (form === 2) options.data = this.#randomData();
      if (form === 3) options.data = undefined;
      if (form === 4) this.#randomFlags(options);
    }
    const what = `modify(${fd}, ${interest}${showOptions(options)})`;
    const prev = this.#keys.get(fd);
    const errors: ErrorClass[] = [];
    if (prev === undefined) {
      errors.push(Deno.errors.NotFound);
      // Argument checks may come first.
      if (this.backend === "poll" && options?.edge) errors.push(Deno.errors.NotSupported);
      if (options?.exclusive !== undefined) errors.push(RangeError, Deno.errors.NotSupported);
      expectThrows(() => this.#sel.modify(fd, interest, options), errors, what);
      return `${what} throws`;
    }
    const edge = options?.edge ?? prev.edge;
    const oneshot = options?.oneshot ?? prev.oneshot;
    if (options?.exclusive !== undefined && options.exclusive !== prev.exclusive) {
      errors.push(RangeError);
    }
    if (prev.exclusive && oneshot) errors.push(RangeError);
    if (this.backend === "poll" && edge) errors.push(Deno.errors.NotSupported);
    // epoll watches the file registered, poll whatever file has the number now.
    const open = this.backend === "epoll" ? prev.file.pipe.open : this.#files.has(fd);
    if (!open) errors.push(Deno.errors.BadResource);
    if (errors.length > 0) {
      expectThrows(() => this.#sel.modify(fd, interest, options), errors, what);
      return `${what} throws`;
    }
    const file = this.backend === "epoll" ? prev.file : this.#files.get(fd)!;
    const ready = (readiness(file) & interest) !== 0;
    const next: ModelKey = {
      fd,
      interest,
      data: options !== undefined && "data" in options ? options.data : prev.data,
      edge,
      oneshot,
      exclusive: prev.exclusive,
      armed: true,
      // EPOLL_CTL_MOD queues a ready file (a queued one stays queued); an
      // exclusive key is deleted and added again.
      pending: prev.exclusive ? ready : prev.pending || ready,
      file,
    };
    checkKey(this.#sel.modify(fd, interest, options), next, `${what} returned`);
    this.#keys.set(fd, next);
    return what;
  }

  #unregister(): string {
    const fd = this.#pickRegistered();
    const what = `unregister(${fd})`;
    const prev = this.#keys.get(fd);
    if (prev === undefined) {
      expectThrows(() => this.#sel.unregister(fd), [Deno.errors.NotFound], what);
      return `${what} throws`;
    }
    checkKey(this.#sel.unregister(fd), prev, `${what} returned`);
    this.#keys.delete(fd);
    return what;
  }

  #write(): string {
    const state = this.#rng.pick(this.#pool.filter((state) => state.bytes < MAX_BYTES));
    const what = `write 1 byte to ${state.writer.fd} (read end ${state.reader.fd})`;
    assert.equal(state.pipe.writer.tryWrite(ONE), 1, what);
    state.bytes++;
    // Every write wakes the read end's waiters: a new edge for epoll.
    for (const key of this.#keys.values()) {
      if (key.file === state.reader && key.armed && key.interest & R) key.pending = true;
    }
    return what;
  }

  #read(): string {
    const state = this.#rng.pick(this.#pool);
    const size = this.#rng.chance(0.5) ? 1 : 16;
    const what = `read ${size} from ${state.reader.fd} holding ${state.bytes}`;
    const expected = Math.min(size, state.bytes);
    assert.equal(state.pipe.reader.tryRead(new Uint8Array(size)), expected, what);
    state.bytes -= expected;
    return what;
  }

  /**
   * Closes a pipe (mostly one with a registered end) and puts a new one in
   * its place: opened after the close, it takes the lowest free numbers (the
   * closed ones, mostly); opened before, it cannot have them (they stay
   * free until a later replacement takes them).
   */
  #closeWhileRegistered(): string {
    const rng = this.#rng;
    const registered: number[] = [];
    this.#pool.forEach((state, i) => {
      if (this.#keys.has(state.reader.fd) || this.#keys.has(state.writer.fd)) registered.push(i);
    });
    const i = registered.length > 0 && rng.chance(0.8) ? rng.pick(registered) : rng.below(POOL);
    const old = this.#pool[i];
    const openFirst = rng.chance(0.5);
    const early = openFirst ? this.#openPipe() : undefined;
    old.pipe.close();
    old.open = false;
    for (const file of [old.reader, old.writer]) {
      if (this.#files.get(file.fd) === file) this.#files.delete(file.fd);
      // Closing one of the module's fds removes its key from the selector.
      if (this.#keys.get(file.fd)?.file === file) this.#keys.delete(file.fd);
    }
    const state = early ?? this.#openPipe();
    this.#pool[i] = state;
    return `close pipe ${old.reader.fd}/${old.writer.fd}, ` +
      `${openFirst ? "opened before it" : "then open"} ${state.reader.fd}/${state.writer.fd}`;
  }

  /** The event the model expects for a key in one select; updates armed and pending. */
  #expect(key: ModelKey): EventView | undefined {
    if (!key.armed) return undefined;
    let ready: number;
    let error = false;
    if (this.backend === "epoll") {
      // The kernel dropped the registration when the file was closed.
      if (!key.file.pipe.open) return undefined;
      ready = readiness(key.file) & key.interest;
      if (key.edge) {
        if (!key.pending) ready = 0;
        key.pending = false;
      }
    } else {
      const file = this.#files.get(key.fd);
      if (file === undefined) {
        // poll() says POLLNVAL: an error, in the directions asked for.
        error = true;
        ready = key.interest & (R | W);
      } else {
        ready = readiness(file) & key.interest;
      }
    }
    if (ready === 0) return undefined;
    if (key.oneshot) key.armed = false;
    return {
      fd: key.fd,
      data: key.data,
      readable: (ready & R) !== 0,
      writable: (ready & W) !== 0,
      priority: false,
      error,
      hangup: false,
      readHangup: false,
    };
  }

  #select(): string {
    const expected: EventView[] = [];
    for (const key of this.#keys.values()) {
      const event = this.#expect(key);
      if (event !== undefined) expected.push(event);
    }
    let actual: EventView[];
    let what: string;
    if (this.#rng.chance(0.5)) {
      what = "select(0)";
      actual = this.#sel.select(0).map((event) => ({ ...event }));
    } else {
      what = "selectInto(events, 0)";
      const events = this.#events;
      const n = this.#sel.selectInto(events, 0);
      assert.equal(events.length, n, `${what}: events.length`);
      assert.ok(events.capacity >= n, `${what}: capacity ${events.capacity} < ${n}`);
      actual = [];
      for (let i = 0; i < n; i++) {
        actual.push({
          fd: events.fd(i),
          data: events.data(i),
          readable: events.readable(i),
          writable: events.writable(i),
          priority: events.priority(i),
          error: events.error(i),
          hangup: events.hangup(i),
          readHangup: events.readHangup(i),
        });
      }
    }
    actual.sort(byFd);
    expected.sort(byFd);
    assert.deepStrictEqual(actual, expected, `${what} events`);
    for (let i = 0; i < actual.length; i++) {
      assert.ok(Object.is(actual[i].data, expected[i].data), `${what}: data of fd ${actual[i].fd}`);
    }
    return `${what} -> [${expected.map((e) => e.fd).join(", ")}]`;
  }

  /** Compares every key the selector may hold with the model. */
  #check(what: string): void {
    assert.equal(this.#sel.size, this.#keys.size, `${what}: size`);
    const fds = new Set([...this.#files.keys(), ...this.#keys.keys(), NOT_OPEN]);
    for (const fd of fds) {
      const model = this.#keys.get(fd);
      const actual = this.#sel.getKey(fd);
      if (model === undefined) assert.equal(actual, undefined, `${what}: getKey(${fd})`);
      else checkKey(actual, model, `${what}: getKey(${fd})`);
    }
  }

  /** Unregisters what is left: the selector is then empty and reports nothing. */
  #teardown(): void {
    for (const key of [...this.#keys.values()]) {
      checkKey(this.#sel.unregister(key.fd), key, `teardown: unregister(${key.fd})`);
      this.#keys.delete(key.fd);
    }
    this.#check("teardown");
    assert.equal(this.#sel.size, 0);
    assert.deepStrictEqual(this.#sel.select(0), []);
  }
}

function checkKey(actual: SelectorKey<unknown> | undefined, model: ModelKey, what: string): void {
  assert.ok(actual !== undefined, `${what}: no key`);
  const { fd, interest, data, edge, oneshot, exclusive } = actual;
  assert.deepStrictEqual(
    { fd, interest, data, edge, oneshot, exclusive },
    {
      fd: model.fd,
      interest: model.interest,
      data: model.data,
      edge: model.edge,
      oneshot: model.oneshot,
      exclusive: model.exclusive,
    },
    what,
  );
  assert.ok(Object.is(data, model.data), `${what}: data is not the object registered`);
}

function expectThrows(fn: () => unknown, classes: ErrorClass[], what: string): void {
  const names = classes.map((c) => c.name).join(" or ");
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown !== undefined, `${what}: expected ${names}, but it succeeded`);
  assert.ok(
    classes.some((c) => thrown instanceof c),
    `${what}: expected ${names}, got ${thrown}`,
  );
  if (thrown instanceof Deno.errors.BadResource) {
    // Raised from a syscall: it names the errno.
    assert.match(String((thrown as { code?: unknown }).code), /^E[A-Z]+$/, `${what}: code`);
  }
}

for (const backend of ["epoll", "poll"] as const) {
  for (const seed of SEEDS) {
    Deno.test({
      name: `${backend}: random register/modify/unregister/IO/close/select steps match the model ` +
        `(seed ${seed})`,
      ignore: !linux,
      fn() {
        const libc = acquireLibc();
        try {
          assert.ok(libc.fcntl(NOT_OPEN, F_GETFD) < 0, `fd ${NOT_OPEN} must not be open`);
        } finally {
          releaseLibc();
        }
        const machine = new Machine(backend, seed);
        try {
          machine.run(STEPS);
        } finally {
          machine.close();
        }
      },
    });
  }
}
