/*
 * sbtf_main_uart.c - real-board firmware: runs the generated model over the inputs compiled into
 * the image and prints the same lines as sbtf_main.c over the board's UART (115200 8N1, see
 * micro/boards/stm32/stm32_board.h), with DWT cycle counts instead of instruction counts:
 *   sbtf-info board=<name> arena=<bytes> inputs=<N>
 *   sbtf-info cycles=unavailable      (only when the DWT cycle counter does not advance)
 *   sbtf-out <i> <hex bytes of output i> <cycles, or - when unavailable>
 *   sbtf-done  |  sbtf-error op=<index> status=<sbtf_status>
 * No printf: the C library stays out of the image.
 */
#include <stdint.h>

#include "sbtf_inputs.h"
#include "sbtf_model.h"
#include "stm32_board.h"

static char *put_str(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

static char *put_int(char *p, int32_t v) {
  char digits[12];
  int n = 0;
  uint32_t u = v < 0 ? (uint32_t)(-(v + 1)) + 1u : (uint32_t)v;
  if (v < 0) *p++ = '-';
  do {
    digits[n++] = (char)('0' + u % 10u);
    u /= 10u;
  } while (u != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

static void send(const char *start, const char *end) {
  sbtf_uart_write(start, (uint32_t)(end - start));
}

int main(void) {
  static int8_t output[SBTF_MODEL_OUTPUT_SIZE];
  static char line[2 * SBTF_MODEL_OUTPUT_SIZE + 64];
  static const char hex[] = "0123456789abcdef";
  sbtf_uart_init();
  char *p = put_str(line, "sbtf-info board=");
  p = put_str(p, sbtf_board_name_str);
  p = put_str(p, " arena=");
  p = put_int(p, SBTF_MODEL_ARENA_SIZE);
  p = put_str(p, " inputs=");
  int32_t n_inputs = SBTF_NUM_INPUTS;
#if defined(__GNUC__)
  /* Opaque to the compiler: main's code, and so the flash the model and runtime take, does not
     depend on how many inputs are compiled in. */
  __asm__("" : "+r"(n_inputs));
#endif
  p = put_int(p, n_inputs);
  p = put_str(p, "\r\n");
  send(line, p);
  if (sbtf_model_check_scratch() < 0) {
    p = put_str(line, "sbtf-error op=-1 status=");
    p = put_int(p, SBTF_ERROR_BUFFER_SIZE);
    p = put_str(p, "\r\n");
    send(line, p);
    return 2;
  }
  const int have_cycles = sbtf_cycles_start();
  if (!have_cycles) {
    p = put_str(line, "sbtf-info cycles=unavailable (the DWT cycle counter does not advance)\r\n");
    send(line, p);
  }
  for (int32_t i = 0; i < n_inputs; ++i) {
    const uint32_t start = sbtf_cycles_read();
    const sbtf_status st = sbtf_model_invoke(sbtf_inputs[i], output);
    const uint32_t cycles = sbtf_cycles_read() - start;
    if (st != SBTF_OK) {
      p = put_str(line, "sbtf-error op=");
      p = put_int(p, sbtf_model_failed_op());
      p = put_str(p, " status=");
      p = put_int(p, st);
      p = put_str(p, "\r\n");
      send(line, p);
      return 2;
    }
    p = put_str(line, "sbtf-out ");
    p = put_int(p, i);
    *p++ = ' ';
    for (int32_t k = 0; k < SBTF_MODEL_OUTPUT_SIZE; ++k) {
      const uint8_t b = (uint8_t)output[k];
      *p++ = hex[b >> 4];
      *p++ = hex[b & 15];
    }
    *p++ = ' ';
    p = have_cycles ? put_int(p, (int32_t)(cycles & 0x7FFFFFFFu)) : put_str(p, "-");
    p = put_str(p, "\r\n");
    send(line, p);
  }
  p = put_str(line, "sbtf-done\r\n");
  send(line, p);
  return 0;
}
