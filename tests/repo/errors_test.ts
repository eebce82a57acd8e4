// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The errno and Win32 error mapping against the README's error table: every
 * code the module names is in the table exactly once, with the class its
 * error really has, and the table names nothing else; the plain `Error`s
 * are exactly the ones listed as such. Pure mapping: no system call, every OS.
 */

import assert from "node:assert/strict";
import {
  errnoName,
  namedErrnos,
  namedWin32Errors,
  osError,
  win32Error,
  win32ErrorName,
} from "../../ffi/errors.ts";

type ErrorClass = new (message: string) => Error;

/** One row of the README's error table: the class, and the codes in each OS column. */
interface Row {
  label: string;
  Class: ErrorClass;
  linux: string[];
  windows: string[];
}

const README = new URL("../../README.md", import.meta.url);

/** The class a row's first cell names: `` `BadResource` ``, `` `TypeError` ``, or `` `Error`, … ``. */
function classOf(cell: string): ErrorClass {
  const name = cell.match(/^`(\w+)`/)?.[1];
  if (name === "Error") return Error;
  if (name === "TypeError") return TypeError;
  const Class = (Deno.errors as Record<string, ErrorClass>)[name ?? ""];
  if (Class === undefined) throw new Error(`README error table: no class named by "${cell}"`);
  return Class;
}

/** The rows of the table in the README's "Errors" section. */
async function readmeRows(): Promise<Row[]> {
  const text = await Deno.readTextFile(README);
  const section = text.split(/^## /m).find((part) => part.startsWith("Errors\n"));
  assert.ok(section !== undefined, "README has no Errors section");
  const rows = section.split("\n").filter((line) => line.startsWith("| `"));
  return rows.map((line) => {
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    assert.equal(cells.length, 3, `README error table row: ${line}`);
    const names = (cell: string) => [...cell.matchAll(/`(\w+)`/g)].map((m) => m[1]);
    return {
      label: cells[0],
      Class: classOf(cells[0]),
      linux: names(cells[1]),
      windows: names(cells[2]),
    };
  });
}

/** The code → class map a column of the table states; a code listed twice fails. */
function stated(rows: Row[], column: "linux" | "windows"): Map<string, ErrorClass> {
  const map = new Map<string, ErrorClass>();
  for (const row of rows) {
    for (const code of row[column]) {
      assert.ok(!map.has(code), `README error table lists ${code} twice`);
      map.set(code, row.Class);
    }
  }
  return map;
}

/** The class of an error, by constructor: a subclass is not its parent. */
function className(Class: ErrorClass): string {
  return Class === Error ? "Error" : Class.name;
}

Deno.test("every errno the module names is in the README's table, with its error's class", async () => {
  const table = stated(await readmeRows(), "linux");
  const named = namedErrnos();
  assert.ok(named.length >= 55, `only ${named.length} errnos named`);
  for (const errno of named) {
    const code = errnoName(errno);
    assert.notEqual(code, `E${errno}`, `errno ${errno} has no name`);
    const error = osError("Cannot test", errno);
    assert.equal(error.code, code);
    assert.equal(error.errno, errno);
    assert.equal(error.message, `Cannot test: ${code} (os error ${errno})`);
    const Class = table.get(code);
    assert.ok(Class !== undefined, `${code} (${errno}) is missing from the README's error table`);
    assert.equal(
      className(error.constructor as ErrorClass),
      className(Class),
      `${code}: the README says ${className(Class)}`,
    );
  }
  // And the table names nothing the module does not.
  const names = new Set(named.map(errnoName));
  for (const code of table.keys()) assert.ok(names.has(code), `README lists ${code}, not named`);
});

Deno.test("every Win32 and Winsock code the module names is in the README's table, with its error's class", async () => {
  const table = stated(await readmeRows(), "windows");
  const named = namedWin32Errors();
  for (const number of named) {
    const code = win32ErrorName(number);
    assert.notEqual(code, `ERROR_${number}`, `code ${number} has no name`);
    const error = win32Error("Cannot test", number);
    assert.equal(error.code, code);
    assert.equal(error.errno, number);
    const Class = table.get(code);
    assert.ok(Class !== undefined, `${code} (${number}) is missing from the README's error table`);
    assert.equal(
      className(error.constructor as ErrorClass),
      className(Class),
      `${code}: the README says ${className(Class)}`,
    );
  }
  const names = new Set(named.map(win32ErrorName));
  for (const code of table.keys()) assert.ok(names.has(code), `README lists ${code}, not named`);
});

Deno.test("the plain Errors are exactly the codes the README lists as plain Error", async () => {
  const rows = await readmeRows();
  const listedPlain = new Set(
    rows.filter((row) => row.Class === Error).flatMap((row) => [
      ...row.linux,
      ...row.windows,
    ]),
  );
  const plain = new Set([
    ...namedErrnos().filter((n) => osError("x", n).constructor === Error).map(errnoName),
    ...namedWin32Errors().filter((n) => win32Error("x", n).constructor === Error).map(
      win32ErrorName,
    ),
  ]);
  assert.deepEqual([...plain].sort(), [...listedPlain].sort());
  // EMSGSIZE and EDESTADDRREQ, which the probe found undocumented, are among them.
  for (const code of ["EMSGSIZE", "EDESTADDRREQ", "WSAEMSGSIZE", "WSAEDESTADDRREQ"]) {
    assert.ok(plain.has(code), code);
  }
});

Deno.test("an errno or Win32 code the module does not name is a plain Error with a numeric code", () => {
  const unnamed = osError("Cannot test", 4095);
  assert.equal(unnamed.constructor, Error);
  assert.equal(unnamed.code, "E4095");
  assert.equal(unnamed.errno, 4095);
  const unnamedWin32 = win32Error("Cannot test", 99_999);
  assert.equal(unnamedWin32.constructor, Error);
  assert.equal(unnamedWin32.code, "ERROR_99999");
});

Deno.test("a Winsock code and its errno twin have the same class", () => {
  const byName = new Map(namedErrnos().map((n) => [errnoName(n), osError("x", n).constructor]));
  let pairs = 0;
  for (const number of namedWin32Errors()) {
    const name = win32ErrorName(number);
    if (!name.startsWith("WSAE")) continue;
    const twin = byName.get(name.slice(3));
    if (twin === undefined) continue;
    pairs++;
    assert.equal(
      className(win32Error("x", number).constructor as ErrorClass),
      className(twin as ErrorClass),
      `${name} and ${name.slice(3)} differ`,
    );
  }
  assert.ok(pairs >= 25, `only ${pairs} pairs`);
});
