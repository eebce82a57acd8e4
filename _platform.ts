// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The one place that looks at the OS (`Deno.build.os`): which engine
 * serves a Selector and a CompletionPort here, which socket code serves
 * `net.ts`, the reactor's platform, and what is Linux only. The public files ask here and never
 * switch on the OS themselves; the engines and the sockets never know of
 * each other but through the interfaces this file hands from one to the
 * other (`backends/_port_sockets.ts`).
 *
 * On an OS with nothing of its own yet, each asks for a
 * `Deno.errors.NotSupported` naming the OS and what would serve it.
 *
 * @module
 */

import { unixPortListener } from "./net/_unix.ts";
import type { PosixSockets } from "./backends/_port_sockets.ts";
import { watchPosixFd } from "./net/_posix_watch.ts";
import { watchWinsockFd } from "./net/_winsock_watch.ts";
import type { AsyncFd } from "./types/async_fd.ts";
import { setReactorPlatform } from "./backends/_reactor.ts";
import { linuxReactor } from "./backends/linux/_reactor_here.ts";
import { windowsReactor } from "./backends/windows/_reactor_here.ts";
import { openEpollSelector } from "./backends/linux/epoll.ts";
import { openPollSelector } from "./backends/linux/poll.ts";
import { openLinuxPort } from "./backends/linux/_open_port.ts";
import { duplicateEventFd, signalEventFd } from "./backends/linux/_eventfd.ts";
import { duplicatePort, openAfdSelector, postWakeup } from "./backends/windows/afd.ts";
import { IocpPort } from "./backends/windows/iocp.ts";
import type { SocketAddress } from "./backends/shared/_address.ts";
import { acquireKernel32, releaseKernel32 } from "./ffi/kernel32.ts";
import { acquireLibc, releaseLibc } from "./ffi/libc.ts";
import { bindPosixUdp, connectPosix, listenPosix, posixSockets } from "./net/_posix.ts";
import { listenWinsock, startConnectWinsock, winsockSockets } from "./net/_winsock.ts";
import { bindWinsockUdp } from "./net/_winsock_udp.ts";
import type { CompletionBackend, CompletionPort } from "./types/completion_port.ts";
import type { TcpConn, TcpListener, UdpSocket } from "./types/net.ts";
import type { Selector, SelectorBackend } from "./types/selector.ts";

/** What a Linux CompletionPort accepts and connects with: TCP and Unix listeners. */
const linuxSockets: PosixSockets = {
  ...posixSockets,
  listenerOf: (value) => posixSockets.listenerOf(value) ?? unixPortListener(value),
};

/** The OS this runs on. */
const OS = Deno.build.os;

// The reactor behind every awaitable object: epoll on Linux, afd on Windows.
if (OS === "linux") setReactorPlatform(linuxReactor);
else if (OS === "windows") setReactorPlatform(windowsReactor);

/**
 * The Selector engine `backend` (or this OS's default) opened, or
 * NotSupported for an engine of another OS, or an OS with none.
 *
 * @internal
 */
export function openSelectorHere<T>(backend: SelectorBackend | undefined): Selector<T> {
  const action = "Cannot open selector";
  if (OS === "windows") {
    if (backend !== undefined && backend !== "afd") {
      throw new Deno.errors.NotSupported(
        `${action}: the ${backend} backend is for Linux, not ${OS}`,
      );
    }
    return openAfdSelector<T>();
  }
  if (OS !== "linux") {
    throw new Deno.errors.NotSupported(
      `${action} on ${OS}: no Selector backend exists for ${OS} yet`,
    );
  }
  switch (backend ?? "epoll") {
    case "epoll":
      return openEpollSelector<T>();
    case "poll":
      return openPollSelector<T>();
    default:
      throw new Deno.errors.NotSupported(`${action}: the afd backend is for Windows, not ${OS}`);
  }
}

/** What wakes one selector: signal it, and let it go. */
export interface WakerSignal {
  signal(): void;
  release(): void;
}

