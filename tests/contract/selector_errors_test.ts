// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Every error path of the Selector, on real fds and the real kernel, for
 * each Linux backend: the exact error class, and for errors raised from a
 * system call their `code`, `errno` and message.
 */

import assert from "node:assert/strict";
import {
  assertNoNewFds,
  BACKENDS,
  bad,
  linuxTest,
  openFds,
  settledFds,
  withLibc,
} from "../_helpers/mod.ts";
import { F_DUPFD_CLOEXEC, F_GETFD, O_CLOEXEC, O_RDONLY } from "../../ffi/libc.ts";
import {
  Interest,
  openPipe,
  openSelector,
  type Selector,
  type SelectorEvent,
  SelectorEvents,
  wake,
} from "../../mod.ts";

/** libc calls the tests make themselves (the library has no `open`, nor a 3-argument fcntl). */
const TEST_LIBC = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestLibc = Deno.DynamicLibrary<typeof TEST_LIBC>["symbols"];

/** fds numbered from here are never handed out by the lowest-free rule in a test process. */
const HIGH_FD = 1000;

/** Runs `fn` with the test's own libc, closed afterwards. */
function withTestLibc<R>(fn: (libc: TestLibc) => R): R {
  return withLibc(TEST_LIBC, fn);
}

/** Duplicates `fd` to a high number (lowest free from `min`), which no other open gets. */
function dupHigh(libc: TestLibc, fd: number, min = HIGH_FD): number {
  const copy = libc.fcntl(fd, F_DUPFD_CLOEXEC, min);
  assert.ok(copy >= min, `fcntl(F_DUPFD_CLOEXEC) failed: ${copy}`);
  return copy;
}

/** A number that is certainly not an open fd: a high one, closed again. */
function notOpenFd(libc: TestLibc): number {
  using pipe = openPipe();
  const fd = dupHigh(libc, pipe.reader.fd);
  assert.equal(libc.close(fd), 0);
  assert.equal(libc.fcntl(fd, F_GETFD, 0), -1);
  return fd;
}

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;
interface Expected {
  /** What the message must match. */
  message: RegExp;
  /** `code` and `errno` of an error from a system call; absent: the error has neither. */
  code?: string;
  errno?: number;
}

/** Checks that `error` is exactly `Class` (not a subclass or a superclass) and as expected. */
function check(error: unknown, Class: ErrorClass, expected: Expected): true {
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  assert.equal(
    Object.getPrototypeOf(error),
    Class.prototype,
    `expected ${Class.name}, got ${error.constructor.name}: ${error.message}`,
  );
  assert.match(error.message, expected.message);
  const { code, errno } = error as Error & { code?: unknown; errno?: unknown };
  if (expected.code === undefined) {
    assert.equal(Object.hasOwn(error, "code"), false, `unexpected code ${String(code)}`);
    assert.equal(Object.hasOwn(error, "errno"), false, `unexpected errno ${String(errno)}`);
  } else {
    assert.equal(code, expected.code);
    assert.equal(errno, expected.errno);
  }
  return true;
}

function assertThrowsExactly(fn: () => unknown, Class: ErrorClass, expected: Expected): void {
  assert.throws(fn, (error) => check(error, Class, expected));
}

async function assertRejectsExactly(
  promise: Promise<unknown>,
  Class: ErrorClass,
  expected: Expected,
): Promise<void> {
  assert.ok(promise instanceof Promise, "expected a promise (an async call never throws)");
  await assert.rejects(promise, (error) => check(error, Class, expected));
}

/** The event a selector reports, with every flag not given false. */
function event<T>(
  fd: number,
  data: T | undefined,
  flags: Partial<Omit<SelectorEvent<T>, "fd" | "data">>,
): SelectorEvent<T> {
  return {
    fd,
    data,
    readable: false,
    writable: false,
    priority: false,
    error: false,
    hangup: false,
    readHangup: false,
    ...flags,
  };
}

/** `select(0)`, sorted by fd (the kernel's order is not part of the contract). */
function selectNow<T>(selector: Selector<T>): SelectorEvent<T>[] {
  return selector.select(0).sort((a, b) => a.fd - b.fd);
}

