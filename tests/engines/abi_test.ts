// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Every number of ffi/libc.ts against the kernel's own, on both
 * architectures Deno ships for Linux, whatever this machine is: the values
 * of the uapi headers are written out once here (they are ABI: they never
 * change), and the struct layouts are computed from the structs' fields as
 * the headers declare them, with C's layout rules. Both arches take
 * `include/uapi/asm-generic/*` but for arm64's own `asm/fcntl.h` (open
 * flags), x86_64's own `asm/stat.h`, and x86_64's packed `struct
 * epoll_event`: `ARCH_ABI` in ffi/libc.ts, and nothing else, differs.
 *
 * Then the same numbers for real, on this machine's kernel (under
 * qemu-user, on aarch64's, as the emulator translates it): open flags,
 * `struct stat` and `struct epoll_event` as the kernel fills them.
 */

import assert from "node:assert/strict";
import * as libcModule from "../../ffi/libc.ts";
import {
  acquireLibc,
  ARCH_ABI,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_EVENT_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  EPOLLIN,
  errno,
  INT_SIZE,
  ioSize,
  O_CLOEXEC,
  O_DIRECTORY,
  O_RDONLY,
  O_RDWR,
  O_TMPFILE,
  releaseLibc,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  STAT_MODE_OFFSET,
  STAT_SIZE,
  STAT_SIZE_OFFSET,
} from "../../ffi/libc.ts";
import { linuxTest } from "../_helpers/mod.ts";

type Arch = keyof typeof ARCH_ABI;

// ---------------------------------------------------------------------------
// The kernel's numbers, written out once

/** include/uapi/asm-generic/fcntl.h, and arch/arm64/include/uapi/asm/fcntl.h over it. */
const O_DIRECTORY_BY_ARCH = { x86_64: 0o200000, aarch64: 0o40000 };
const O_DIRECT_BY_ARCH = { x86_64: 0o40000, aarch64: 0o200000 };
/** include/uapi/asm-generic/fcntl.h: O_TMPFILE is (__O_TMPFILE | O_DIRECTORY). */
const __O_TMPFILE = 0o20000000;

/**
 * The value of every number ffi/libc.ts exports that is the same on aarch64
 * and x86_64, from the header that defines it (glibc's own where it has
 * one: it matches the kernel's). The rest is in {@linkcode headersOf}.
 */