/**
 * A waker of the selector whose `wakerHandle` is `handle`, holding a
 * duplicate of what that handle names (an eventfd on Linux, a completion
 * port on Windows).
 *
 * @internal
 */
export function wakerHere(handle: number, openAction: string, action: string): WakerSignal {
  if (OS === "windows") {
    const k32 = acquireKernel32();
    let port: Deno.PointerObject;
    try {
      port = duplicatePort(k32, handle, openAction);
    } catch (error) {
      releaseKernel32();
      throw error;
    }
    return {
      signal: () => postWakeup(k32, port, action),
      release: () => {
        k32.CloseHandle(port);
        releaseKernel32();
      },
    };
  }
  const libc = acquireLibc();
  let fd: number;
  try {
    fd = duplicateEventFd(libc, handle, openAction);
  } catch (error) {
    releaseLibc();
    throw error;
  }
  return {
    signal: () => signalEventFd(libc, fd, action),
    release: () => {
      libc.close(fd);
      releaseLibc();
    },
  };
}

/**
 * The CompletionPort engine `backend` (or this OS's default) opened, with
 * the socket code of this OS for its accept and connect.
 *
 * @internal
 */
export function openPortHere(
  backend: CompletionBackend | undefined,
  concurrency: number,
): CompletionPort {
  const action = "Cannot open completion port";
  if (OS === "linux") {
    if (backend === "iocp") {
      throw new Deno.errors.NotSupported(`${action}: the iocp backend is for Windows, not linux`);
    }
    return openLinuxPort(backend, { sockets: linuxSockets });
  }
  if (OS !== "windows") {
    throw new Deno.errors.NotSupported(
      `${action} on ${OS}: no CompletionPort backend exists for ${OS} yet`,
    );
  }
  if ((backend ?? "iocp") !== "iocp") {
    throw new Deno.errors.NotSupported(`${action}: the ${backend} backend is for Linux, not ${OS}`);
  }
  return new IocpPort(concurrency, winsockSockets);
}

/** This OS's TCP and UDP sockets, for net.ts. */
export interface SocketsHere {
  listen(address: SocketAddress, backlog: number, reusePort: boolean): TcpListener;
  connect(target: SocketAddress): TcpConn;
  bindUdp(address: SocketAddress, reusePort: boolean): UdpSocket;
}

/**
 * This OS's sockets, or NotSupported (naming `action`) on an OS with none;
 * Linux-only options refused elsewhere.
 *
 * @internal
 */
export function socketsHere(action: string): SocketsHere {
  if (OS === "linux") {
    return { listen: listenPosix, connect: connectPosix, bindUdp: bindPosixUdp };
  }
  if (OS === "windows") {
    return {
      listen(address, backlog, reusePort) {
        if (reusePort) {
          throw new Deno.errors.NotSupported(`${action} on windows: reusePort is Linux only`);
        }
        return listenWinsock(address, backlog);
      },
      connect: startConnectWinsock,
      bindUdp(address, reusePort) {
        if (reusePort) {
          throw new Deno.errors.NotSupported(`${action} on windows: reusePort is Linux only`);
        }
        return bindWinsockUdp(address);
      },
    };
  }
  throw new Deno.errors.NotSupported(`${action} on ${OS}: no sockets exist for ${OS} yet`);
}

/**
 * Watches `fd` (checked) through the reactor: any pollable fd on Linux, a
 * socket on Windows; NotSupported elsewhere.
 *
 * @internal
 */
export function watchFdHere(fd: number, owned: boolean, nonblocking: boolean): AsyncFd {
  if (OS === "linux") return watchPosixFd(fd, owned, nonblocking);
  if (OS === "windows") return watchWinsockFd(fd, owned, nonblocking);
  throw new Deno.errors.NotSupported(`Cannot watch fd ${fd} on ${OS}: no reactor exists for ${OS}`);
}

/**
 * Throws NotSupported, naming `action`, the OS and `why`, anywhere but Linux.
 *
 * @internal
 */
export function requireLinux(action: string, why = "Linux only"): void {
  if (OS !== "linux") throw new Deno.errors.NotSupported(`${action} on ${OS}: ${why}`);
}