for (const backend of BACKENDS) {
  linuxTest(
    `[${backend}] an fd that is not an integer is a TypeError, a negative one a RangeError`,
    () => {
      using selector = openSelector({ backend });
      using pipe = openPipe();
      const calls = {
        register: (fd: number) => selector.register(fd, Interest.READABLE),
        modify: (fd: number) => selector.modify(fd, Interest.READABLE),
        unregister: (fd: number) => selector.unregister(fd),
        getKey: (fd: number) => selector.getKey(fd),
      };
      const verbs = {
        register: `register fd \\S+ with ${backend}`,
        modify: `modify fd \\S+ with ${backend}`,
        unregister: `unregister fd \\S+ from ${backend}`,
        getKey: `look up fd \\S+ in ${backend}`,
      };
      for (const [name, call] of Object.entries(calls)) {
        const verb = verbs[name as keyof typeof verbs];
        for (const fd of [1.5, "3", NaN, undefined, null, Infinity, 3n, {}]) {
          assertThrowsExactly(() => call(bad(fd)), TypeError, {
            message: new RegExp(`^Cannot ${verb}: fd must be an integer, got `),
          });
        }
        for (const fd of [-1, -(2 ** 31), 2 ** 31]) {
          assertThrowsExactly(() => call(fd), RangeError, {
            message: new RegExp(`^Cannot ${verb}: fd must be from 0 to 2147483647, got ${fd}$`),
          });
        }
      }
      // The pipe itself was never touched.
      assert.equal(selector.size, 0);
      assert.equal(selector.getKey(pipe.reader.fd), undefined);
    },
  );

  linuxTest(
    `[${backend}] an interest that is empty or has unknown bits is a RangeError, a non-integer one a TypeError`,
    () => {
      using selector = openSelector({ backend });
      using pipe = openPipe();
      const fd = pipe.reader.fd;
      for (const call of ["register", "modify"] as const) {
        for (const interest of [0, 8, -1, 9, 16, 0x2000, -(2 ** 31)]) {
          assertThrowsExactly(() => selector[call](fd, interest), RangeError, {
            message: new RegExp(
              `^Cannot ${call} fd ${fd} with ${backend}: interest must combine Interest.READABLE, PRIORITY and WRITABLE, got ${interest}$`,
            ),
          });
        }
        for (const interest of ["1", 1.5, NaN, undefined, null, Infinity, 1n]) {
          assertThrowsExactly(() => selector[call](fd, bad(interest)), TypeError, {
            message: new RegExp(
              `^Cannot ${call} fd ${fd} with ${backend}: interest must be an integer, got `,
            ),
          });
        }
      }
      assert.equal(selector.size, 0);
    },
  );

  linuxTest(`[${backend}] options of the wrong type are a TypeError`, () => {
    using selector = openSelector({ backend });
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    const cases: [unknown, RegExp][] = [
      ["yes", /: options must be an object, got "yes"$/],
      [null, /: options must be an object, got null$/],
      [1, /: options must be an object, got 1$/],
      [{ edge: "yes" }, /: edge must be a boolean, got "yes"$/],
      [{ oneshot: 1 }, /: oneshot must be a boolean, got 1$/],
      [{ exclusive: null }, /: exclusive must be a boolean, got null$/],
    ];
    for (const [options, message] of cases) {
      assertThrowsExactly(() => selector.register(fd, Interest.READABLE, bad(options)), TypeError, {
        message,
      });
    }
    assert.equal(selector.size, 0);
    const key = selector.register(fd, Interest.READABLE, { data: "kept" });
    for (const [options, message] of cases) {
      assertThrowsExactly(() => selector.modify(fd, Interest.WRITABLE, bad(options)), TypeError, {
        message,
      });
    }
    assert.equal(selector.getKey(fd), key);
    selector.unregister(fd);
  });

  linuxTest(
    `[${backend}] registering an fd that is not open is BadResource (EBADF), and adds nothing`,
    () => {
      withTestLibc((libc) => {
        using selector = openSelector({ backend });
        using pipe = openPipe();
        const key = selector.register(pipe.reader.fd, Interest.READABLE);
        const fd = notOpenFd(libc);
        assertThrowsExactly(
          () => selector.register(fd, Interest.READABLE),
          Deno.errors.BadResource,
          {
            message: new RegExp(
              `^Cannot register fd ${fd} with ${backend}: EBADF \\(os error 9\\)$`,
            ),
            code: "EBADF",
            errno: 9,
          },
        );
        assert.equal(selector.size, 1);
        assert.equal(selector.getKey(fd), undefined);
        assert.equal(selector.getKey(pipe.reader.fd), key);
        selector.unregister(pipe.reader.fd);
      });
    },
  );

  linuxTest(
    `[${backend}] modifying a registered fd that was closed since is BadResource (EBADF), and keeps the key`,
    () => {
      withTestLibc((libc) => {
        using selector = openSelector({ backend });
        const pipe = openPipe();
        // The only reference to the read end is a high fd number that nothing reuses.
        const fd = dupHigh(libc, pipe.reader.fd);
        pipe.close();
        const key = selector.register(fd, Interest.READABLE, { data: "gone" });
        assert.equal(libc.close(fd), 0);
        assertThrowsExactly(() => selector.modify(fd, Interest.WRITABLE), Deno.errors.BadResource, {
          message: new RegExp(`^Cannot modify fd ${fd} with ${backend}: EBADF \\(os error 9\\)$`),
          code: "EBADF",
          errno: 9,
        });
        assert.equal(selector.size, 1);
        assert.equal(selector.getKey(fd), key);
        // unregister() still works after the close.
        assert.equal(selector.unregister(fd), key);
        assert.equal(selector.size, 0);
      });
    },
  );

  linuxTest(`[${backend}] registering an fd twice is AlreadyExists`, () => {
    using selector = openSelector({ backend });
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    const key = selector.register(fd, Interest.READABLE, { data: 1 });
    for (const interest of [Interest.READABLE, Interest.WRITABLE]) {
      assertThrowsExactly(
        () => selector.register(fd, interest, { data: 2 }),
        Deno.errors.AlreadyExists,
        {
          message: new RegExp(
            `^Cannot register fd ${fd} with ${backend}: fd ${fd} is registered already$`,
          ),
        },
      );
    }
    assert.equal(selector.size, 1);
    assert.equal(selector.getKey(fd), key);
    selector.unregister(fd);
  });

  linuxTest(
    `[${backend}] modifying or unregistering an fd that is not registered is NotFound`,
    () => {
      using selector = openSelector({ backend });
      using pipe = openPipe();
      const fd = pipe.reader.fd;
      const other = pipe.writer.fd;
      selector.register(other, Interest.WRITABLE);
      const notFound = (verb: string) => ({
        message: new RegExp(
          `^Cannot ${verb} fd ${fd} (with|from) ${backend}: fd ${fd} is not registered$`,
        ),
      });
      assertThrowsExactly(
        () => selector.modify(fd, Interest.READABLE),
        Deno.errors.NotFound,
        notFound("modify"),
      );
      assertThrowsExactly(
        () => selector.unregister(fd),
        Deno.errors.NotFound,
        notFound("unregister"),
      );
      // Once unregistered, an fd is unknown again.
      selector.register(fd, Interest.READABLE);
      selector.unregister(fd);
      assertThrowsExactly(
        () => selector.unregister(fd),
        Deno.errors.NotFound,
        notFound("unregister"),
      );
      assertThrowsExactly(
        () => selector.modify(fd, Interest.READABLE),
        Deno.errors.NotFound,
        notFound("modify"),
      );
      assert.equal(selector.size, 1);
      selector.unregister(other);
    },
  );

  linuxTest(`[${backend}] registering the selector's own waker is AlreadyExists`, () => {
    using selector = openSelector({ backend });
    const fd = selector.wakerHandle;
    assert.ok(Number.isInteger(fd) && fd >= 0);
    assertThrowsExactly(() => selector.register(fd, Interest.READABLE), Deno.errors.AlreadyExists, {
      message: new RegExp(
        `^Cannot register fd ${fd} with ${backend}: fd ${fd} is the selector's own$`,
      ),
    });
    assert.equal(selector.size, 0);
    assert.equal(selector.getKey(fd), undefined);
    // The waker still works.
    selector.wakeup();
    assert.deepEqual(selector.select(5_000), []);
  });

  linuxTest(`[${backend}] every call on a closed selector is BadResource`, async () => {
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    const before = await settledFds();
    const selector = openSelector({ backend });
    assert.ok(openFds().length > before.length);
    selector.register(fd, Interest.READABLE);
    assert.equal(selector.size, 1);
    selector.close();
    selector.close(); // twice is fine
    selector[Symbol.dispose]();
    // Every fd the selector opened is closed.
    assertNoNewFds(before);
    assert.equal(selector.closed, true);
    assert.equal(selector.size, 0);
    assert.equal(selector.wakerHandle, -1);
    assert.equal(selector.backend, backend);

    const closed = (verb: string) => ({
      message: new RegExp(`^Cannot ${verb}: the ${backend} selector is closed$`),
    });
    const { BadResource } = Deno.errors;
    assertThrowsExactly(
      () => selector.register(fd, Interest.READABLE),
      BadResource,
      closed(`register fd ${fd} with ${backend}`),
    );
    assertThrowsExactly(
      () => selector.modify(fd, Interest.READABLE),
      BadResource,
      closed(`modify fd ${fd} with ${backend}`),
    );
    assertThrowsExactly(
      () => selector.unregister(fd),
      BadResource,
      closed(`unregister fd ${fd} from ${backend}`),
    );
    assertThrowsExactly(
      () => selector.getKey(fd),
      BadResource,
      closed(`look up fd ${fd} in ${backend}`),
    );
    assertThrowsExactly(() => selector.select(), BadResource, closed(`select on ${backend}`));
    assertThrowsExactly(() => selector.select(0), BadResource, closed(`select on ${backend}`));
    const events = new SelectorEvents();
    assertThrowsExactly(
      () => selector.selectInto(events, 0),
      BadResource,
      closed(`select on ${backend}`),
    );
    await assertRejectsExactly(selector.wait(), BadResource, closed(`wait on ${backend}`));
    await assertRejectsExactly(
      selector.wait({ timeout: 0 }),
      BadResource,
      closed(`wait on ${backend}`),
    );
    await assertRejectsExactly(
      selector.waitInto(events),
      BadResource,
      closed(`wait on ${backend}`),
    );
    assertThrowsExactly(() => selector.wakeup(), BadResource, closed(`wake up ${backend}`));
    assert.equal(events.length, 0);
  });

  linuxTest(`[${backend}] a timeout that is NaN or not a number is a TypeError`, async () => {
    using selector = openSelector({ backend });
    const events = new SelectorEvents();
    for (const timeout of [NaN, "10", null, 10n, {}]) {
      const message = new RegExp(
        `^Cannot select on ${backend}: timeout must be a number of milliseconds, got `,
      );
      assertThrowsExactly(() => selector.select(bad(timeout)), TypeError, { message });
      assertThrowsExactly(() => selector.selectInto(events, bad(timeout)), TypeError, { message });
      const waitMessage = new RegExp(
        `^Cannot wait on ${backend}: timeout must be a number of milliseconds, got `,
      );
      await assertRejectsExactly(selector.wait({ timeout: bad(timeout) }), TypeError, {
        message: waitMessage,
      });
      await assertRejectsExactly(selector.waitInto(events, { timeout: bad(timeout) }), TypeError, {
        message: waitMessage,
      });
    }
  });

  linuxTest(
    `[${backend}] an event buffer that is not a SelectorEvents is a TypeError`,
    async () => {
      using selector = openSelector({ backend });
      for (const events of [{}, null, undefined, [], { length: 0 }]) {
        assertThrowsExactly(() => selector.selectInto(bad(events), 0), TypeError, {
          message: new RegExp(
            `^Cannot select on ${backend}: events must be a SelectorEvents, got `,
          ),
        });
        await assertRejectsExactly(selector.waitInto(bad(events), { timeout: 0 }), TypeError, {
          message: new RegExp(`^Cannot wait on ${backend}: events must be a SelectorEvents, got `),
        });
      }
    },
  );

  linuxTest(
    `[${backend}] wait options of the wrong type, or a signal that is not an AbortSignal, are a TypeError`,
    async () => {
      using selector = openSelector({ backend });
      const controller = new AbortController();
      for (
        const signal of [{}, "abort", true, { aborted: false, addEventListener() {} }, controller]
      ) {
        await assertRejectsExactly(selector.wait({ timeout: 0, signal: bad(signal) }), TypeError, {
          message: new RegExp(`^Cannot wait on ${backend}: signal must be an AbortSignal, got `),
        });
      }
      for (const options of ["x", null, 5]) {
        await assertRejectsExactly(selector.wait(bad(options)), TypeError, {
          message: new RegExp(`^Cannot wait on ${backend}: options must be an object, got `),
        });
      }
    },
  );

  linuxTest(
    `[${backend}] wait() with an aborted signal rejects with the signal's reason`,
    async () => {
      using selector = openSelector({ backend });
      const reason = new Error("stop");
      // Aborted before the call.
      await assert.rejects(
        selector.wait({ signal: AbortSignal.abort(reason) }),
        (e) => e === reason,
      );
      // Aborted while parked: no thread stays in the kernel (the op sanitizer checks).
      const controller = new AbortController();
      const pending = selector.wait({ signal: controller.signal });
      controller.abort(reason);
      await assert.rejects(pending, (e) => e === reason);
      // The selector is usable afterwards.
      assert.deepEqual(await selector.wait({ timeout: 0 }), []);
    },
  );

  linuxTest(
    `[${backend}] select() or a second wait() while a wait() is pending is Busy`,
    async () => {
      using selector = openSelector({ backend });
      const events = new SelectorEvents();
      const pending = selector.wait();
      const busy = (verb: string) => ({
        message: new RegExp(
          `^Cannot ${verb} on ${backend}: a wait\\(\\) is pending on this selector$`,
        ),
      });
      assertThrowsExactly(() => selector.select(0), Deno.errors.Busy, busy("select"));
      assertThrowsExactly(() => selector.selectInto(events, 0), Deno.errors.Busy, busy("select"));
      await assertRejectsExactly(selector.wait({ timeout: 0 }), Deno.errors.Busy, busy("wait"));
      await assertRejectsExactly(selector.waitInto(events), Deno.errors.Busy, busy("wait"));
      selector.wakeup();
      assert.deepEqual(await pending, []);
      assert.deepEqual(selector.select(0), []);
    },
  );

  linuxTest(`[${backend}] exclusive with oneshot or with PRIORITY is a RangeError`, () => {
    using selector = openSelector({ backend });
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    assertThrowsExactly(
      () => selector.register(fd, Interest.READABLE, { exclusive: true, oneshot: true }),
      RangeError,
      {
        message: new RegExp(
          `^Cannot register fd ${fd} with ${backend}: exclusive cannot be combined with oneshot$`,
        ),
      },
    );
    assertThrowsExactly(
      () => selector.register(fd, Interest.READABLE | Interest.PRIORITY, { exclusive: true }),
      RangeError,
      {
        message: new RegExp(
          `^Cannot register fd ${fd} with ${backend}: exclusive cannot be combined with Interest.PRIORITY$`,
        ),
      },
    );
    assert.equal(selector.size, 0);
  });

  linuxTest(`[${backend}] modify() cannot make a registration exclusive`, () => {
    using selector = openSelector({ backend });
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    const key = selector.register(fd, Interest.READABLE, { data: "a" });
    assertThrowsExactly(
      () => selector.modify(fd, Interest.READABLE, { exclusive: true, data: "b" }),
      RangeError,
      {
        message: new RegExp(
          `^Cannot modify fd ${fd} with ${backend}: exclusive can only be set by register\\(\\)$`,
        ),
      },
    );
    assert.equal(selector.getKey(fd), key);
    selector.unregister(fd);
  });
}

