// Copyright 2026 the @evented/io authors. MIT license.
// The CompletionPort's Windows-only suite (run under Wine on Linux:
// tools/wine/run.sh test ... tests/engines/iocp_test.ts): the caller's own
// OVERLAPPED, associating a HANDLE (twice, or a value reused behind the
// port's back), the Windows helpers and example. What every backend does
// alike is in contract/completion_port_test.ts.
import assert from "node:assert/strict";
import { openCompletionPort, openNamedPipePair, openOverlappedFile } from "../../mod.ts";
import {
  ERROR_IO_PENDING,
  ERROR_OPERATION_ABORTED,
  FILE_ATTRIBUTE_NORMAL,
  FILE_FLAG_OVERLAPPED,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  GENERIC_READ,
  GENERIC_WRITE,
  OPEN_EXISTING,
  OVERLAPPED_SIZE,
  wide,
} from "../../ffi/kernel32.ts";
import { assertBytes, tuple, windowsTest as sharedWindowsTest } from "../_helpers/mod.ts";

/** No test here takes this long, even under a loaded Wine. */
const TEST_TIMEOUT_MS = 60_000;

/** A Windows-only test of this file. */
function windowsTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  sharedWindowsTest("iocp", TEST_TIMEOUT_MS, name, fn);
}

