// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Pointers and handles as numbers, and back: user-space addresses and
 * Windows handle values fit in 53 bits, so a number is what the library
 * keeps, compares and prints (a SOCKET's number is its `fd`).
 *
 * It must not know what a pointer points to, nor any library.
 *
 * @module
 */

/**
 * The value of a pointer or handle as a number.
 *
 * @param pointer a pointer, or null
 * @returns its value (0 for null)
 */
export function pointerValue(pointer: Deno.PointerValue): number {
  return pointer === null ? 0 : Number(Deno.UnsafePointer.value(pointer));
}

/**
 * The pointer or handle whose value is `value`.
 *
 * @param value a value from {@linkcode pointerValue}
 * @returns the pointer (null for 0)
 */
export function pointerAt(value: number): Deno.PointerValue {
  return Deno.UnsafePointer.create(BigInt(value));
}