linuxTest("[epoll] modify() cannot make an exclusive registration non-exclusive", () => {
  using selector = openSelector({ backend: "epoll" });
  using pipe = openPipe();
  const fd = pipe.reader.fd;
  const key = selector.register(fd, Interest.READABLE, { exclusive: true, data: "a" });
  assertThrowsExactly(
    () => selector.modify(fd, Interest.READABLE, { exclusive: false, data: "b" }),
    RangeError,
    {
      message: new RegExp(
        `^Cannot modify fd ${fd} with epoll: exclusive can only be set by register\\(\\)$`,
      ),
    },
  );
  assert.equal(selector.getKey(fd), key);
  // The registration still delivers its events.
  pipe.writer.tryWrite(new Uint8Array([1]));
  assert.deepEqual(selectNow(selector), [event(fd, "a", { readable: true })]);
  selector.unregister(fd);
});

linuxTest(
  "[epoll] modifying an exclusive registration whose fd was closed since is BadResource (EBADF)",
  () => {
    withTestLibc((libc) => {
      using selector = openSelector({ backend: "epoll" });
      const pipe = openPipe();
      const fd = dupHigh(libc, pipe.reader.fd);
      pipe.close();
      const key = selector.register(fd, Interest.READABLE, { exclusive: true });
      assert.equal(libc.close(fd), 0);
      assertThrowsExactly(() => selector.modify(fd, Interest.WRITABLE), Deno.errors.BadResource, {
        message: new RegExp(`^Cannot modify fd ${fd} with epoll: EBADF \\(os error 9\\)$`),
        code: "EBADF",
        errno: 9,
      });
      assert.equal(selector.getKey(fd), key);
      assert.equal(selector.unregister(fd), key);
    });
  },
);

