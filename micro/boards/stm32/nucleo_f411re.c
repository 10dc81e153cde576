/*
 * nucleo_f411re.c - UART for NUCLEO-F411RE: USART2 on PA2 (TX) / PA3 (RX), AF7, wired to the
 * ST-LINK virtual COM port. Register-level (RM0383).
 */
#include "stm32_board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB1ENR REG(0x40023840u)
#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_AFRL REG(0x40020020u)
#define USART2_SR REG(0x40004400u)
#define USART2_DR REG(0x40004404u)
#define USART2_BRR REG(0x40004408u)
#define USART2_CR1 REG(0x4000440Cu)

const char sbtf_board_name_str[] = "nucleo-f411re";

void sbtf_uart_init(void) {
  RCC_AHB1ENR |= 1u << 0;  /* GPIOAEN */
  RCC_APB1ENR |= 1u << 17; /* USART2EN */
  (void)RCC_APB1ENR;
  GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 4)) | (0xAu << 4);     /* PA2, PA3: alternate function */
  GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8);     /* AF7 = USART2 */
  USART2_CR1 = 0;
  /* Oversampling by 16: BRR = mantissa << 4 | fraction = fck / baud, rounded. */
  USART2_BRR = (SBTF_HSI_HZ + SBTF_UART_BAUD / 2) / SBTF_UART_BAUD;
  USART2_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
}

void sbtf_uart_write(const char *s, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    while ((USART2_SR & (1u << 7)) == 0) { /* TXE */
    }
    USART2_DR = (uint8_t)s[i];
  }
  while ((USART2_SR & (1u << 6)) == 0) { /* TC */
  }
}
