// Copyright 2026 the @evented/io authors. MIT license.
// The library's import graph, as `deno info --json mod.ts` gives it, has no
// cycle and no import that points up a layer (ARCHITECTURE.md draws them):
//
//   0 ffi/               the C libraries: symbol tables, layouts, errors
//   1 backends/shared/   helpers every layer above may use
//   2 types/             public contracts: types and small values, no I/O
//   3 backends/*.ts      the OS-neutral cores (Selector, CompletionPort)
//   4 backends/linux/, backends/windows/   the engines (neither imports the other)
//   5 net/               sockets and the fds this module owns
//   6 *.ts (root)        the public files, and _platform.ts, the one OS switch
//   7 mod.ts             what the module exports
//
// A failure names both files of each import that breaks a rule.
import assert from "node:assert/strict";

interface Module {
  specifier: string;
  dependencies?: {
    specifier: string;
    code?: { specifier: string };
    type?: { specifier: string };
  }[];
}

const ROOT = new URL("../../", import.meta.url).href;

/** The layer of a library file (a path from the repository's root), or undefined outside the library. */
function layerOf(path: string): number | undefined {
  if (path.startsWith("ffi/")) return 0;
  if (path.startsWith("backends/shared/")) return 1;
  if (path.startsWith("types/")) return 2;
  if (path.startsWith("backends/linux/") || path.startsWith("backends/windows/")) return 4;
  if (path.startsWith("backends/") && !path.slice("backends/".length).includes("/")) return 3;
  if (path.startsWith("net/")) return 5;
  if (path === "mod.ts") return 7;
  if (!path.includes("/") && path.endsWith(".ts")) return 6;
  return undefined;
}

const NAMES = [
  "ffi",
  "shared helpers",
  "types",
  "cores",
  "engines",
  "sockets",
  "public files",
  "mod.ts",
];

/** The import graph of mod.ts: library file -> the library files it imports. */
async function graph(): Promise<Map<string, string[]>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: new URL(ROOT).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const { modules } = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: Module[];
  };
  const local = (specifier: string) =>
    specifier.startsWith(ROOT) ? specifier.slice(ROOT.length) : undefined;
  const edges = new Map<string, string[]>();
  for (const module of modules) {
    const from = local(module.specifier);
    if (from === undefined) continue;
    const to = new Set<string>();
    for (const dependency of module.dependencies ?? []) {
      for (const resolved of [dependency.code?.specifier, dependency.type?.specifier]) {
        const path = resolved === undefined ? undefined : local(resolved);
        if (path !== undefined) to.add(path);
      }
    }
    edges.set(from, [...to]);
  }
  return edges;
}

/** The strongly connected components of more than one file (cycles), by Tarjan's algorithm. */
function cycles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    indexOf.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
      }
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of edges.keys()) if (!indexOf.has(node)) visit(node);
  return found;
}

Deno.test({
  name: "the library's imports form no cycle and never point up a layer",
  ignore: Deno.build.os !== "linux", // one OS is enough: the graph is the same on every OS
  async fn() {
    const edges = await graph();
    const problems: string[] = [];
    for (const [from, targets] of edges) {
      const layer = layerOf(from);
      if (layer === undefined) {
        problems.push(`${from} is in no layer (see tests/repo/layers_test.ts)`);
        continue;
      }
      for (const to of targets) {
        const target = layerOf(to);
        if (target === undefined) continue;
        if (target > layer) {
          problems.push(
            `${from} (${NAMES[layer]}) imports ${to} (${NAMES[target]}), a layer above its own`,
          );
        }
        const os = (path: string) => /^backends\/(linux|windows)\//.exec(path)?.[1];
        if (os(from) && os(to) && os(from) !== os(to)) {
          problems.push(`${from} imports ${to}: an engine of one OS imports one of another`);
        }
      }
    }
    for (const cycle of cycles(edges)) {
      problems.push(`these files import each other in a circle: ${cycle.join(", ")}`);
    }
    assert.deepEqual(problems, [], `\n${problems.join("\n")}`);
  },
});