for (const exclusive of [false, true]) {
  // An exclusive registration is modified by delete + add: ENOENT maps alike.
  linuxTest(
    `[epoll] modifying ${
      exclusive ? "an exclusive" : "a"
    } registration whose number now names another file is BadResource (ENOENT)`,
    () => {
      withTestLibc((libc) => {
        using selector = openSelector({ backend: "epoll" });
        const first = openPipe();
        const fd = dupHigh(libc, first.reader.fd);
        first.close();
        const key = selector.register(fd, Interest.READABLE, { exclusive });
        assert.equal(libc.close(fd), 0);
        // The same number, now for the read end of another pipe.
        using second = openPipe();
        assert.equal(dupHigh(libc, second.reader.fd, fd), fd);
        try {
          assertThrowsExactly(
            () => selector.modify(fd, Interest.READABLE),
            Deno.errors.BadResource,
            {
              message: new RegExp(`^Cannot modify fd ${fd} with epoll: ENOENT \\(os error 2\\)$`),
              code: "ENOENT",
              errno: 2,
            },
          );
          assert.equal(selector.getKey(fd), key);
          assert.equal(selector.unregister(fd), key);
        } finally {
          libc.close(fd);
        }
      });
    },
  );
}

// Unknown bits at 2^32 and above, which a 32-bit `&` cannot see, are refused too.
linuxTest({
  name: "[both] an interest with bits at 2^32 or above is a RangeError",
  fn() {
    for (const backend of BACKENDS) {
      using selector = openSelector({ backend });
      using pipe = openPipe();
      for (const interest of [2 ** 32, 2 ** 32 + 1, 2 ** 40 + 4]) {
        assert.throws(() => selector.register(pipe.reader.fd, interest), RangeError);
      }
      assert.equal(selector.size, 0);
    }
  },
});

