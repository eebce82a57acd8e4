// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Memory a CompletionPort owns, for the kernel to read and write while an
 * operation is in flight: JavaScript can neither free it nor move it.
 *
 * An ordinary `ArrayBuffer` may be detached at any moment (`transfer()`,
 * `structuredClone` or `postMessage` with a transfer list) and its memory
 * freed by the garbage collector while the kernel still holds its address:
 * a read would then write into freed memory. So the kernel never sees a
 * caller's ordinary buffer. It sees memory of the port's own, carved from
 * arenas that are `WebAssembly.Memory` objects: their buffers cannot be
 * detached, transferred or resized by any JavaScript (each such attempt
 * throws a TypeError in the caller's code), do not move, and are freed by
 * the garbage collector only once nothing refers to them, the port
 * included.
 *
 * - {@linkcode PortMemory.take} lends a slot for one step of one operation
 *   (a bounce buffer: a write's bytes are copied in before it starts, a
 *   read's copied out after it completes), given back with
 *   {@linkcode PortMemory.give} once the operation's completion has come
 *   back, also after a cancellation.
 * - {@linkcode PortMemory.allocate} hands a slot to the caller for good (a
 *   port's `allocate()`): operations on it (or on a view within it) need no
 *   copy. It is recycled once the view it returned has been garbage
 *   collected and no operation uses it: a view made from that one
 *   (`subarray()`, or over its `.buffer`) does not keep it, so a caller
 *   keeps the view it was given for as long as it uses the memory. Even
 *   then the memory stays the port's: misuse can mix up the caller's own
 *   bytes, never let the kernel write where JavaScript has freed.
 *
 * Slots come in size classes (powers of two from 4 KiB to 256 KiB, aligned
 * to their size, so page-aligned for O_DIRECT); larger allocations get an
 * arena of their own. Arenas are kept until the port is released.
 *
 * It knows nothing of kernels or operations.
 *
 * @module
 */

/** The smallest slot: one page. */
const MIN_SLOT = 4 * 1024;
/** The largest slot lent for one step; longer operations go in steps. */
export const MAX_SLOT: number = 256 * 1024;
/** A WebAssembly page. */
const WASM_PAGE = 64 * 1024;
/** The size of an arena of slots. */
const ARENA = 4 * 1024 * 1024;

/**
 * A piece of port memory.
 *
 * @internal
 */
export class Slot {
  /** Its bytes. */
  readonly bytes: Uint8Array;
  /** The address of its first byte. */
  readonly address: number;
  /** Its size class (its capacity), or 0 for an arena of its own. */
  readonly capacity: number;
  /** Operations using it now (a slot of `allocate()` is recycled only at 0). */
  users = 0;
  /** Lent to the caller by `allocate()`, and not yet collected. */
  allocated = false;

  constructor(bytes: Uint8Array, address: number, capacity: number) {
    this.bytes = bytes;
    this.address = address;
    this.capacity = capacity;
  }
}

/** The address of an ArrayBuffer's first byte. */
function baseOf(buffer: ArrayBuffer): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

/** The size class of `size` bytes (at most MAX_SLOT). */
function classOf(size: number): number {
  let capacity = MIN_SLOT;
  while (capacity < size) capacity *= 2;
  return capacity;
}

/**
 * A port's memory: arenas, and the free slots of each size class.
 *
 * @internal
 */
export class PortMemory {
  /** Every arena, by its buffer (kept alive while the port is): its base, its slots' size, its slots. */
  #arenas = new Map<ArrayBuffer, { base: number; capacity: number; slots: Slot[] }>();
  /** Free slots by size class. */
  #free = new Map<number, Slot[]>();
  /** Recycles the slot of a view `allocate()` returned once the view is collected. */
  #collected = new FinalizationRegistry<Slot>((slot) => {
    slot.allocated = false;
    if (slot.users === 0) this.#recycle(slot);
  });
  /** Bytes of arenas made so far. */
  #reserved = 0;

  /** Bytes reserved in arenas so far. */
  get reserved(): number {
    return this.#reserved;
  }

  /** A new arena of `size` bytes (a multiple of the WebAssembly page), cut into slots of `capacity` (0: one slot). */
  #arena(size: number, capacity: number): Slot[] {
    const pages = Math.ceil(size / WASM_PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const buffer = memory.buffer as ArrayBuffer; // not shared: no `shared: true`
    const base = baseOf(buffer);
    const slots: Slot[] = [];
    if (capacity === 0) {
      slots.push(new Slot(new Uint8Array(buffer, 0, size), base, 0));
    } else {
      for (let at = 0; at + capacity <= buffer.byteLength; at += capacity) {
        slots.push(new Slot(new Uint8Array(buffer, at, capacity), base + at, capacity));
      }
    }
    this.#arenas.set(buffer, { base, capacity, slots });
    this.#reserved += pages * WASM_PAGE;
    return slots;
  }

  /** A slot of at least `size` bytes: a free one of its class, or a new one. */
  #slot(size: number): Slot {
    if (size > MAX_SLOT) return this.#arena(size, 0)[0];
    const capacity = classOf(size);
    let free = this.#free.get(capacity);
    if (free === undefined) this.#free.set(capacity, free = []);
    const reused = free.pop();
    if (reused !== undefined) return reused;
    // A new arena, cut into slots of this class: the first is taken, the rest free.
    const slots = this.#arena(ARENA, capacity);
    for (let i = slots.length - 1; i > 0; i--) free.push(slots[i]);
    return slots[0];
  }

  #recycle(slot: Slot): void {
    if (slot.capacity === 0) return; // an arena of its own: dropped (kept until release)
    this.#free.get(slot.capacity)!.push(slot);
  }

  /** Lends a slot of at least `size` bytes (at most MAX_SLOT) for one operation. */
  take(size: number): Slot {
    const slot = this.#slot(size);
    slot.users = 1;
    return slot;
  }

  /** Gives back a slot lent by `take()`, or a use of an allocated one. */
  give(slot: Slot): void {
    if (--slot.users > 0 || slot.allocated) return;
    this.#recycle(slot);
  }

  /**
   * Hands out `size` bytes of port memory for good: a view the kernel can
   * use with no copy, which JavaScript can neither detach nor resize.
   */
  allocate(size: number): Uint8Array {
    const slot = this.#slot(size);
    slot.allocated = true;
    const view = slot.bytes.subarray(0, size);
    this.#collected.register(view, slot);
    return view;
  }

  /**
   * If `view` lies in this port's memory (a view `allocate()` returned, or
   * one within it): the slot it lies in, with one more user (give it back
   * with {@linkcode give}); else undefined. Its address is the slot's base
   * plus `view.byteOffset - slot.bytes.byteOffset`.
   */
  use(view: Uint8Array): Slot | undefined {
    const arena = this.#arenas.get(view.buffer as ArrayBuffer);
    if (arena === undefined) return undefined;
    const slot = arena.capacity === 0
      ? arena.slots[0]
      : arena.slots[Math.floor(view.byteOffset / arena.capacity)];
    slot.users++;
    return slot;
  }

  /** Drops every arena (the port is released; the garbage collector frees them once unused). */
  release(): void {
    this.#arenas.clear();
    this.#free.clear();
  }
}
