// Copyright 2026 the @evented/io authors. MIT license.
//
// The C figures of bench/completion_bench.ts: io_uring NOPs posted and
// reaped as the CompletionPort's post() + get(0) do it, through raw system
// calls (no liburing): the ring set up with io_uring_setup, mapped with
// mmap (one mapping where the kernel offers IORING_FEAT_SINGLE_MMAP),
// submitted and reaped with io_uring_enter. And, for the kernel's own share
// of the batched reads, 64 reads of 4 KiB and of 64 KiB through the page
// cache as a pread loop and as one io_uring batch. Built and run by
// bench/completion_run.ts; prints one JSON object per line, in the shape
// bench/epoll_bench.c prints:
//   {"name": "...", "ns": <nanoseconds per iteration>, "perEvent": <ns per NOP/read or null>}
//
//   cc -O2 -o uring_nop bench/uring_nop.c && ./uring_nop
//
// Exits 2 (printing why on stderr) where the kernel refuses io_uring.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ENTRIES 256
#define BATCH 256

static volatile uint64_t sink;
static int64_t reaped_res;  // the sum of the res of the CQEs the last get() reaped

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
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

struct ring {
  int fd;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
  unsigned sq_local_tail;
};

static int ring_setup(struct ring *r) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int fd = (int)syscall(__NR_io_uring_setup, ENTRIES, &p);
  if (fd < 0) return -errno;
  r->fd = fd;
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP && cq_size > sq_size) sq_size = cq_size;
  char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                  IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) die("mmap sq ring");
  char *cq = sq;
  if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
    cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
              IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) die("mmap cq ring");
  }
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) die("mmap sqes");
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  r->sq_local_tail = *r->sq_tail;
  return 0;
}

// post(key, bytes): one NOP SQE carrying the key (user_data) and the byte count.
static inline void post(struct ring *r, uint64_t key, unsigned bytes) {
  unsigned tail = r->sq_local_tail;
  unsigned index = tail & *r->sq_mask;
  struct io_uring_sqe *sqe = &r->sqes[index];
  memset(sqe, 0, sizeof *sqe);
  sqe->opcode = IORING_OP_NOP;
  sqe->user_data = key;
  sqe->len = bytes;
  r->sq_array[index] = index;
  r->sq_local_tail = tail + 1;
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

// One READ SQE of `size` bytes at `offset` into `buffer`.
static inline void push_read(struct ring *r, int fd, void *buffer, unsigned size, uint64_t offset) {
  unsigned tail = r->sq_local_tail;
  unsigned index = tail & *r->sq_mask;
  struct io_uring_sqe *sqe = &r->sqes[index];
  memset(sqe, 0, sizeof *sqe);
  sqe->opcode = IORING_OP_READ;
  sqe->fd = fd;
  sqe->off = offset;
  sqe->addr = (uint64_t)(uintptr_t)buffer;
  sqe->len = size;
  sqe->user_data = index;
  r->sq_array[index] = index;
  r->sq_local_tail = tail + 1;
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

// get: submit what is queued, wait for `wanted` completions, reap them all.
static inline int get(struct ring *r, unsigned to_submit, unsigned wanted) {
  if (syscall(__NR_io_uring_enter, r->fd, to_submit, wanted, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
    die("io_uring_enter");
  }
  unsigned head = *r->cq_head;
  unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
  uint64_t acc = 0;
  int64_t res = 0;
  int n = 0;
  for (; head != tail; head++, n++) {
    struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
    acc += cqe->user_data;
    res += cqe->res;
  }
  reaped_res = res;
  __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
  sink += acc;
  return n;
}

int main(void) {
  struct ring r = {0};
  int error = ring_setup(&r);
  if (error < 0) {
    fprintf(stderr, "io_uring_setup: %s\n", strerror(-error));
    return 2;
  }
  double ns;

  // One NOP per iteration: post + submit-and-wait + reap.
  MEASURE(ns, {
    post(&r, 7, 1);
    if (get(&r, 1, 1) != 1) die("nop 1");
  });
  printf("{\"name\": \"uring-nop-post-get-1\", \"ns\": %.1f, \"perEvent\": null}\n", ns);

  // 256 NOPs, then one io_uring_enter that submits them and waits for all.
  MEASURE(ns, {
    for (unsigned i = 0; i < BATCH; i++) post(&r, 7, i);
    if (get(&r, BATCH, BATCH) != BATCH) die("nop 256");
  });
  printf("{\"name\": \"uring-nop-post-get-%d\", \"ns\": %.1f, \"perEvent\": %.2f}\n", BATCH, ns,
         ns / BATCH);

  // Batched reads through the page cache, as bench/completion_bench.ts makes
  // them: 64 reads at distinct offsets of a file just written, into
  // page-aligned buffers; a pread loop, then one io_uring batch.
  enum { READS = 64, FILE_SIZE = 16 << 20 };
  char path[] = "/tmp/uring_nop_XXXXXX";
  int file = mkstemp(path);
  if (file < 0) die("mkstemp");
  unlink(path);
  char *content = calloc(1, FILE_SIZE);
  if (content == NULL || write(file, content, FILE_SIZE) != FILE_SIZE) die("write");
  free(content);
  static const unsigned sizes[] = {4096, 65536};
  for (unsigned k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    unsigned size = sizes[k];
    char *buffers = aligned_alloc(4096, (size_t)READS * size);
    if (buffers == NULL) die("aligned_alloc");
    uint64_t stride = FILE_SIZE / READS;
    MEASURE(ns, {
      for (unsigned i = 0; i < READS; i++) {
        if (pread(file, buffers + (size_t)i * size, size, i * stride) != (ssize_t)size) die("pread");
      }
    });
    printf("{\"name\": \"pread-%dx%uk\", \"ns\": %.1f, \"perEvent\": %.2f}\n", READS, size / 1024,
           ns, ns / READS);
    MEASURE(ns, {
      for (unsigned i = 0; i < READS; i++) {
        push_read(&r, file, buffers + (size_t)i * size, size, i * stride);
      }
      if (get(&r, READS, READS) != READS || reaped_res != (int64_t)READS * size) {
        die("io_uring reads");
      }
    });
    printf("{\"name\": \"uring-read-%dx%uk\", \"ns\": %.1f, \"perEvent\": %.2f}\n", READS,
           size / 1024, ns, ns / READS);
    free(buffers);
  }
  close(file);
  close(r.fd);
  return 0;
}