/** Opens this test file, a regular file, with the test's own libc. */
function openRegularFile(libc: TestLibc): number {
  const path = import.meta.filename!;
  assert.equal(Deno.statSync(path).isFile, true);
  const fd = libc.open(new TextEncoder().encode(path + "\0"), O_RDONLY | O_CLOEXEC);
  assert.ok(fd >= 0, `open(${path}) failed`);
  return fd;
}

linuxTest("[epoll] registering a regular file is NotSupported (EPERM)", () => {
  withTestLibc((libc) => {
    const fd = openRegularFile(libc);
    try {
      using selector = openSelector({ backend: "epoll" });
      for (
        const interest of [
          Interest.READABLE,
          Interest.WRITABLE,
          Interest.READABLE | Interest.WRITABLE,
        ]
      ) {
        assertThrowsExactly(() => selector.register(fd, interest), Deno.errors.NotSupported, {
          message: new RegExp(`^Cannot register fd ${fd} with epoll: EPERM \\(os error 1\\)$`),
          code: "EPERM",
          errno: 1,
        });
      }
      assert.equal(selector.size, 0);
      assert.equal(selector.getKey(fd), undefined);
    } finally {
      assert.equal(libc.close(fd), 0);
    }
  });
});

linuxTest("[poll] a regular file is accepted and always ready in the directions asked", () => {
  withTestLibc((libc) => {
    const fd = openRegularFile(libc);
    try {
      using selector = openSelector<string>({ backend: "poll" });
      selector.register(fd, Interest.READABLE, { data: "file" });
      assert.deepEqual(selector.select(0), [event(fd, "file", { readable: true })]);
      selector.modify(fd, Interest.READABLE | Interest.WRITABLE);
      assert.deepEqual(selector.select(0), [event(fd, "file", { readable: true, writable: true })]);
      selector.unregister(fd);
    } finally {
      assert.equal(libc.close(fd), 0);
    }
  });
});

