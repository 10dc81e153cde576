/*
 * int8_reference.c - a straightforward int8 convolution / fully connected (TFLite reference
 * semantics, plain C loops), the baseline bench_kernels.c counts against and checks sbtf's
 * outputs with (requantization: sbtf_arith.h, gemmlowp's literal form and single rounding on
 * the 64-bit product). Not part of the kernel library.
 */
#include "int8_reference.h"

#include "sbtf_arith.h"

static int8_t clamp(int64_t v, int32_t lo, int32_t hi) {
  return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

void int8_reference_conv(const sbtf_conv_params *p, const sbtf_quant_params *q,
                         const sbtf_dims *in, const int8_t *input, const sbtf_dims *f,
                         const int8_t *weights, const int32_t *bias, const sbtf_dims *out,
                         int8_t *output) {
  for (int32_t n = 0; n < out->n; ++n)
    for (int32_t oy = 0; oy < out->h; ++oy)
      for (int32_t ox = 0; ox < out->w; ++ox)
        for (int32_t c = 0; c < out->c; ++c) {
          int32_t acc = 0;
          for (int32_t ky = 0; ky < f->h; ++ky) {
            const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
            if (iy < 0 || iy >= in->h) continue;
            for (int32_t kx = 0; kx < f->w; ++kx) {
              const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
              if (ix < 0 || ix >= in->w) continue;
              const int8_t *x = input + ((n * in->h + iy) * in->w + ix) * in->c;
              const int8_t *w = weights + ((c * f->h + ky) * f->w + kx) * f->c;
              for (int32_t ci = 0; ci < in->c; ++ci) acc += (x[ci] + p->input_offset) * w[ci];
            }
          }
          if (bias) acc += bias[c];
          acc = sbtf_mbqm_reference(acc, q->multiplier[c], q->shift[c]) + p->output_offset;
          output[((n * out->h + oy) * out->w + ox) * out->c + c] =
              clamp(acc, p->activation_min, p->activation_max);
        }
}

void int8_reference_fc(const sbtf_fc_params *p, const sbtf_quant_params *q, int32_t batches,
                       int32_t c_in, const int8_t *input, int32_t c_out, const int8_t *weights,
                       const int32_t *bias, int8_t *output) {
  for (int32_t b = 0; b < batches; ++b)
    for (int32_t c = 0; c < c_out; ++c) {
      int32_t acc = 0;
      for (int32_t i = 0; i < c_in; ++i)
        acc += (input[b * c_in + i] + p->input_offset) * weights[c * c_in + i];
      if (bias) acc += bias[c];
      output[b * c_out + c] =
          clamp(sbtf_mbqm_single_wide(acc, q->multiplier[c], q->shift[c]) + p->output_offset,
                p->activation_min, p->activation_max);
    }
}
