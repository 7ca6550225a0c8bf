/*
 * compiler.h - compiler, sanitizer and build-feature macros every layer uses,
 * from the context switch up.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_COMPILER_H
#define COCO_COMPILER_H

#include "config.h"
#include "coco.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if COCO_USE_UCONTEXT
#  include <ucontext.h>
#endif

#if defined(__GNUC__)
#  define coco__likely(x)   __builtin_expect(!!(x), 1)
#  define coco__unlikely(x) __builtin_expect(!!(x), 0)
#  define COCO__TLS __thread __attribute__((tls_model("initial-exec")))
#  define COCO__NORETURN __attribute__((noreturn))
#  define COCO__NOINLINE __attribute__((noinline))
#  define COCO__ALWAYS_INLINE inline __attribute__((always_inline))
#  define coco__prefetch(p) __builtin_prefetch(p)
#else
#  define coco__likely(x)   (x)
#  define coco__unlikely(x) (x)
#  define COCO__TLS _Thread_local
#  define COCO__NORETURN
#  define COCO__NOINLINE
#  define COCO__ALWAYS_INLINE inline
#  define coco__prefetch(p) ((void)(p))
#endif

/* Sanitizer builds: which ones instrument this file (gcc says so with
 * __SANITIZE_*__, clang with __has_feature).  lib/arch/fiber_annot.h tells
 * them about every stack switch. */
#if defined(__SANITIZE_ADDRESS__)
#  define COCO__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#  define COCO__TSAN 1
#endif
#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    undef COCO__ASAN
#    define COCO__ASAN 1
#  endif
#  if __has_feature(thread_sanitizer)
#    undef COCO__TSAN
#    define COCO__TSAN 1
#  endif
#endif

/* Shared (copied) stacks move a parked coroutine's frames, so they need a
 * context that holds no address of its own stack: not the ucontext switch,
 * not Win64 (its frames carry the stack bounds of the thread block), and
 * not under AddressSanitizer (copying frames reads their poisoned
 * redzones).  Elsewhere coco_create_attr() refuses them with ENOTSUP. */
#if !COCO_USE_UCONTEXT && !defined(COCO__ASAN) && !defined(_WIN32)
#  define COCO__HAVE_SHARED_STACKS 1
#else
#  define COCO__HAVE_SHARED_STACKS 0
#endif

/* A sanitizer must hear of a new stack (coco__fiber_arrive) before any
 * instrumented code runs on it, so there a coroutine starts in a wrapper
 * that announces it and then calls the entry, kept in the descriptor
 * until then.  Elsewhere the context switch calls the entry itself: one
 * frame fewer on every coroutine's stack, which is what a parked
 * shared-stack coroutine pays for. */
#if COCO__ASAN || COCO__TSAN
#  define COCO__ENTRY_WRAPPER 1
#else
#  define COCO__ENTRY_WRAPPER 0
#endif

#endif /* COCO_COMPILER_H */