/** kernel32 calls the tests make themselves (the library does not export them). */
const TEST_KERNEL32 = {
  CreateFileW: {
    parameters: ["buffer", "u32", "u32", "pointer", "u32", "u32", "pointer"],
    result: "pointer",
  },
  ReadFile: { parameters: ["pointer", "pointer", "u32", "pointer", "pointer"], result: "i32" },
  CancelIoEx: { parameters: ["pointer", "pointer"], result: "i32" },
  CloseHandle: { parameters: ["pointer"], result: "i32" },
  GetLastError: { parameters: [], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestKernel32 = Deno.DynamicLibrary<typeof TEST_KERNEL32>["symbols"];

/** Runs `fn` with the test's own binding of kernel32, closed once `fn` has settled. */
async function withKernel32<R>(fn: (k32: TestKernel32) => R | Promise<R>): Promise<R> {
  const library = Deno.dlopen("kernel32.dll", TEST_KERNEL32);
  try {
    return await fn(library.symbols);
  } finally {
    library.close();
  }
}

// ---------------------------------------------------------------------------
// The caller's own OVERLAPPED

windowsTest(
  "a read on the caller's own OVERLAPPED comes back from wait() with the handle's key, its bytes, its error and that OVERLAPPED",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    const key = 2 ** 50 + 3;
    port.associate(pipe.server.handle, key);
    // Memory the kernel writes to, off the V8 heap and referenced to the end.
    const overlapped = new Uint8Array(new ArrayBuffer(OVERLAPPED_SIZE));
    const buffer = new Uint8Array(new ArrayBuffer(16));
    const ov = Deno.UnsafePointer.of(overlapped);
    const address = Deno.UnsafePointer.value(ov);
    await withKernel32(async (k32) => {
      assert.equal(
        k32.ReadFile(pipe.server.handle, Deno.UnsafePointer.of(buffer), 16, null, ov),
        0,
      );
      assert.equal(k32.GetLastError(), ERROR_IO_PENDING);
      assert.equal(await port.write(pipe.client.handle, new Uint8Array([5, 6, 7])), 3);
      assert.deepEqual((await port.wait({ timeout: 10_000 })).map(tuple), [[key, 3, 0, address]]);
      assertBytes(buffer.subarray(0, 3), new Uint8Array([5, 6, 7]));
      // A failed operation: cancelled, its packet carries the Win32 error.
      overlapped.fill(0);
      assert.equal(
        k32.ReadFile(pipe.server.handle, Deno.UnsafePointer.of(buffer), 16, null, ov),
        0,
      );
      assert.equal(k32.GetLastError(), ERROR_IO_PENDING);
      assert.notEqual(k32.CancelIoEx(pipe.server.handle, ov), 0);
      assert.deepEqual(
        (await port.wait({ timeout: 10_000 })).map(tuple),
        [[key, 0, ERROR_OPERATION_ABORTED, address]],
      );
    });
  },
);

// ---------------------------------------------------------------------------
// Handles, and the helpers of windows.ts

windowsTest("opening a file that does not exist is NotFound with its code", () => {
  const path = `${Deno.makeTempDirSync()}\\missing.bin`;
  try {
    assert.throws(() => openOverlappedFile(path), (error) => {
      assert.ok(error instanceof Deno.errors.NotFound, String(error));
      assert.equal((error as Error & { code: string }).code, "ERROR_FILE_NOT_FOUND");
      assert.equal((error as Error & { errno: number }).errno, 2);
      return true;
    });
  } finally {
    Deno.removeSync(path.slice(0, path.lastIndexOf("\\")));
  }
});

windowsTest(
  "associate() of a handle twice is AlreadyExists, also after a read associated it",
  async () => {
    using pipe = openNamedPipePair();
    await using port = openCompletionPort();
    port.associate(pipe.server.handle, 1);
    assert.throws(() => port.associate(pipe.server.handle, 2), Deno.errors.AlreadyExists);
    // A read associates its handle (key 0) if nobody did.
    const reading = port.read(pipe.client.handle, new Uint8Array(4));
    assert.throws(() => port.associate(pipe.client.handle, 3), Deno.errors.AlreadyExists);
    assert.equal(await port.write(pipe.server.handle, new Uint8Array([1, 2])), 2);
    assert.equal(await reading, 2);
  },
);

windowsTest("openCompletionPort() with a Linux backend is NotSupported on Windows", () => {
  for (const backend of ["io_uring", "epoll"] as const) {
    assert.throws(() => openCompletionPort({ backend }), (error) => {
      assert.ok(error instanceof Deno.errors.NotSupported, String(error));
      assert.match((error as Error).message, new RegExp(`${backend}.*windows`));
      return true;
    });
  }
  using port = openCompletionPort({ backend: "iocp", concurrency: 2 });
  assert.equal(port.backend, "iocp");
});

windowsTest(
  "associate() of a raw handle value that now names another handle takes the new one",
  async () => {
    const path = Deno.makeTempFileSync();
    try {
      await using port = openCompletionPort();
      await withKernel32(async (k32) => {
        const open = () => {
          const handle = k32.CreateFileW(
            wide(path),
            (GENERIC_READ | GENERIC_WRITE) >>> 0,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            null,
            OPEN_EXISTING,
            (FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED) >>> 0,
            null,
          );
          assert.ok(handle !== null && Deno.UnsafePointer.value(handle) !== 0xffffffffffffffffn);
          return handle;
        };
        const first = open();
        port.associate(first, 1);
        assert.equal(await port.write(first, new Uint8Array([1, 2]), { offset: 0 }), 2);
        k32.CloseHandle(first); // behind the port's back
        const second = open();
        try {
          // Windows (and Wine) hand the value out again; associate() asks the kernel.
          port.associate(second, 2);
          const buffer = new Uint8Array(2);
          assert.equal(await port.read(second, buffer, { offset: 0 }), 2);
          assert.deepEqual([...buffer], [1, 2]);
        } finally {
          k32.CloseHandle(second);
        }
      });
    } finally {
      Deno.removeSync(path);
    }
  },
);

// ---------------------------------------------------------------------------
// The example

const PIPE_ECHO = new URL("../../examples/pipe_echo.ts", import.meta.url).href;

windowsTest("examples/pipe_echo.ts echoes every byte and prints one summary line", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", PIPE_ECHO, "--messages", "40", "--size", "150000"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const lines = out.trimEnd().split("\n");
  assert.equal(lines.length, 1, out);
  assert.match(
    lines[0],
    /^pipe_echo: 40 messages of 150000 bytes echoed, 12000000 bytes moved and checked, in \d+\.\d ms on windows x86_64, Deno \d+\.\d+\.\d+/,
  );
});

windowsTest("examples/pipe_echo.ts rejects a bad flag with exit code 2", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", PIPE_ECHO, "--size", "0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.equal(new TextDecoder().decode(stdout), "");
  assert.match(new TextDecoder().decode(stderr), /--size must be an integer from 1 to/);
});
