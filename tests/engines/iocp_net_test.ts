// Copyright 2026 the @evented/io authors. MIT license.
// The Windows-only socket tests (run under Wine on Linux: tools/wine/run.sh
// test ... tests/engines/iocp_net_test.ts). Sockets driven through a CompletionPort
// on every OS are tested in contract/completion_port_test.ts.
import assert from "node:assert/strict";
import { listenTcp } from "../../mod.ts";
import { windowsTest as sharedWindowsTest } from "../_helpers/mod.ts";

/** No test here takes this long, even under Wine. */
const TEST_TIMEOUT_MS = 30_000;

/** A Windows-only test of this file. */
function windowsTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  sharedWindowsTest("iocp net", TEST_TIMEOUT_MS, name, fn);
}

windowsTest("listening on an address in use is AddrInUse", () => {
  for (const hostname of ["127.0.0.1", "::1"]) {
    using first = listenTcp({ hostname, port: 0 });
    assert.throws(() => listenTcp({ hostname, port: first.addr.port }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
      assert.match(error.message, /: WSAEADDRINUSE \(os error 10048\)$/);
      assert.equal((error as Error & { code: string }).code, "WSAEADDRINUSE");
      assert.equal((error as Error & { errno: number }).errno, 10048);
      return true;
    });
  }
});
