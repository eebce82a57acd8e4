// Copyright 2026 the @evented/io authors. MIT license.
//
// The C figures for bench/: the same kernel calls as the Deno benchmarks,
// doing the same work per event (read each event's flags and data). Built
// and run by bench/run.ts; prints one JSON object per line:
//   {"name": "...", "ns": <nanoseconds per call>, "perEvent": <ns per event or null>}
//
//   cc -O2 -o epoll_bench bench/epoll_bench.c && ./epoll_bench

#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

// The work per event the Deno side does: flags and data of each event.
static void consume(const struct epoll_event *events, int n) {
  uint64_t acc = 0;
  for (int i = 0; i < n; i++) acc += events[i].events + events[i].data.u64;
  sink += acc;
}

// Runs the body for at least 200 ms and sets ns to the time per run.
#define MEASURE(ns, ...)                                             \
  do {                                                               \
    long iterations = 0;                                             \
    double start = now_ns(), elapsed;                                \
    do {                                                             \
      for (int k_ = 0; k_ < 1000; k_++) { __VA_ARGS__; }             \
      iterations += 1000;                                            \
      elapsed = now_ns() - start;                                    \
    } while (elapsed < 2e8);                                         \
    ns = elapsed / iterations;                                       \
  } while (0)

static int make_ready_eventfd(void) {
  int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);  // counter 1: readable
  if (fd < 0) die("eventfd");
  return fd;
}

static int make_epoll(int count, int *fds) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (int i = 0; i < count; i++) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)fds[i] | (1ull << 32)};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) die("epoll_ctl");
  }
  return ep;
}

int main(void) {
  static struct epoll_event events[2048];
  double ns;

  // One ready fd: epoll_wait(0) returns it.
  int one = make_ready_eventfd();
  int ep1 = make_epoll(1, &one);
  MEASURE(ns, {
    int n = epoll_wait(ep1, events, 64, 0);
    if (n != 1) die("epoll_wait 1");
    consume(events, n);
  });
  printf("{\"name\": \"epoll_wait-1-ready\", \"ns\": %.1f, \"perEvent\": null}\n", ns);

  // 1,000 ready fds: one epoll_wait(0) returns them all.
  int many[1000];
  for (int i = 0; i < 1000; i++) many[i] = make_ready_eventfd();
  int ep1000 = make_epoll(1000, many);
  MEASURE(ns, {
    int n = epoll_wait(ep1000, events, 2048, 0);
    if (n != 1000) die("epoll_wait 1000");
    consume(events, n);
  });
  printf("{\"name\": \"epoll_wait-1000-ready\", \"ns\": %.1f, \"perEvent\": %.2f}\n", ns, ns / 1000);

  // epoll_ctl: ADD + MOD + DEL of one fd.
  int idle = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  MEASURE(ns, {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)idle};
    if (epoll_ctl(ep1, EPOLL_CTL_ADD, idle, &ev) < 0) die("add");
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    if (epoll_ctl(ep1, EPOLL_CTL_MOD, idle, &ev) < 0) die("mod");
    if (epoll_ctl(ep1, EPOLL_CTL_DEL, idle, &ev) < 0) die("del");
  });
  printf("{\"name\": \"epoll_ctl-add-mod-del\", \"ns\": %.1f, \"perEvent\": null}\n", ns);

  // poll(2) over 1,000 fds, all ready, for reference.
  static struct pollfd pfds[1000];
  for (int i = 0; i < 1000; i++) pfds[i] = (struct pollfd){.fd = many[i], .events = POLLIN};
  MEASURE(ns, {
    int n = poll(pfds, 1000, 0);
    if (n != 1000) die("poll");
    sink += pfds[0].revents;
  });
  printf("{\"name\": \"poll-1000-ready\", \"ns\": %.1f, \"perEvent\": %.2f}\n", ns, ns / 1000);
  return 0;
}
