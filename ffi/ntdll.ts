// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The one symbol table for `ntdll.dll`: what turns the NTSTATUS of a
 * completed operation into a Win32 error.
 *
 * @module
 */

import { sharedLibrary } from "./_library.ts";

/** ntdll symbols. */
export const NTDLL_SYMBOLS = {
  /** ULONG RtlNtStatusToDosError(NTSTATUS Status); */
  RtlNtStatusToDosError: { parameters: ["i32"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound ntdll symbols. */
export type Ntdll = Deno.DynamicLibrary<typeof NTDLL_SYMBOLS>["symbols"];

const ntdll = sharedLibrary("ntdll.dll", NTDLL_SYMBOLS);

/**
 * Opens ntdll for one more user.
 *
 * @returns the bound symbols
 */
export function acquireNtdll(): Ntdll {
  return ntdll.acquire();
}

/** Closes ntdll when its last user is gone. */
export function releaseNtdll(): void {
  ntdll.release();
}
