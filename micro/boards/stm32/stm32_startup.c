/*
 * stm32_startup.c - reset, vector table and fault handler for sbtf's real-board firmware
 * (STM32F4/F7). Linked with -nostartfiles and the board's linker script (which INCLUDEs
 * micro/boards/sbtf_common.ld for the section layout).
 */
#include <stdint.h>

#include "stm32_board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[], __fault_stack_top[];

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define N_IRQ 98 /* STM32F746 has 98 external interrupts; the F411 fewer (unused ones harmless) */

typedef void (*vector_fn)(void);

__attribute__((section(".isr_vector"), used)) const vector_fn sbtf_vectors[16 + N_IRQ] = {
    (vector_fn)(uintptr_t)__stack_top,
    Reset_Handler,
    [2 ... 16 + N_IRQ - 1] = Fault_Handler,
};

__attribute__((optimize("no-tree-loop-distribute-patterns", "no-tree-vectorize"))) static void
init_memory(void) {
  const uint32_t *src = __data_load;
  for (uint32_t *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
}

void Reset_Handler(void) {
#if defined(__ARM_FP)
  SCB_CPACR |= 0xFu << 20; /* CP10/CP11 full access before any FP instruction */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  init_memory();
  main();
  for (;;) {
    __asm__ volatile("wfi");
  }
}

static void put_hex(char *p, uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 7; i >= 0; --i) *p++ = digits[(v >> (4 * i)) & 0xFu];
}

/* Any fault or unexpected interrupt: say so on the UART (already initialised by main), stop. */
void Fault_Handler(void) {
  char msg[] = "sbtf-board: fault, CFSR=0x........\r\n";
  put_hex(msg + 27, SCB_CFSR);
  sbtf_uart_write(msg, sizeof msg - 1);
  for (;;) {
  }
}

/* ---- DWT cycle counter (Cortex-M4/M7) ---- */
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)

int sbtf_cycles_start(void) {
  DEMCR |= 1u << 24;      /* TRCENA */
  DWT_LAR = 0xC5ACCE55u;  /* unlock (needed on the M7, ignored on the M4) */
  DWT_CYCCNT = 0;
  DWT_CTRL |= 1u;         /* CYCCNTENA */
  const uint32_t before = DWT_CYCCNT;
  for (volatile int i = 0; i < 16; ++i) {
  }
  return DWT_CYCCNT != before;
}

uint32_t sbtf_cycles_read(void) { return DWT_CYCCNT; }