const SHARED_HEADERS: Record<string, number | bigint> = {
  // include/uapi/asm-generic/errno-base.h, errno.h
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENOTDIR: 20,
  EINVAL: 22,
  EMFILE: 24,
  ESPIPE: 29,
  EPIPE: 32,
  ENOSYS: 38,
  ENOTSOCK: 88,
  ECONNABORTED: 103,
  EISCONN: 106,
  ENOTCONN: 107,
  EALREADY: 114,
  EINPROGRESS: 115,
  ECANCELED: 125,
  // include/uapi/asm-generic/fcntl.h (arm64's asm/fcntl.h keeps these)
  O_RDONLY: 0,
  O_RDWR: 2,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  F_GETFD: 1,
  F_GETFL: 3,
  F_SETFD: 2,
  F_SETFL: 4,
  FD_CLOEXEC: 1,
  // include/uapi/linux/fcntl.h (F_LINUX_SPECIFIC_BASE 1024 + 6, + 8)
  F_DUPFD_CLOEXEC: 1030,
  F_GETPIPE_SZ: 1032,
  // include/uapi/linux/memfd.h
  MFD_CLOEXEC: 1,
  // include/uapi/linux/eventfd.h (EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK)
  EFD_SEMAPHORE: 1,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  // include/uapi/linux/eventpoll.h
  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
  EPOLLIN: 0x001,
  EPOLLPRI: 0x002,
  EPOLLOUT: 0x004,
  EPOLLERR: 0x008,
  EPOLLHUP: 0x010,
  EPOLLRDHUP: 0x2000,
  EPOLLEXCLUSIVE: 0x10000000,
  EPOLLONESHOT: 0x40000000,
  EPOLLET: 0x80000000,
  // include/uapi/asm-generic/poll.h
  POLLIN: 0x001,
  POLLPRI: 0x002,
  POLLOUT: 0x004,
  POLLERR: 0x008,
  POLLHUP: 0x010,
  POLLNVAL: 0x020,
  POLLRDHUP: 0x2000,
  // include/linux/socket.h, glibc's bits/socket.h, bits/socket_type.h
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_SEQPACKET: 5,
  AF_NETLINK: 16,
  AF_PACKET: 17,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  MSG_CTRUNC: 0x8,
  MSG_TRUNC: 0x20,
  MSG_CMSG_CLOEXEC: 0x40000000,
  SCM_RIGHTS: 1,
  // include/net/scm.h (the kernel's own limit, not uapi, but never changed since 2.6)
  SCM_MAX_FD: 253,
  // include/uapi/asm-generic/socket.h
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_ERROR: 4,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_LINGER: 13,
  SO_REUSEPORT: 15,
  SO_TYPE: 3,
  SO_BROADCAST: 6,
  SO_KEEPALIVE: 9,
  SO_PEERCRED: 17,
  SO_ACCEPTCONN: 30,
  SO_PROTOCOL: 38,
  SO_DOMAIN: 39,
  // include/uapi/linux/in.h, in6.h, include/uapi/linux/tcp.h
  IPPROTO_IP: 0,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  IP_TTL: 2,
  IP_MULTICAST_TTL: 33,
  IP_MULTICAST_LOOP: 34,
  IP_ADD_MEMBERSHIP: 35,
  IP_DROP_MEMBERSHIP: 36,
  IPV6_UNICAST_HOPS: 16,
  IPV6_MULTICAST_HOPS: 18,
  IPV6_MULTICAST_LOOP: 19,
  IPV6_ADD_MEMBERSHIP: 20,
  IPV6_DROP_MEMBERSHIP: 21,
  // include/uapi/asm-generic/resource.h
  RLIMIT_NOFILE: 7,
  RLIM_INFINITY: 0xffffffffffffffffn,
  // include/uapi/asm-generic/mman-common.h, include/uapi/linux/mman.h
  PROT_READ: 0x1,
  PROT_WRITE: 0x2,
  MAP_SHARED: 0x01,
  MAP_POPULATE: 0x8000,
  MAP_FAILED: 0xffffffffffffffffn, // (void *) -1
  // include/uapi/asm-generic/unistd.h
  SYS_IO_URING_SETUP: 425n,
  SYS_IO_URING_ENTER: 426n,
  SYS_IO_URING_REGISTER: 427n,
  // include/uapi/linux/stat.h
  S_IFMT: 0o170000,
  S_IFSOCK: 0o140000,
  S_IFREG: 0o100000,
  S_IFBLK: 0o060000,
  S_IFDIR: 0o040000,
  // include/uapi/asm-generic/signal.h
  SIGUSR1: 10,
  SIGUSR2: 12,
  // include/uapi/linux/limits.h
  PIPE_BUF: 4096,
  // Not the kernel's numbers: INT_MAX, and INT_MAX & PAGE_MASK with 4 KiB pages.
  MAX_TIMEOUT_MS: 0x7fffffff,
  MAX_IO: 0x7ffff000,
};

/** The C types of the structs below, on LP64 (both arches): [size, alignment]. */
const C_TYPES = {
  char: [1, 1],
  short: [2, 2],
  sa_family_t: [2, 2],
  int: [4, 4],
  uint: [4, 4],
  u32: [4, 4],
  u64: [8, 8],
  long: [8, 8],
  ulong: [8, 8],
  size_t: [8, 8],
  pointer: [8, 8],
  in_addr: [4, 4],
  in6_addr: [16, 4],
  sockaddr_storage: [128, 8],
} as const;
type Field = [name: string, type: keyof typeof C_TYPES, count?: number];

/** Where each field of a C struct is, and its size, by C's rules (or packed: no padding). */
function layout(fields: Field[], packed = false): { at: Record<string, number>; size: number } {
  const at: Record<string, number> = {};
  let offset = 0;
  let alignment = 1;
  for (const [name, type, count = 1] of fields) {
    const [size, align] = packed ? [C_TYPES[type][0], 1] : C_TYPES[type];
    offset = Math.ceil(offset / align) * align;
    at[name] = offset;
    offset += size * count;
    alignment = Math.max(alignment, align);
  }
  return { at, size: Math.ceil(offset / alignment) * alignment };
}

