/*
 * sbtf_rt_lstm.c - UNIDIRECTIONAL_SEQUENCE_LSTM, int8 input and hidden state, int16 cell state
 * (TFLite's "8x8_16" integer LSTM, declared in sbtf_rt.h). Written for this project from the
 * semantics of TFLite's lstm_eval.cc (LstmStepInteger8x8_16) and the portable tensor_utils it
 * calls; the int16 sigmoid / tanh follow gemmlowp's fixed-point logistic / tanh, step for step,
 * because the interpreter's results depend on each rounding.
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_rt_internal.h"

/* ---- gemmlowp's fixed-point arithmetic on int16 raw values ---- */

/* int16 wrap-around of an int operation, as C++ converts the int result back to int16_t. */
static inline int16_t wrap16(int32_t v) { return (int16_t)(uint16_t)(uint32_t)v; }

static inline int16_t sat16(int32_t v) { return (int16_t)sbtf_clamp(v, INT16_MIN, INT16_MAX); }

/* SaturatingRoundingDoublingHighMul for int16: (a * b + nudge) / 2^15, truncating. */
static inline int16_t srdhm16(int16_t a, int16_t b) {
  if (a == b && a == INT16_MIN) return INT16_MAX;
  const int32_t ab = (int32_t)a * b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* SaturatingRoundingMultiplyByPOT<e> for e > 0 (saturating left shift). */
static inline int16_t sat_shl16(int16_t x, int32_t e) {
  const int32_t threshold = (1 << (15 - e)) - 1;
  if (x > threshold) return INT16_MAX;
  if (x < -threshold) return INT16_MIN;
  return (int16_t)(x * (1 << e));
}

/* A constant given as a Q0.31 int32, rounded to Q0.15 (gemmlowp's RescaleConstantInitializer). */
static inline int16_t const16(int32_t q31) { return (int16_t)sbtf_rounding_divide_by_pot(q31, 16); }

/* exp(a) for a in [-1/4, 0), Q0.15. */
static int16_t exp_quarter(int16_t a) {
  const int16_t constant_term = const16(1895147668); /* exp(-1/8) */
  const int16_t one_third = const16(715827883);
  const int16_t x = wrap16(a + (1 << 12)); /* a + 1/8 */
  const int16_t x2 = srdhm16(x, x), x3 = srdhm16(x2, x), x4 = srdhm16(x2, x2);
  const int16_t x4_over_4 = (int16_t)sbtf_rounding_divide_by_pot(x4, 2);
  const int16_t poly = (int16_t)sbtf_rounding_divide_by_pot(
      wrap16(srdhm16(wrap16(x4_over_4 + x3), one_third) + x2), 1);
  return sat16(constant_term + srdhm16(constant_term, wrap16(x + poly)));
}

/* exp(a) for a <= 0 in Q(int_bits).(15 - int_bits), result Q0.15 (int_bits <= 7). */
static int16_t exp_negative(int16_t a, int32_t int_bits) {
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535,   720401,     242}; /* exp(-2^k), k=-2..4 */
  const int frac_bits = 15 - int_bits;
  const int16_t quarter = (int16_t)(1 << (frac_bits - 2));
  const int16_t a_mod_quarter = wrap16((a & (quarter - 1)) - quarter);
  int16_t result = exp_quarter(int_bits > 0 ? sat_shl16(a_mod_quarter, int_bits) : a_mod_quarter);
  const int16_t remainder = wrap16(a_mod_quarter - a);
  for (int k = -2; k <= 4; ++k) {
    if (int_bits > k && (remainder & (1 << (frac_bits + k))))
      result = srdhm16(result, const16(multipliers[k + 2]));
  }
  if (int_bits > 5 && a < const16(-(1 << (36 - int_bits)))) result = 0; /* a < -32 */
  return a == 0 ? INT16_MAX : result;
}

