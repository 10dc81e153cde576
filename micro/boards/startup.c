/*
 * startup.c - reset, vector table, fault reporting, SysTick instruction counter and stack
 * canary for sbtf's Cortex-M board images (all boards; memory maps live in <board>.ld).
 *
 * Linked with -nostartfiles --specs=rdimon.specs: newlib's semihosting syscalls provide printf
 * and exit(code); QEMU forwards both to the host.
 */
#include <stdint.h>
#include <stdlib.h>

#include "sbtf_board.h"

#ifndef SBTF_BOARD_NAME
#define SBTF_BOARD_NAME "unknown"
#endif

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[], __fault_stack_top[];

int main(void);
void initialise_monitor_handles(void);
void __libc_init_array(void);

void Reset_Handler(void);
void Fault_Handler(void);
void SysTick_Handler(void);

/* System control registers (architecturally fixed addresses on every M-profile core). */
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

#define STACK_CANARY 0x5B7FCA9Eu
#define N_IRQ 32

typedef void (*vector_fn)(void);

/* Initial SP, then the 15 system exceptions, then external IRQs (all unused: report a fault). */
__attribute__((section(".isr_vector"), used)) const vector_fn sbtf_vectors[16 + N_IRQ] = {
    (vector_fn)(uintptr_t)__stack_top,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (v8-M) */
    0,
    0,
    0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    SysTick_Handler,
    [16 ... 16 + N_IRQ - 1] = Fault_Handler,
};

/* Plain loops, kept out of the vectorizer: they run before anything else is set up. */
__attribute__((optimize("no-tree-loop-distribute-patterns", "no-tree-vectorize"))) static void
init_memory(void) {
  const uint32_t *src = __data_load;
  for (uint32_t *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  __stack_limit[0] = STACK_CANARY;
}

static void write_string(const char *s) {
  /* Semihosting SYS_WRITE0 directly: usable even when the C library state is broken. */
  register uint32_t op __asm__("r0") = 0x04;
  register const char *arg __asm__("r1") = s;
  __asm__ volatile("bkpt 0xab" : "+r"(op) : "r"(arg) : "memory");
}

static char *put_hex(char *p, uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  *p++ = '0';
  *p++ = 'x';
  for (int i = 7; i >= 0; --i) *p++ = digits[(v >> (4 * i)) & 0xFu];
  return p;
}

static char *put_str(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

__attribute__((noreturn)) static void check_canary_and_exit(int code) {
  if (__stack_limit[0] != STACK_CANARY) {
    write_string("sbtf-board: STACK OVERFLOW (stack canary overwritten)\n");
    code = SBTF_EXIT_STACK_OVERFLOW;
  }
  exit(code);
}

/* -nostartfiles drops crti/crtn; __libc_init_array still calls these. */
void _init(void);
void _fini(void);
void _init(void) {}
void _fini(void) {}

void Reset_Handler(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  /* Full access to CP10/CP11 (FPU and, on v8.1-M, MVE) before any FP/vector instruction. */
  SCB_CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
  /* v8-M: a stack overflow becomes a precise UsageFault (STKOF) instead of silent damage. */
  __asm__ volatile("msr msplim, %0" ::"r"((uint32_t)(uintptr_t)(__stack_limit + 2)));
#endif
  init_memory();
  initialise_monitor_handles();
  __libc_init_array();
  check_canary_and_exit(main());
}

/* Called on the fault stack with the stacked exception frame (may point at garbage). */
__attribute__((used, noreturn)) static void fault_report(const uint32_t *frame, uint32_t exc_return) {
  char msg[200];
  char *p = put_str(msg, "sbtf-board: HardFault on " SBTF_BOARD_NAME ": pc=");
  p = put_hex(p, frame[6]);
  p = put_str(p, " lr=");
  p = put_hex(p, frame[5]);
  p = put_str(p, " cfsr=");
  p = put_hex(p, SCB_CFSR);
  p = put_str(p, " hfsr=");
  p = put_hex(p, SCB_HFSR);
  p = put_str(p, " bfar=");
  p = put_hex(p, SCB_BFAR);
  p = put_str(p, " exc_return=");
  p = put_hex(p, exc_return);
  p = put_str(p, "\n");
  *p = '\0';
  write_string(msg);
  if (__stack_limit[0] != STACK_CANARY) write_string("sbtf-board: stack canary overwritten too\n");
  _Exit(SBTF_EXIT_FAULT);
}

__attribute__((naked)) void Fault_Handler(void) {
  __asm__ volatile(
      "tst lr, #4\n\t"
      "ite eq\n\t"
      "mrseq r0, msp\n\t"
      "mrsne r0, psp\n\t"
      "mov r1, lr\n\t"
      "ldr r2, =__fault_stack_top\n\t"
      "mov sp, r2\n\t"
      "b fault_report\n\t"
      ".ltorg\n\t");
}

/* ---- SysTick instruction counter ---- */

static volatile uint32_t systick_wraps;

void SysTick_Handler(void) { systick_wraps++; }

void sbtf_counter_start(void) {
  SYST_CSR = 0;
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0; /* clears the counter; the first tick then loads the reload value */
  SYST_CSR = 0x7u; /* processor clock, interrupt on wrap, enable */
  while (SYST_CVR == 0) {
  }
  systick_wraps = 0;
}

uint64_t sbtf_counter_read(void) {
  uint32_t wraps, value, pending;
  do {
    wraps = systick_wraps;
    value = SYST_CVR;
    pending = SCB_ICSR & (1u << 26); /* PENDSTSET: wrapped, interrupt not yet taken */
  } while (wraps != systick_wraps);
  if (pending && value > 0x00800000u) wraps++;
  /* One period is 2^24 ticks: 0xFFFFFF down to 0, then the reload tick. */
  uint64_t ticks = (uint64_t)wraps * 0x01000000u + (0x00FFFFFFu - value);
  return ticks * SBTF_INSTR_PER_TICK_NUM / SBTF_INSTR_PER_TICK_DEN;
}

void sbtf_counter_stop(void) { SYST_CSR = 0; }

const char *sbtf_board_name(void) { return SBTF_BOARD_NAME; }