/** include/uapi/linux/eventpoll.h: packed (EPOLL_PACKED) on x86_64 only. */
const EPOLL_EVENT: Field[] = [["events", "u32"], ["data", "u64"]];
const EPOLL_PACKED = { x86_64: true, aarch64: false };

/** struct stat as the kernel fills it (glibc's is the same on both arches). */
const STAT: Record<Arch, Field[]> = {
  // arch/x86/include/uapi/asm/stat.h (__x86_64__)
  x86_64: [
    ["st_dev", "ulong"],
    ["st_ino", "ulong"],
    ["st_nlink", "ulong"],
    ["st_mode", "uint"],
    ["st_uid", "uint"],
    ["st_gid", "uint"],
    ["__pad0", "uint"],
    ["st_rdev", "ulong"],
    ["st_size", "long"],
    ["st_blksize", "long"],
    ["st_blocks", "long"],
    ["st_atime", "ulong"],
    ["st_atime_nsec", "ulong"],
    ["st_mtime", "ulong"],
    ["st_mtime_nsec", "ulong"],
    ["st_ctime", "ulong"],
    ["st_ctime_nsec", "ulong"],
    ["__unused", "long", 3],
  ],
  // include/uapi/asm-generic/stat.h
  aarch64: [
    ["st_dev", "ulong"],
    ["st_ino", "ulong"],
    ["st_mode", "uint"],
    ["st_nlink", "uint"],
    ["st_uid", "uint"],
    ["st_gid", "uint"],
    ["st_rdev", "ulong"],
    ["__pad1", "ulong"],
    ["st_size", "long"],
    ["st_blksize", "int"],
    ["__pad2", "int"],
    ["st_blocks", "long"],
    ["st_atime", "long"],
    ["st_atime_nsec", "ulong"],
    ["st_mtime", "long"],
    ["st_mtime_nsec", "ulong"],
    ["st_ctime", "long"],
    ["st_ctime_nsec", "ulong"],
    ["__unused4", "uint"],
    ["__unused5", "uint"],
  ],
};

/** The same on both: include/uapi/asm-generic/poll.h, linux/socket.h, asm-generic/resource.h. */
const POLLFD: Field[] = [["fd", "int"], ["events", "short"], ["revents", "short"]];
const LINGER: Field[] = [["l_onoff", "int"], ["l_linger", "int"]];
const RLIMIT: Field[] = [["rlim_cur", "ulong"], ["rlim_max", "ulong"]];
const SOCKADDR_STORAGE: Field[] = [["storage", "sockaddr_storage"]];
/** include/uapi/linux/un.h */
const SOCKADDR_UN: Field[] = [["sun_family", "sa_family_t"], ["sun_path", "char", 108]];
/** include/uapi/linux/uio.h */
const IOVEC: Field[] = [["iov_base", "pointer"], ["iov_len", "size_t"]];
/** glibc's bits/socket.h (the kernel's user_msghdr has the same layout on LP64) */
const MSGHDR: Field[] = [
  ["msg_name", "pointer"],
  ["msg_namelen", "u32"],
  ["msg_iov", "pointer"],
  ["msg_iovlen", "size_t"],
  ["msg_control", "pointer"],
  ["msg_controllen", "size_t"],
  ["msg_flags", "int"],
];
/** glibc's bits/socket.h; CMSG_DATA is CMSG_ALIGN(sizeof(struct cmsghdr)) past it */
const CMSGHDR: Field[] = [["cmsg_len", "size_t"], ["cmsg_level", "int"], ["cmsg_type", "int"]];
/** include/linux/socket.h */
const UCRED: Field[] = [["pid", "int"], ["uid", "u32"], ["gid", "u32"]];
/** include/uapi/linux/in.h, in6.h */
const IP_MREQ: Field[] = [["imr_multiaddr", "in_addr"], ["imr_interface", "in_addr"]];
const IPV6_MREQ: Field[] = [["ipv6mr_multiaddr", "in6_addr"], ["ipv6mr_interface", "int"]];

