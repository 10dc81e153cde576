/*
 * nucleo_f746zg.c - UART for NUCLEO-F746ZG: USART3 on PD8 (TX) / PD9 (RX), AF7, wired to the
 * ST-LINK virtual COM port. Register-level (RM0385).
 */
#include "stm32_board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB1ENR REG(0x40023840u)
#define GPIOD_MODER REG(0x40020C00u)
#define GPIOD_AFRH REG(0x40020C24u)
#define USART3_CR1 REG(0x40004800u)
#define USART3_BRR REG(0x4000480Cu)
#define USART3_ISR REG(0x4000481Cu)
#define USART3_TDR REG(0x40004828u)

const char sbtf_board_name_str[] = "nucleo-f746zg";

void sbtf_uart_init(void) {
  RCC_AHB1ENR |= 1u << 3;  /* GPIODEN */
  RCC_APB1ENR |= 1u << 18; /* USART3EN */
  (void)RCC_APB1ENR;       /* read back: the clock is on before the first register access */
  GPIOD_MODER = (GPIOD_MODER & ~(0xFu << 16)) | (0xAu << 16); /* PD8, PD9: alternate function */
  GPIOD_AFRH = (GPIOD_AFRH & ~0xFFu) | 0x77u;                 /* AF7 = USART3 */
  USART3_CR1 = 0;
  USART3_BRR = (SBTF_HSI_HZ + SBTF_UART_BAUD / 2) / SBTF_UART_BAUD; /* oversampling by 16 */
  USART3_CR1 = (1u << 3) | (1u << 2) | 1u;                          /* TE, RE, UE */
}

void sbtf_uart_write(const char *s, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    while ((USART3_ISR & (1u << 7)) == 0) { /* TXE */
    }
    USART3_TDR = (uint8_t)s[i];
  }
  while ((USART3_ISR & (1u << 6)) == 0) { /* TC: last byte on the wire */
  }
}
