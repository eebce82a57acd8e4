// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Watches a directory with Linux's inotify: the fd of a native call, bound
 * with `Deno.dlopen` and awaited with `watchFd()`, as any native library's
 * fd would be (libpq's `PQsocket()`, libcurl's sockets, a tty).
 *
 *     deno run --allow-ffi examples/inotify_watch.ts [--dir .] [--seconds 10]
 *
 * Prints one line per event (`created hello.txt`, …); stops after
 * `--seconds` (its pending read is then ended by `close()`) or on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { watchFd } from "../mod.ts";

const { values } = parseArgs({
  options: { dir: { type: "string", default: "." }, seconds: { type: "string", default: "10" } },
});
if (Deno.build.os !== "linux") {
  console.error("inotify is Linux's");
  Deno.exit(2);
}
const libc = Deno.dlopen("libc.so.6", {
  inotify_init1: { parameters: ["i32"], result: "i32" },
  inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
});
const IN_NONBLOCK = 0o4000, IN_CLOEXEC = 0o2000000; // inotify_init1 flags
const EVENTS = {
  created: 0x100,
  deleted: 0x200,
  modified: 0x2,
  "moved out": 0x40,
  "moved in": 0x80,
};
const ALL = Object.values(EVENTS).reduce((all, bit) => all | bit);
const fd = libc.symbols.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
if (fd < 0) throw new Error("inotify_init1 failed");
const inotify = watchFd(fd, { owned: true }); // close() closes the fd
const path = new TextEncoder().encode(`${values.dir}\0`);
if (libc.symbols.inotify_add_watch(fd, path, ALL) < 0) {
  throw new Error(`cannot watch ${values.dir}`);
}
console.log(`watching ${values.dir} (inotify fd ${fd})`);
const stop = () => inotify.close(); // ends the pending read with Interrupted
const timer = setTimeout(stop, Number(values.seconds) * 1000);
Deno.addSignalListener("SIGINT", stop);
const buffer = new Uint8Array(4096); // struct inotify_event { wd, mask, cookie, len, name[len] }
const view = new DataView(buffer.buffer);
try {
  for (let n; (n = await inotify.read(buffer)) !== null;) {
    for (let at = 0; at < n; at += 16 + view.getUint32(at + 12, true)) {
      const mask = view.getUint32(at + 4, true), length = view.getUint32(at + 12, true);
      const name = new TextDecoder().decode(buffer.subarray(at + 16, at + 16 + length));
      const what = Object.entries(EVENTS).filter(([, bit]) => mask & bit).map(([word]) => word);
      console.log(
        `${what.join(", ") || `mask 0x${mask.toString(16)}`} ${name.replace(/\0+$/, "")}`,
      );
    }
  }
} catch (error) {
  if (!(error instanceof Deno.errors.Interrupted)) throw error;
} finally {
  clearTimeout(timer);
  Deno.removeSignalListener("SIGINT", stop);
  inotify.close();
  libc.close();
  console.log("stopped");
}
