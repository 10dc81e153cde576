/*
 * sbtf_board.h - what sbtf's board support (micro/boards/) offers to test and benchmark code.
 *
 * Every board image starts in startup.c: vector table, .data/.bss set-up, FPU/MVE enable,
 * semihosting (printf and the exit code reach the host through QEMU), a HardFault handler that
 * reports and exits with SBTF_EXIT_FAULT, and a stack canary checked at exit.
 *
 * Instruction counter: QEMU has no cycle model, but under `-icount shift=0` each guest
 * instruction advances virtual time by 1 ns, so SysTick (clocked by the CPU clock) counts
 * instructions exactly, SBTF_INSTR_PER_TICK_NUM / SBTF_INSTR_PER_TICK_DEN per tick (40 on the
 * 25 MHz mps2 boards). The counter is only meaningful under -icount shift=0; its resolution is
 * one tick. The board definitions (sbtf/micro/boards.py) pass these macros to the compiler.
 */
#ifndef SBTF_BOARD_H
#define SBTF_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Exit codes the board code uses besides main()'s own. */
#define SBTF_EXIT_FAULT 70          /**< HardFault (or an escalated Bus/Mem/UsageFault) */
#define SBTF_EXIT_STACK_OVERFLOW 71 /**< the stack canary was overwritten */

#ifndef SBTF_INSTR_PER_TICK_NUM
#define SBTF_INSTR_PER_TICK_NUM 1
#define SBTF_INSTR_PER_TICK_DEN 1
#endif

/** Start (or restart) the SysTick instruction counter from zero. */
void sbtf_counter_start(void);

/** Instructions executed since sbtf_counter_start(), exact up to one SysTick tick. */
uint64_t sbtf_counter_read(void);

/** Stop the counter (SysTick off, no more interrupts). */
void sbtf_counter_stop(void);

/** Name of the board the image was built for (SBTF_BOARD_NAME). */
const char *sbtf_board_name(void);

#ifdef __cplusplus
}
#endif

#endif /* SBTF_BOARD_H */