linuxTest("[poll] edge and exclusive are NotSupported", () => {
  using selector = openSelector({ backend: "poll" });
  using pipe = openPipe();
  const fd = pipe.reader.fd;
  assertThrowsExactly(
    () => selector.register(fd, Interest.READABLE, { edge: true }),
    Deno.errors.NotSupported,
    {
      message: new RegExp(
        `^Cannot register fd ${fd} with poll: poll is level-triggered only \\(edge\\)$`,
      ),
    },
  );
  assertThrowsExactly(
    () => selector.register(fd, Interest.READABLE, { exclusive: true }),
    Deno.errors.NotSupported,
    {
      message: new RegExp(`^Cannot register fd ${fd} with poll: exclusive is an epoll option$`),
    },
  );
  assert.equal(selector.size, 0);
  const key = selector.register(fd, Interest.READABLE, { edge: false, exclusive: false });
  assertThrowsExactly(
    () => selector.modify(fd, Interest.READABLE, { edge: true }),
    Deno.errors.NotSupported,
    {
      message: new RegExp(
        `^Cannot modify fd ${fd} with poll: poll is level-triggered only \\(edge\\)$`,
      ),
    },
  );
  assert.equal(selector.getKey(fd), key);
  selector.unregister(fd);
});

linuxTest(
  "openSelector() with an unknown backend is a TypeError, with afd on Linux NotSupported",
  () => {
    for (const backend of ["nope", "EPOLL", "", 1, null]) {
      assertThrowsExactly(() => openSelector({ backend: bad(backend) }), TypeError, {
        message: /^Cannot open selector: backend must be "epoll", "poll" or "afd", got /,
      });
    }
    assertThrowsExactly(() => openSelector({ backend: "afd" }), Deno.errors.NotSupported, {
      message: /^Cannot open selector: the afd backend is for Windows, not linux$/,
    });
  },
);