/** ffi/libc.ts's column for `arch`: what it exports on that arch. */
function columnOf(arch: Arch): Record<string, number | bigint> {
  const exported: Record<string, number | bigint> = {};
  for (const [name, value] of Object.entries(libcModule)) {
    if (typeof value === "number" || typeof value === "bigint") exported[name] = value;
  }
  // What differs by arch is the arch's own column, the rest is the same on both.
  return { ...exported, ...ARCH_ABI[arch] };
}

/** The numbers that `arch`'s headers and struct layouts give. */
function headersOf(arch: Arch): Record<string, number | bigint> {
  const epollEvent = layout(EPOLL_EVENT, EPOLL_PACKED[arch]);
  const stat = layout(STAT[arch]);
  const pollfd = layout(POLLFD);
  const msghdr = layout(MSGHDR);
  const cmsghdr = layout(CMSGHDR);
  const iovec = layout(IOVEC);
  const ucred = layout(UCRED);
  const sockaddrUn = layout(SOCKADDR_UN);
  const ipMreq = layout(IP_MREQ);
  const ipv6Mreq = layout(IPV6_MREQ);
  return {
    ...SHARED_HEADERS,
    O_DIRECTORY: O_DIRECTORY_BY_ARCH[arch],
    O_DIRECT: O_DIRECT_BY_ARCH[arch],
    O_TMPFILE: __O_TMPFILE | O_DIRECTORY_BY_ARCH[arch],
    EPOLL_EVENT_SIZE: epollEvent.size,
    EPOLL_EVENT_DATA_OFFSET: epollEvent.at.data,
    STAT_SIZE: stat.size,
    STAT_MODE_OFFSET: stat.at.st_mode,
    STAT_SIZE_OFFSET: stat.at.st_size,
    STAT_DEV_OFFSET: stat.at.st_dev,
    STAT_INO_OFFSET: stat.at.st_ino,
    SOCKADDR_UN_SIZE: sockaddrUn.size,
    SUN_PATH_OFFSET: sockaddrUn.at.sun_path,
    IOVEC_SIZE: iovec.size,
    IOVEC_LEN_OFFSET: iovec.at.iov_len,
    MSGHDR_SIZE: msghdr.size,
    MSGHDR_NAMELEN_OFFSET: msghdr.at.msg_namelen,
    MSGHDR_IOV_OFFSET: msghdr.at.msg_iov,
    MSGHDR_IOVLEN_OFFSET: msghdr.at.msg_iovlen,
    MSGHDR_CONTROL_OFFSET: msghdr.at.msg_control,
    MSGHDR_CONTROLLEN_OFFSET: msghdr.at.msg_controllen,
    MSGHDR_FLAGS_OFFSET: msghdr.at.msg_flags,
    // CMSG_ALIGN(sizeof(struct cmsghdr)): the data starts there, aligned as a size_t.
    CMSGHDR_SIZE: Math.ceil(cmsghdr.size / C_TYPES.size_t[0]) * C_TYPES.size_t[0],
    CMSGHDR_LEVEL_OFFSET: cmsghdr.at.cmsg_level,
    CMSGHDR_TYPE_OFFSET: cmsghdr.at.cmsg_type,
    CMSG_ALIGNMENT: C_TYPES.size_t[0],
    UCRED_SIZE: ucred.size,
    UCRED_UID_OFFSET: ucred.at.uid,
    UCRED_GID_OFFSET: ucred.at.gid,
    IP_MREQ_SIZE: ipMreq.size,
    IP_MREQ_INTERFACE_OFFSET: ipMreq.at.imr_interface,
    IPV6_MREQ_SIZE: ipv6Mreq.size,
    IPV6_MREQ_INTERFACE_OFFSET: ipv6Mreq.at.ipv6mr_interface,
    POLLFD_SIZE: pollfd.size,
    POLLFD_EVENTS_OFFSET: pollfd.at.events,
    POLLFD_REVENTS_OFFSET: pollfd.at.revents,
    INT_SIZE: C_TYPES.int[0],
    LINGER_SIZE: layout(LINGER).size,
    RLIMIT_SIZE: layout(RLIMIT).size,
    SOCKADDR_STORAGE_SIZE: layout(SOCKADDR_STORAGE).size,
  };
}

