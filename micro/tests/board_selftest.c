/*
 * Board self-test: semihosting output and exit code, the SysTick instruction counter on a loop
 * of known length, and (selected with -D) the failure paths the runner must report.
 *   SELFTEST_FAULT           execute from an invalid address: HardFault report, exit 70
 *   SELFTEST_STACK_OVERFLOW  recurse past the stack: fault (v8-M MSPLIM) or canary, exit 70/71
 *   SELFTEST_HANG            spin forever: the runner's timeout must kill it
 */
#include <stdio.h>

#include "sbtf_board.h"

/* Exactly 3 instructions per iteration plus one mov. */
static void counted_loop(uint32_t n) {
  __asm__ volatile("mov r0, #0\n1:\n\tadds r0, r0, #1\n\tcmp r0, %0\n\tbne 1b" ::"r"(n) : "r0", "cc");
}

#ifdef SELFTEST_STACK_OVERFLOW
static volatile uint32_t sink;
static uint32_t recurse(uint32_t depth) {
  volatile uint32_t frame[64];
  frame[depth % 64] = depth;
  sink = frame[(depth * 7) % 64];
  return depth == 0 ? 0 : recurse(depth - 1) + frame[depth % 64];
}
#endif

int main(void) {
  printf("board %s\n", sbtf_board_name());
#if defined(SELFTEST_FAULT)
  void (*bad)(void) = (void (*)(void))0xFFFFFFF1u;
  bad();
#elif defined(SELFTEST_STACK_OVERFLOW)
  printf("%lu\n", (unsigned long)recurse(1u << 20));
#elif defined(SELFTEST_HANG)
  for (;;) {
  }
#endif
  /* Instruction counter: report (measured, expected) for loops of growing length. */
  uint32_t n = SELFTEST_LOOP;
  sbtf_counter_start();
  uint64_t t0 = sbtf_counter_read();
  uint64_t t1 = sbtf_counter_read();
  counted_loop(n);
  uint64_t t2 = sbtf_counter_read();
  uint64_t overhead = t1 - t0;
  printf("counter overhead=%llu measured=%llu expected=%llu\n", (unsigned long long)overhead,
         (unsigned long long)(t2 - t1 - overhead), (unsigned long long)(3ull * n + 1));
  return 42;
}