for (const backend of BACKENDS) {
  linuxTest(`[${backend}] a failed call changes no state`, async (t) => {
    await withTestLibc(async (libc) => {
      using selector = openSelector<string>({ backend });
      using pipe = openPipe();
      using other = openPipe();
      const reader = pipe.reader.fd;
      const writer = pipe.writer.fd;
      const readerKey = selector.register(reader, Interest.READABLE, { data: "reader" });
      const writerKey = selector.register(writer, Interest.WRITABLE, { data: "writer" });
      assert.equal(pipe.writer.tryWrite(new Uint8Array([7])), 1);
      const expected = [
        event(reader, "reader", { readable: true }),
        event(writer, "writer", { writable: true }),
      ].sort((a, b) => a.fd - b.fd);
      assert.deepEqual(selectNow(selector), expected);

      const unchanged = () => {
        assert.equal(selector.size, 2);
        assert.equal(selector.getKey(reader), readerKey);
        assert.equal(selector.getKey(writer), writerKey);
        assert.equal(selector.getKey(other.reader.fd), undefined);
        assert.deepEqual(selectNow(selector), expected);
      };
      const closedFd = notOpenFd(libc);
      const failing: [string, () => unknown, ErrorClass][] = [
        [
          "register of a registered fd",
          () => selector.register(reader, Interest.WRITABLE, { data: "x" }),
          Deno.errors.AlreadyExists,
        ],
        [
          "register of an fd that is not open",
          () => selector.register(closedFd, Interest.READABLE),
          Deno.errors.BadResource,
        ],
        [
          "register of the waker",
          () => selector.register(selector.wakerHandle, Interest.READABLE),
          Deno.errors.AlreadyExists,
        ],
        ["register with a bad interest", () => selector.register(other.reader.fd, 8), RangeError],
        [
          "register with bad options",
          () => selector.register(other.reader.fd, Interest.READABLE, bad({ oneshot: "yes" })),
          TypeError,
        ],
        [
          "register with exclusive and oneshot",
          () =>
            selector.register(other.reader.fd, Interest.READABLE, {
              exclusive: true,
              oneshot: true,
            }),
          RangeError,
        ],
        ["modify with a bad interest", () => selector.modify(reader, 8, { data: "x" }), RangeError],
        [
          "modify with bad options",
          () => selector.modify(reader, Interest.WRITABLE, bad({ edge: "yes", data: "x" })),
          TypeError,
        ],
        [
          "modify changing exclusive",
          () => selector.modify(reader, Interest.WRITABLE, { exclusive: true, data: "x" }),
          RangeError,
        ],
        [
          "modify of an unknown fd",
          () => selector.modify(other.reader.fd, Interest.READABLE),
          Deno.errors.NotFound,
        ],
        [
          "unregister of an unknown fd",
          () => selector.unregister(other.reader.fd),
          Deno.errors.NotFound,
        ],
        ["select with a bad timeout", () => selector.select(NaN), TypeError],
        ...(backend === "poll"
          ? [
            [
              "modify to edge",
              () => selector.modify(reader, Interest.WRITABLE, { edge: true, data: "x" }),
              Deno.errors.NotSupported,
            ] as [
              string,
              () => unknown,
              ErrorClass,
            ],
          ]
          : []),
      ];
      for (const [name, call, Class] of failing) {
        await t.step(name, () => {
          assert.throws(call, (error) => Object.getPrototypeOf(error) === Class.prototype);
          unchanged();
        });
      }
      if (backend === "epoll") {
        await t.step("register of a regular file", () => {
          const file = openRegularFile(libc);
          try {
            assert.throws(
              () => selector.register(file, Interest.READABLE),
              Deno.errors.NotSupported,
            );
            unchanged();
          } finally {
            libc.close(file);
          }
        });
      }
      selector.unregister(reader);
      selector.unregister(writer);
    });
  });

  linuxTest(`[${backend}] argument errors come before any system call, and carry no code`, () => {
    withTestLibc((libc) => {
      using selector = openSelector({ backend });
      const fd = notOpenFd(libc);
      // On an fd that is not open, the argument error wins over EBADF.
      assertThrowsExactly(() => selector.register(fd, 0), RangeError, {
        message: /interest must combine/,
      });
      assertThrowsExactly(() => selector.register(fd, bad("1")), TypeError, {
        message: /interest must be an integer/,
      });
      assertThrowsExactly(() => selector.register(fd, Interest.READABLE, bad("yes")), TypeError, {
        message: /options must be an object/,
      });
      assertThrowsExactly(
        () => selector.register(fd, Interest.READABLE | Interest.PRIORITY, { exclusive: true }),
        RangeError,
        { message: /exclusive cannot be combined/ },
      );
      // And the same fd with good arguments reaches the kernel.
      assertThrowsExactly(() => selector.register(fd, Interest.READABLE), Deno.errors.BadResource, {
        message: /EBADF \(os error 9\)$/,
        code: "EBADF",
        errno: 9,
      });
      assert.equal(selector.size, 0);
    });
  });
}