for (const arch of ["aarch64", "x86_64"] as const) {
  Deno.test(`ffi/libc.ts on ${arch}: every number is the kernel headers' own`, () => {
    const column = columnOf(arch);
    const headers = headersOf(arch);
    for (const [name, value] of Object.entries(column)) {
      assert.ok(name in headers, `${name} has no header value written out in abi_test.ts`);
      assert.equal(value, headers[name], `${name} on ${arch}`);
    }
    for (const name of Object.keys(headers)) assert.ok(name in column, `${name} is not exported`);
  });
}

Deno.test("ffi/libc.ts: ARCH_ABI is all that differs, and this machine uses its own column", () => {
  const [x86, arm] = [headersOf("x86_64"), headersOf("aarch64")];
  const differing = Object.keys(x86).filter((name) => x86[name] !== arm[name]).sort();
  assert.deepEqual(Object.keys(ARCH_ABI.x86_64).sort(), differing);
  assert.deepEqual(Object.keys(ARCH_ABI.aarch64).sort(), differing);
  const here = ARCH_ABI[Deno.build.arch] as Record<string, number>;
  const exported = libcModule as unknown as Record<string, number>;
  for (const name of differing) assert.equal(exported[name], here[name], name);
});

// ---------------------------------------------------------------------------
// The same numbers, for real

/** libc calls of these tests that the library does not make. */
const TEST_LIBC = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Runs `fn` with the library's libc and the test's own `open`. */
function withOpen<R>(
  fn: (libc: ReturnType<typeof acquireLibc>, open: (path: string, flags: number) => number) => R,
): R {
  const own = Deno.dlopen("libc.so.6", TEST_LIBC);
  const libc = acquireLibc();
  try {
    return fn(
      libc,
      (path, flags) => own.symbols.open(new TextEncoder().encode(`${path}\0`), flags, 0o600),
    );
  } finally {
    releaseLibc();
    own.close();
  }
}

/** Bytes past a struct that the kernel must leave alone. */
const GUARD = 64;
const GUARD_BYTE = 0xa5;

/** fstat(fd) into a STAT_SIZE buffer with a guard after it: [st_mode, st_size]. */
function fstat(libc: ReturnType<typeof acquireLibc>, fd: number): [mode: number, size: bigint] {
  const buffer = new Uint8Array(STAT_SIZE + GUARD).fill(GUARD_BYTE);
  assert.equal(libc.fstat(fd, buffer), 0, `fstat failed: errno ${errno()}`);
  const tail = buffer.subarray(STAT_SIZE);
  assert.ok(tail.every((b) => b === GUARD_BYTE), `fstat wrote past STAT_SIZE (${STAT_SIZE})`);
  const view = new DataView(buffer.buffer);
  return [view.getUint32(STAT_MODE_OFFSET, true), view.getBigInt64(STAT_SIZE_OFFSET, true)];
}

linuxTest(`open flags and struct stat are ${Deno.build.arch}'s on this kernel`, () => {
  withOpen((libc, open) => {
    // O_DIRECTORY: a directory opens, anything else is ENOTDIR.
    const dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert.ok(dir >= 0, `Cannot open /tmp with O_DIRECTORY: errno ${errno()}`);
    try {
      assert.equal(fstat(libc, dir)[0] & S_IFMT, S_IFDIR);
    } finally {
      libc.close(dir);
    }
    assert.equal(open("/dev/null", O_RDONLY | O_DIRECTORY | O_CLOEXEC), -1);
    assert.equal(errno(), libcModule.ENOTDIR);
    // O_TMPFILE: an unnamed regular file, whose size fstat reports.
    const file = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC);
    assert.ok(file >= 0, `Cannot open an O_TMPFILE in /tmp: errno ${errno()}`);
    try {
      const data = new Uint8Array(4_097).fill(7);
      assert.equal(libc.pwrite(file, data, ioSize(data.length), 3n), data.length);
      assert.deepEqual(fstat(libc, file), [S_IFREG | 0o600, 4_100n]);
    } finally {
      libc.close(file);
    }
  });
});

