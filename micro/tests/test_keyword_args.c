/*
 * test_keyword_args.c - the argument checks of sbtf_rt_keyword.c (SVDF, SOFTMAX int8 -> int16,
 * QUANTIZE between quantized types): every NULL pointer, shape and parameter out of range is
 * refused with its status before anything is read or written (tests/test_runtime_svdf.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sbtf_rt_keyword.h"
#include "test_harness.h"

#define EXPECT(call, status) CHECK((call) == (status), "%s != %s", #call, #status)

int main(void) {
  (void)check_output; /* the harness's golden check: these cases compare statuses */
  static const int8_t wf[2 * 3] = {1, 2, 3, 4, 5, 6};
  static const int16_t wt[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
  int8_t in[3] = {1, 2, 3}, out[2] = {0x5A, 0x5A};
  int16_t state[2 * 4] = {0}, out16[3] = {0};
  const sbtf_rt_svdf_params good = {wf, wt, NULL, 1, 3, 2, 4, 1, 0, 0, 1 << 30, 0, 1 << 30, -3};
  sbtf_rt_svdf_params p = good;
  EXPECT(sbtf_rt_svdf_s8(&good, in, state, out), SBTF_OK);
  EXPECT(sbtf_rt_svdf_s8(NULL, in, state, out), SBTF_ERROR_NULL_ARGUMENT);
  EXPECT(sbtf_rt_svdf_s8(&good, NULL, state, out), SBTF_ERROR_NULL_ARGUMENT);
  EXPECT(sbtf_rt_svdf_s8(&good, in, NULL, out), SBTF_ERROR_NULL_ARGUMENT);
  EXPECT(sbtf_rt_svdf_s8(&good, in, state, NULL), SBTF_ERROR_NULL_ARGUMENT);
  p.weights_time = NULL;
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);
  p = good, p.rank = 3; /* does not divide 2 filters */
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);
  p = good, p.rank = 0;
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);
  p = good, p.n_memory = 0;
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);
  p = good, p.n_input = 65537;
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);
  p = good, p.input_zero_point = 128;
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);
  p = good, p.time_shift = 31;
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);
  p = good, p.feature_multiplier = -1;
  EXPECT(sbtf_rt_svdf_s8(&p, in, state, out), SBTF_ERROR_BAD_PARAM);

  const sbtf_rt_softmax_s8_s16_params sm = {1 << 30, 20, -2000};
  sbtf_rt_softmax_s8_s16_params q = sm;
  EXPECT(sbtf_rt_softmax_s8_s16(&sm, 1, 3, in, out16), SBTF_OK);
  CHECK(out16[2] > out16[1] && out16[1] > out16[0], "softmax not increasing with its input");
  EXPECT(sbtf_rt_softmax_s8_s16(NULL, 1, 3, in, out16), SBTF_ERROR_NULL_ARGUMENT);
  EXPECT(sbtf_rt_softmax_s8_s16(&sm, 1, 3, NULL, out16), SBTF_ERROR_NULL_ARGUMENT);
  EXPECT(sbtf_rt_softmax_s8_s16(&sm, 0, 3, in, out16), SBTF_ERROR_BAD_SHAPE);
  EXPECT(sbtf_rt_softmax_s8_s16(&sm, 1, SBTF_RT_SOFTMAX_S16_MAX_DEPTH + 1, in, out16),
         SBTF_ERROR_BAD_SHAPE);
  q.input_left_shift = 32;
  EXPECT(sbtf_rt_softmax_s8_s16(&q, 1, 3, in, out16), SBTF_ERROR_BAD_PARAM);
  q = sm, q.diff_min = 1;
  EXPECT(sbtf_rt_softmax_s8_s16(&q, 1, 3, in, out16), SBTF_ERROR_BAD_PARAM);

  const sbtf_rt_requant_params rq = {0, 0, 1 << 30, 1};
  sbtf_rt_requant_params r = rq;
  EXPECT(sbtf_rt_requantize(&rq, 3, SBTF_RT_INT8, in, SBTF_RT_INT16, out16), SBTF_OK);
  CHECK(out16[0] == 1 && out16[2] == 3, "requantize by 1.0 changed the values");
  EXPECT(sbtf_rt_requantize(NULL, 3, SBTF_RT_INT8, in, SBTF_RT_INT16, out16),
         SBTF_ERROR_NULL_ARGUMENT);
  EXPECT(sbtf_rt_requantize(&rq, 0, SBTF_RT_INT8, in, SBTF_RT_INT16, out16), SBTF_ERROR_BAD_SHAPE);
  EXPECT(sbtf_rt_requantize(&rq, 3, SBTF_RT_INT32, in, SBTF_RT_INT16, out16),
         SBTF_ERROR_BAD_PARAM);
  EXPECT(sbtf_rt_requantize(&rq, 3, SBTF_RT_INT8, in, SBTF_RT_FLOAT32, out16),
         SBTF_ERROR_BAD_PARAM);
  r.input_zero_point = 200; /* outside int8 */
  EXPECT(sbtf_rt_requantize(&r, 3, SBTF_RT_INT8, in, SBTF_RT_INT16, out16), SBTF_ERROR_BAD_PARAM);
  r = rq, r.output_zero_point = 40000; /* outside int16 */
  EXPECT(sbtf_rt_requantize(&r, 3, SBTF_RT_INT8, in, SBTF_RT_INT16, out16), SBTF_ERROR_BAD_PARAM);
  r = rq, r.shift = -32;
  EXPECT(sbtf_rt_requantize(&r, 3, SBTF_RT_INT8, in, SBTF_RT_INT16, out16), SBTF_ERROR_BAD_PARAM);

  printf("sbtf_keyword_args failures=%d\n", failures);
  return failures != 0;
}
