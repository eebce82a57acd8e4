// Copyright 2026 the @evented/io authors. MIT license.
/**
 * A native library opened on first use and closed with its last user:
 * importing a module that declares one needs no permission, and Deno's test
 * sanitizers, which count an open library as a leaked resource, see none
 * left open once every object using it is closed.
 *
 * It must not know a symbol or a library's purpose: each `ffi/` module
 * declares its own table.
 *
 * @module
 */

/** A reference-counted binding of one library's symbol table. */
export interface SharedLibrary<S extends Deno.ForeignLibraryInterface> {
  /** Opens the library for one more user and returns its symbols. */
  acquire(): Deno.DynamicLibrary<S>["symbols"];
  /** Gives one use back; returns whether that closed the library. */
  release(): boolean;
  /** The symbols of the open library (for a caller that holds a use). */
  symbols(): Deno.DynamicLibrary<S>["symbols"];
}

/**
 * Declares a library to open with `Deno.dlopen(path, symbols)` on first use.
 *
 * @param path the library's file name, such as "libc.so.6" or "kernel32.dll"
 * @param symbols its one symbol table
 * @returns the shared binding
 */
export function sharedLibrary<S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
): SharedLibrary<S> {
  let library: Deno.DynamicLibrary<S> | undefined;
  let users = 0;
  return {
    acquire() {
      library ??= Deno.dlopen(path, symbols);
      users++;
      return library.symbols;
    },
    release() {
      if (users <= 0) throw new Error(`Cannot release ${path}: it is not open`);
      if (--users > 0) return false;
      library!.close();
      library = undefined;
      return true;
    },
    symbols() {
      if (library === undefined) throw new Error(`Cannot use ${path}: it is not open`);
      return library.symbols;
    },
  };
}