linuxTest(`struct epoll_event is ${Deno.build.arch}'s on this kernel`, () => {
  withOpen((libc) => {
    const epfd = libc.epoll_create1(EPOLL_CLOEXEC);
    assert.ok(epfd >= 0);
    const fds = new Int32Array(2);
    assert.equal(libc.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC), 0);
    try {
      const DATA = 0x0123456789abcdefn;
      const event = new Uint8Array(EPOLL_EVENT_SIZE);
      const view = new DataView(event.buffer);
      view.setUint32(0, EPOLLIN, true);
      view.setBigUint64(EPOLL_EVENT_DATA_OFFSET, DATA, true);
      assert.equal(libc.epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], event), 0);
      assert.equal(libc.write(fds[1], new Uint8Array([1]), ioSize(1)), 1);
      const events = new Uint8Array(EPOLL_EVENT_SIZE + GUARD).fill(GUARD_BYTE);
      assert.equal(libc.epoll_wait(epfd, events, 1, 0), 1);
      const got = new DataView(events.buffer);
      assert.equal(got.getUint32(0, true), EPOLLIN);
      assert.equal(got.getBigUint64(EPOLL_EVENT_DATA_OFFSET, true), DATA);
      assert.ok(
        events.subarray(EPOLL_EVENT_SIZE).every((b) => b === GUARD_BYTE),
        `epoll_wait wrote past EPOLL_EVENT_SIZE (${EPOLL_EVENT_SIZE})`,
      );
    } finally {
      libc.close(fds[0]);
      libc.close(fds[1]);
      libc.close(epfd);
    }
  });
});

