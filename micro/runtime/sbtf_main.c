/*
 * sbtf_main.c - runs a generated model over a batch of inputs compiled into the image, on a
 * QEMU board (semihosting) or on the host (same source, so both produce the same lines).
 *
 * Output, one line each, parsed by sbtf.micro.runtime:
 *   sbtf-info scratch=<bytes needed> arena=<bytes> inputs=<N>
 *   sbtf-out <i> <hex bytes of output i> <instructions of that inference>
 *   sbtf-stack <peak bytes of main stack used>          (boards only)
 *   sbtf-error op=<index> status=<sbtf_status>          (then exit code 2)
 * Instructions are counted with the board's SysTick counter (exact under -icount shift=0);
 * the host prints 0.
 *
 * Self-test hooks for the runtime's own tests (never defined in a normal build):
 * SBTF_PROVOKE_FAULT (HardFault), SBTF_PROVOKE_STACK_OVERFLOW, SBTF_PROVOKE_HANG.
 */
#include <stdint.h>
#include <stdio.h>

#include "sbtf_inputs.h" /* generated: SBTF_NUM_INPUTS, sbtf_inputs[][SBTF_MODEL_INPUT_SIZE] */
#include "sbtf_model.h"

#ifdef SBTF_BOARD_NAME
#include "sbtf_board.h"
#define ON_BOARD 1
#else
#define ON_BOARD 0
static void sbtf_counter_start(void) {}
static uint64_t sbtf_counter_read(void) { return 0; }
#endif

#define STACK_PAINT 0xC5C5C5C5u

#if ON_BOARD
extern uint32_t __stack_limit[], __stack_top[];

/* Fill the unused part of the stack (above the canary word, below our frame) with a pattern. */
__attribute__((noinline)) static void paint_stack(void) {
  volatile uint32_t here = 0;
  uint32_t *end = (uint32_t *)((uintptr_t)&here & ~(uintptr_t)3) - 32;
  for (uint32_t *p = __stack_limit + 1; p < end; ++p) *p = STACK_PAINT;
}

static uint32_t stack_used(void) {
  const uint32_t *p = __stack_limit + 1;
  while (p < __stack_top && *p == STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
#endif

#if defined(SBTF_PROVOKE_STACK_OVERFLOW)
/* Each level keeps 1 KiB live on the stack, so the recursion runs off the stack's end. */
__attribute__((noinline)) static int32_t deep(int32_t n, volatile int8_t *sink) {
  volatile int8_t frame[1024];
  frame[n & 1023] = (int8_t)n;
  *sink = frame[(n * 7) & 1023];
  return n > 0 ? deep(n - 1, frame) + frame[0] : 0;
}
#endif

static void provoke(void) {
#if defined(SBTF_PROVOKE_FAULT)
  /* Execute from an address with no memory behind it: a precise fault on every core. */
  void (*bad)(void) = (void (*)(void))(uintptr_t)0xFFFFFFF1u;
  bad();
#elif defined(SBTF_PROVOKE_STACK_OVERFLOW)
  volatile int8_t sink = 0;
  printf("sbtf-info depth=%ld\n", (long)deep(1 << 20, &sink));
#elif defined(SBTF_PROVOKE_HANG)
  for (;;) {
    __asm__ volatile("" ::: "memory"); /* an infinite loop the compiler must keep */
  }
#endif
}

int main(void) {
  static int8_t output[SBTF_MODEL_OUTPUT_SIZE];
  static char line[2 * SBTF_MODEL_OUTPUT_SIZE + 64];
  static const char hex[] = "0123456789abcdef";
#if ON_BOARD
  paint_stack();
#endif
  provoke();
  const int32_t scratch = sbtf_model_check_scratch();
  printf("sbtf-info scratch=%ld arena=%ld inputs=%ld\n", (long)scratch,
         (long)SBTF_MODEL_ARENA_SIZE, (long)SBTF_NUM_INPUTS);
  if (scratch < 0) {
    printf("sbtf-error op=-1 status=%d (scratch buffer of %ld bytes too small)\n",
           (int)SBTF_ERROR_BUFFER_SIZE, (long)SBTF_MODEL_SCRATCH_BYTES);
    return 2;
  }
  int32_t n_inputs = SBTF_NUM_INPUTS;
#if defined(__GNUC__)
  /* Opaque to the compiler: main's code, and so the flash the model and runtime take, does not
     depend on how many inputs are compiled in. */
  __asm__("" : "+r"(n_inputs));
#endif
  for (int32_t i = 0; i < n_inputs; ++i) {
    sbtf_counter_start();
    const sbtf_status st = sbtf_model_invoke(sbtf_inputs[i], output);
    const uint64_t instructions = sbtf_counter_read();
    if (st != SBTF_OK) {
      printf("sbtf-error op=%ld status=%d\n", (long)sbtf_model_failed_op(), (int)st);
      return 2;
    }
    char *p = line;
    for (int32_t k = 0; k < SBTF_MODEL_OUTPUT_SIZE; ++k) {
      const uint8_t b = (uint8_t)output[k];
      *p++ = hex[b >> 4];
      *p++ = hex[b & 15];
    }
    *p = '\0';
    printf("sbtf-out %ld %s %llu\n", (long)i, line, (unsigned long long)instructions);
  }
#if ON_BOARD
  printf("sbtf-stack %lu\n", (unsigned long)stack_used());
#endif
  return 0;
}