/* Newton-Raphson of 1 / (1 + a) for a in (0, 1), Q2.13 (gemmlowp's 48/17, 32/17 start). */
static int16_t one_over_one_plus(int16_t a) {
  const int32_t sum = (int32_t)a + INT16_MAX;
  const int16_t half_denominator = (int16_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  int16_t x = wrap16(const16(1515870810) + srdhm16(half_denominator, const16(-1010580540)));
  for (int i = 0; i < 3; ++i) {
    const int16_t one_minus = wrap16((1 << 13) - srdhm16(half_denominator, x));
    x = wrap16(x + sat_shl16(srdhm16(x, one_minus), 2));
  }
  return x;
}

int16_t sbtf_rt_logistic_s16(int16_t a, int32_t int_bits) {
  const int16_t abs_a = a > 0 ? a : wrap16(-a);
  const int16_t if_positive = sat_shl16(one_over_one_plus(exp_negative(wrap16(-abs_a), int_bits)), 1);
  if (a == 0) return const16(1 << 30);
  return a > 0 ? if_positive : wrap16(INT16_MAX - if_positive);
}

/* (1 - e) / (1 + e), e = exp(-2|a|) */
int16_t sbtf_rt_tanh_s16(int16_t a, int32_t int_bits) {
  const int16_t neg_abs = a < 0 ? a : wrap16(-a);
  const int16_t t =
      sat_shl16(wrap16(one_over_one_plus(exp_negative(neg_abs, int_bits + 1)) - (1 << 13)), 2);
  if (a == 0) return 0;
  return a < 0 ? wrap16(-t) : t;
}

/* ---- the LSTM step ---- */

/* gate += MBQM(bias + W x, m, s), saturated to int16 (MatrixBatchVectorMultiplyAccumulate). */
static void gate_accumulate(const int8_t *x, int32_t n_x, const int8_t *weights, const int32_t *bias,
                            int32_t multiplier, int32_t shift, int32_t n_cell, int16_t *gate) {
  for (int32_t row = 0; row < n_cell; ++row) {
    const int8_t *w = weights + (size_t)row * n_x;
    int32_t acc = bias[row];
    for (int32_t col = 0; col < n_x; ++col) acc += x[col] * w[col];
    gate[row] = sat16(sbtf_mbqm(acc, multiplier, shift) + gate[row]);
  }
}

enum { GATE_I, GATE_F, GATE_G, GATE_O };

static void lstm_step(const sbtf_rt_lstm_params *p, const int8_t *x, int8_t *h, int16_t *c,
                      int16_t *gates) {
  const int32_t n = p->n_cell;
  for (int g = 0; g < 4; ++g) {
    int16_t *gate = gates + g * n;
    memset(gate, 0, (size_t)n * sizeof(int16_t));
    gate_accumulate(x, p->n_input, p->input_weights[g], p->input_bias[g], p->input_multiplier[g],
                    p->input_shift[g], n, gate);
    gate_accumulate(h, n, p->recurrent_weights[g], p->recurrent_bias[g],
                    p->recurrent_multiplier[g], p->recurrent_shift[g], n, gate);
    for (int32_t i = 0; i < n; ++i)
      gate[i] = g == GATE_G ? sbtf_rt_tanh_s16(gate[i], 3) : sbtf_rt_logistic_s16(gate[i], 3); /* Q3.12 in */
  }
  const int16_t *in = gates + GATE_I * n, *forget = gates + GATE_F * n;
  const int16_t *cell_in = gates + GATE_G * n, *out = gates + GATE_O * n;
  for (int32_t i = 0; i < n; ++i) {
    const int16_t kept = (int16_t)sbtf_rounding_divide_by_pot(forget[i] * c[i], 15);
    const int16_t added =
        (int16_t)sbtf_rounding_divide_by_pot(in[i] * cell_in[i], 30 + p->cell_scale_log2);
    int32_t cell = sat16(kept + added);
    if (p->cell_clip > 0) cell = sbtf_clamp(cell, -p->cell_clip, p->cell_clip);
    c[i] = (int16_t)cell;
    const int32_t hidden = out[i] * sbtf_rt_tanh_s16(c[i], 15 + p->cell_scale_log2);
    h[i] = (int8_t)sbtf_clamp(sbtf_mbqm(hidden, p->hidden_multiplier, p->hidden_shift) +
                                  p->hidden_zero_point,
                              -128, 127);
  }
}

static int params_ok(const sbtf_rt_lstm_params *p) {
  if (p->n_batch < 1 || p->n_time < 1 || p->n_input < 1 || p->n_cell < 1 ||
      p->n_input > SBTF_RT_LSTM_MAX_SIZE || p->n_cell > SBTF_RT_LSTM_MAX_SIZE)
    return 0;
  /* TFLite's tanh of the cell state dispatches 0..6 integer bits */
  if (p->cell_scale_log2 < -15 || p->cell_scale_log2 > -9) return 0;
  if (p->hidden_zero_point < -128 || p->hidden_zero_point > 127 ||
      p->output_state_zero_point < -128 || p->output_state_zero_point > 127 || p->cell_clip < 0 ||
      p->hidden_multiplier < 0 || p->hidden_shift < -31 || p->hidden_shift > 30)
    return 0;
  for (int g = 0; g < 4; ++g) {
    if (p->input_weights[g] == NULL || p->recurrent_weights[g] == NULL ||
        p->input_bias[g] == NULL || p->recurrent_bias[g] == NULL || p->input_multiplier[g] < 0 ||
        p->recurrent_multiplier[g] < 0 || p->input_shift[g] < -31 || p->input_shift[g] > 30 ||
        p->recurrent_shift[g] < -31 || p->recurrent_shift[g] > 30)
      return 0;
  }
  return 1;
}

int32_t sbtf_rt_lstm_s8_get_buffer_size(int32_t n_cell) {
  if (n_cell < 1 || n_cell > SBTF_RT_LSTM_MAX_SIZE) return SBTF_ERROR_BAD_SHAPE;
  return SBTF_RT_LSTM_SCRATCH_BYTES(n_cell);
}

sbtf_status sbtf_rt_lstm_s8(const sbtf_context *ctx, const sbtf_rt_lstm_params *params,
                            const int8_t *input, int8_t *output_state, int16_t *cell_state,
                            int8_t *output) {
  if (ctx == NULL || params == NULL || input == NULL || output_state == NULL ||
      cell_state == NULL || output == NULL || (ctx->buf == NULL && ctx->size > 0))
    return SBTF_ERROR_NULL_ARGUMENT;
  if (!params_ok(params)) return SBTF_ERROR_BAD_PARAM;
  const sbtf_rt_lstm_params *p = params;
  if (ctx->size < SBTF_RT_LSTM_SCRATCH_BYTES(p->n_cell)) return SBTF_ERROR_BUFFER_SIZE;
  int16_t *gates = (int16_t *)ctx->buf;
  const int32_t n = p->n_cell, batches = p->n_batch, steps = p->n_time;
  /* Every run is a new sequence: the state starts where TFLite resets its variable tensors
     (zero point, 0). */
  memset(output_state, p->output_state_zero_point, (size_t)batches * n);
  memset(cell_state, 0, (size_t)batches * n * sizeof(int16_t));
  for (int32_t b = 0; b < batches; ++b) {
    int8_t *h = output_state + (size_t)b * n;
    int16_t *c = cell_state + (size_t)b * n;
    for (int32_t t = 0; t < steps; ++t) {
      /* input and output are [time, batch, .] when time major, else [batch, time, .] */
      const size_t row = p->time_major ? (size_t)t * batches + b : (size_t)b * steps + t;
      lstm_step(p, input + row * p->n_input, h, c, gates);
      memcpy(output + row * n, h, (size_t)n);
    }
  }
  return SBTF_OK;
}