linuxTest(
  `struct msghdr, cmsghdr, ucred and sockaddr_un are ${Deno.build.arch}'s on this kernel`,
  () => {
    withOpen((libc) => {
      const pair = new Int32Array(2);
      const sv = new Uint8Array(pair.buffer);
      assert.equal(
        libc.socketpair(libcModule.AF_UNIX, libcModule.SOCK_STREAM | O_CLOEXEC, 0, sv),
        0,
      );
      const pipe = new Int32Array(2);
      assert.equal(libc.pipe2(new Uint8Array(pipe.buffer), O_CLOEXEC), 0);
      try {
        const address = (bytes: Uint8Array) =>
          BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
        /** A msghdr over one byte of `data` and `control`, with guard bytes after each struct. */
        const message = (data: Uint8Array, control: Uint8Array, controlLength: number) => {
          const iovec = new Uint8Array(new ArrayBuffer(libcModule.IOVEC_SIZE));
          const iov = new DataView(iovec.buffer);
          iov.setBigUint64(0, address(data), true);
          iov.setBigUint64(libcModule.IOVEC_LEN_OFFSET, BigInt(data.length), true);
          const header = new Uint8Array(new ArrayBuffer(libcModule.MSGHDR_SIZE + GUARD))
            .fill(GUARD_BYTE);
          const view = new DataView(header.buffer);
          view.setBigUint64(0, 0n, true);
          view.setUint32(libcModule.MSGHDR_NAMELEN_OFFSET, 0, true);
          view.setBigUint64(libcModule.MSGHDR_IOV_OFFSET, address(iovec), true);
          view.setBigUint64(libcModule.MSGHDR_IOVLEN_OFFSET, 1n, true);
          view.setBigUint64(libcModule.MSGHDR_CONTROL_OFFSET, address(control), true);
          view.setBigUint64(libcModule.MSGHDR_CONTROLLEN_OFFSET, BigInt(controlLength), true);
          view.setInt32(libcModule.MSGHDR_FLAGS_OFFSET, 0, true);
          return { header, view, iovec };
        };
        // Send the pipe's read end with one byte.
        const one = new Uint8Array(new ArrayBuffer(1)).fill(42);
        const sent = new Uint8Array(new ArrayBuffer(libcModule.cmsgSpace(INT_SIZE)));
        const cmsg = new DataView(sent.buffer);
        cmsg.setBigUint64(0, BigInt(libcModule.cmsgLen(INT_SIZE)), true);
        cmsg.setInt32(libcModule.CMSGHDR_LEVEL_OFFSET, libcModule.SOL_SOCKET, true);
        cmsg.setInt32(libcModule.CMSGHDR_TYPE_OFFSET, libcModule.SCM_RIGHTS, true);
        cmsg.setInt32(libcModule.CMSGHDR_SIZE, pipe[0], true);
        const out = message(one, sent, sent.length);
        assert.equal(libc.sendmsg(pair[0], out.header, 0), 1, `sendmsg failed: errno ${errno()}`);
        // Take it with a control buffer of exactly CMSG_LEN(sizeof(int)), a guard after it.
        const got = new Uint8Array(new ArrayBuffer(1));
        const exact = libcModule.cmsgLen(INT_SIZE);
        const control = new Uint8Array(new ArrayBuffer(exact + GUARD)).fill(GUARD_BYTE);
        const back = message(got, control, exact);
        assert.equal(libc.recvmsg(pair[1], back.header, libcModule.MSG_CMSG_CLOEXEC), 1);
        assert.equal(got[0], 42);
        const received = new DataView(control.buffer);
        assert.equal(received.getBigUint64(0, true), BigInt(exact));
        assert.equal(
          received.getInt32(libcModule.CMSGHDR_LEVEL_OFFSET, true),
          libcModule.SOL_SOCKET,
        );
        assert.equal(
          received.getInt32(libcModule.CMSGHDR_TYPE_OFFSET, true),
          libcModule.SCM_RIGHTS,
        );
        const fd = received.getInt32(libcModule.CMSGHDR_SIZE, true);
        assert.ok(fd > 2 && fd !== pipe[0], `received fd ${fd}`);
        assert.ok(libc.fcntl(fd, libcModule.F_GETFD) & libcModule.FD_CLOEXEC);
        libc.close(fd);
        assert.equal(
          back.view.getBigUint64(libcModule.MSGHDR_CONTROLLEN_OFFSET, true),
          BigInt(exact),
        );
        // The kernel writes back the flags it kept from the call, and no MSG_CTRUNC.
        assert.equal(
          back.view.getInt32(libcModule.MSGHDR_FLAGS_OFFSET, true),
          libcModule.MSG_CMSG_CLOEXEC,
        );
        for (
          const [bytes, size, what] of [
            [control, exact, "CMSG_LEN(sizeof(int))"],
            [back.header, libcModule.MSGHDR_SIZE, "MSGHDR_SIZE"],
          ] as const
        ) {
          assert.ok(bytes.subarray(size).every((b) => b === GUARD_BYTE), `written past ${what}`);
        }
        // SO_PEERCRED fills UCRED_SIZE bytes: this process, as the kernel saw it.
        const ucred = new Uint8Array(libcModule.UCRED_SIZE + GUARD).fill(GUARD_BYTE);
        const length = new Uint32Array([ucred.length]);
        assert.equal(
          libc.getsockopt(pair[0], libcModule.SOL_SOCKET, libcModule.SO_PEERCRED, ucred, length),
          0,
        );
        assert.equal(length[0], libcModule.UCRED_SIZE);
        assert.equal(new DataView(ucred.buffer).getInt32(0, true), Deno.pid);
        // An abstract name's address is the family, its NUL and its bytes: no terminator.
        const socket = libc.socket(libcModule.AF_UNIX, libcModule.SOCK_DGRAM | O_CLOEXEC, 0);
        try {
          const name = new TextEncoder().encode(`\0evented-io-abi-${crypto.randomUUID()}`);
          const sockaddr = new Uint8Array(libcModule.SUN_PATH_OFFSET + name.length);
          new DataView(sockaddr.buffer).setUint16(0, libcModule.AF_UNIX, true);
          sockaddr.set(name, libcModule.SUN_PATH_OFFSET);
          assert.equal(libc.bind(socket, sockaddr, sockaddr.length), 0);
          const named = new Uint8Array(libcModule.SOCKADDR_UN_SIZE + GUARD);
          const namedLength = new Uint32Array([named.length]);
          assert.equal(libc.getsockname(socket, named, namedLength), 0);
          assert.equal(namedLength[0], sockaddr.length);
          assert.deepEqual(named.subarray(0, sockaddr.length), sockaddr);
        } finally {
          libc.close(socket);
        }
      } finally {
        for (const fd of [...pair, ...pipe]) libc.close(fd);
      }
    });
  },
);
