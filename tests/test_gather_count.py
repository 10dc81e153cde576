"""The element-weighted instruction count of bench/profile_kernels.py (used by bench_kernels.py
and bench_tflm.py --gathers): QEMU counts an MVE gather/scatter as one instruction, a Cortex-M55
moves one element per beat, so each executed gather/scatter counts as its element count.

One mps3-an547 program with two traced regions: hand-written gathers and scatters of known
element counts in a loop, then one signed-binary Helium convolution of sbtf's kernels.
"""
import re
import sys
from pathlib import Path

from sbtf.micro import boards, build, source_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import profile_kernels

BOARD = "mps3-an547"
LOOPS = 10
# Per loop: vldrb.u32 (4 elements), vldrh.u16 (8), vldrb.u8 (16), vstrw.32 scatter (4).
ELEMENTS_PER_LOOP = 4 + 8 + 16 + 4

PROGRAM = r"""
#include <stdio.h>

#include "bench_harness.h"
#include "bench_layers.h"
#include "sbtf_nn.h"

static uint32_t scratch[16 * 1024];
static int8_t out[8 * 8 * 32];
static uint8_t buf[64] __attribute__((aligned(16)));

int main(void) {
  bench_region_begin();
  for (int i = 0; i < LOOPS; ++i)
    __asm__ volatile(
        "vmov.i32 q1, #0\n"
        "vldrb.u32 q0, [%0, q1]\n"
        "vldrh.u16 q0, [%0, q1]\n"
        "vldrb.u8 q0, [%0, q1]\n"
        "vstrw.32 q0, [%0, q1]\n" ::"r"(buf) : "q0", "q1", "memory");
  bench_region_end();

  static const bench_layer L = {"T", 8, 8, 32, 32, 3, 1, 65};
  bench_make_layer(&L);
  const sbtf_dims in = {1, 8, 8, 32}, f = {32, 3, 3, 32}, o = {1, 8, 8, 32};
  const sbtf_conv_params p = {128, -5, 1, 1, 1, 1, 1, 1, -128, 127};
  const sbtf_quant_params q = {bench_multiplier, bench_shift};
  const int32_t need = sbtf_conv2d_s8_get_buffer_size(&in, &f, &o);
  if (need < 0 || need > (int32_t)sizeof(scratch)) return 1;
  const sbtf_context ctx = {scratch, need};
  bench_region_begin();
  sbtf_counter_start();
  const sbtf_status st = sbtf_conv2d_s8(&ctx, &p, &q, &in, bench_input, &f, bench_mask,
                                        bench_sign, bench_bias, &o, out);
  const uint64_t n = sbtf_counter_read();
  bench_region_end();
  printf("systick=%llu\n", (unsigned long long)n);
  return st == SBTF_OK ? 0 : 1;
}
"""


def test_gathers_count_their_elements(tmp_path):
    src = tmp_path / "gathers.c"
    src.write_text(PROGRAM)
    elf = build.build_elf(BOARD, [src, *build.kernel_sources()],
                          include_dirs=[source_dir() / "tests"], defines={"LOOPS": LOOPS},
                          # the bench headers' helpers this program does not call
                          extra_cflags=["-Wno-unused-function"], out=tmp_path / "gathers.elf")
    (asm, conv), _ = profile_kernels.trace(BOARD, elf, timeout=120)

    hand = profile_kernels.element_weighted(BOARD, elf, asm)
    assert hand["instructions"] == sum(asm.values())
    assert hand["gather_scatter_instructions"] == 4 * LOOPS
    assert hand["gather_scatter_elements"] == ELEMENTS_PER_LOOP * LOOPS
    assert hand["element_weighted_instructions"] == (
        hand["instructions"] + (ELEMENTS_PER_LOOP - 4) * LOOPS)

    kernel = profile_kernels.element_weighted(BOARD, elf, conv)
    assert kernel["gather_scatter_instructions"] > 0  # the Helium kernel's table builds
    # plain + sum over the executed gathers/scatters of (elements - 1), from the disassembly
    asm_text = profile_kernels._disassembly(BOARD, elf)
    extra = sum(n * (profile_kernels.gather_elements(asm_text[a]) - 1)
                for a, n in conv.items() if profile_kernels.gather_elements(asm_text[a]))
    assert extra > 0
    assert kernel["element_weighted_instructions"] == kernel["instructions"] + extra

    # The span SysTick counts, as bench_tflm.py --gathers traces it: equal up to the counter's
    # own instructions (its wait for the first tick) and one tick, once the blocks QEMU's -icount
    # logged but stopped or rewound at the counter's device accesses are discounted.
    (counted,), stdout = profile_kernels.trace(BOARD, elf, timeout=120,
                                               begin="sbtf_counter_start", end="sbtf_counter_read")
    systick = int(re.search(r"systick=(\d+)", stdout)[1])
    assert systick > 0 and min(counted.values()) > 0
    tick = boards.get(BOARD).instructions_per_tick
    assert 0 <= sum(counted.values()) - systick <= 2 * tick + 16, (sum(counted.values()), systick)
