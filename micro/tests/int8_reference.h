/* Plain-C int8 conv / FC with TFLite reference semantics (baseline for bench_kernels.c). */
#ifndef INT8_REFERENCE_H
#define INT8_REFERENCE_H

#include <stdint.h>

#include "sbtf_nn.h"

/* weights int8 OHWI [C_out, KH, KW, C_in]. */
void int8_reference_conv(const sbtf_conv_params *p, const sbtf_quant_params *q,
                         const sbtf_dims *in, const int8_t *input, const sbtf_dims *f,
                         const int8_t *weights, const int32_t *bias, const sbtf_dims *out,
                         int8_t *output);

/* weights int8 [C_out, C_in]. */
void int8_reference_fc(const sbtf_fc_params *p, const sbtf_quant_params *q, int32_t batches,
                       int32_t c_in, const int8_t *input, int32_t c_out, const int8_t *weights,
                       const int32_t *bias, int8_t *output);

#endif
