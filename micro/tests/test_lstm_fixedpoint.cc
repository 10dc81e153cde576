/*
 * test_lstm_fixedpoint.cc - sbtf_rt_logistic_s16 / sbtf_rt_tanh_s16 (micro/runtime/sbtf_rt_lstm.c)
 * against gemmlowp's fixedpoint.h, which TFLite's integer LSTM calls, for every int16 input
 * and every integer-bit count 0..6. Host only (gemmlowp is C++); tests/test_runtime_lstm.py
 * builds it with -I<third_party>/gemmlowp.
 */
#include <cstdint>
#include <cstdio>

#include "fixedpoint/fixedpoint.h"
#include "sbtf_rt.h"

template <int IntBits>
static long check(long *cases) {
  using F = gemmlowp::FixedPoint<std::int16_t, IntBits>;
  long failures = 0;
  for (int32_t v = INT16_MIN; v <= INT16_MAX; ++v) {
    const F x = F::FromRaw(static_cast<std::int16_t>(v));
    const int16_t want_l = gemmlowp::logistic(x).raw(), want_t = gemmlowp::tanh(x).raw();
    const int16_t got_l = sbtf_rt_logistic_s16(static_cast<int16_t>(v), IntBits);
    const int16_t got_t = sbtf_rt_tanh_s16(static_cast<int16_t>(v), IntBits);
    if (got_l != want_l || got_t != want_t) {
      if (failures < 5)
        std::printf("int_bits=%d x=%d logistic %d (want %d) tanh %d (want %d)\n", IntBits,
                    static_cast<int>(v), got_l, want_l, got_t, want_t);
      ++failures;
    }
    *cases += 2;
  }
  return failures;
}

int main() {
  long cases = 0;
  const long failures = check<0>(&cases) + check<1>(&cases) + check<2>(&cases) +
                        check<3>(&cases) + check<4>(&cases) + check<5>(&cases) +
                        check<6>(&cases);
  std::printf("sbtf_lstm_fixedpoint: cases=%ld failures=%ld\n", cases, failures);
  return failures != 0;
}