linuxTest(
  "SelectorEvents with a capacity that is not an integer from 1 to 2^24 is a RangeError",
  () => {
    for (const capacity of [0, -1, 1.5, NaN, Infinity, 2 ** 24 + 1, 2 ** 25, "3"]) {
      assertThrowsExactly(() => new SelectorEvents(bad(capacity)), RangeError, {
        message:
          /^Cannot create SelectorEvents: capacity must be an integer from 1 to 16777216, got /,
      });
    }
    const events = new SelectorEvents(1);
    assert.equal(events.capacity, 1);
    assert.equal(events.length, 0);
    assert.equal(new SelectorEvents().capacity, 64);
  },
);

linuxTest(
  "wake() with a bad handle is a TypeError or RangeError, with a closed one BadResource (EBADF)",
  () => {
    for (const handle of [1.5, "3", NaN, undefined, null, Infinity]) {
      assertThrowsExactly(() => wake(bad(handle)), TypeError, {
        message: /^Cannot wake selector handle .*: handle must be an integer, got /,
      });
    }
    for (const handle of [-1, 2 ** 31]) {
      assertThrowsExactly(() => wake(handle), RangeError, {
        message: new RegExp(
          `^Cannot wake selector handle ${handle}: handle must be from 0 to 2147483647, got ${handle}$`,
        ),
      });
    }
    // Far above any fd limit: certainly not open.
    assertThrowsExactly(() => wake(900_000), Deno.errors.BadResource, {
      message: /^Cannot wake selector handle 900000: EBADF \(os error 9\)$/,
      code: "EBADF",
      errno: 9,
    });
  },
);
