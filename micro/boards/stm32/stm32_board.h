/*
 * stm32_board.h - what the real-board firmware (micro/boards/stm32/sbtf_main_uart.c) needs from a
 * board: a UART to the ST-LINK virtual COM port and a cycle counter. Register-level, no HAL or
 * CMSIS. Each board file (nucleo_f746zg.c, nucleo_f411re.c) implements it; stm32_startup.c
 * provides the reset and fault handlers.
 *
 * UART: 115200 baud, 8 data bits, no parity, 1 stop bit (8N1), from the 16 MHz HSI clock the
 * chip runs on after reset (no PLL set-up, so the figures are at 16 MHz).
 */
#ifndef STM32_BOARD_H
#define STM32_BOARD_H

#include <stdint.h>

#define SBTF_UART_BAUD 115200u
#define SBTF_HSI_HZ 16000000u

#ifdef __cplusplus
extern "C" {
#endif

/** Clock the GPIO port and USART, route the pins, set 115200 8N1, enable the transmitter. */
void sbtf_uart_init(void);

/** Blocking write of n bytes. */
void sbtf_uart_write(const char *s, uint32_t n);

/** DWT cycle counter (enabled by sbtf_cycles_start, which returns 0 when the counter does not
 *  advance, as under QEMU, which does not model the DWT). */
int sbtf_cycles_start(void);
uint32_t sbtf_cycles_read(void);

/** Board name for the banner. */
extern const char sbtf_board_name_str[];

#ifdef __cplusplus
}
#endif

#endif /* STM32_BOARD_H */
