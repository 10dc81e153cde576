# Builds TensorFlow Lite Micro (with CMSIS-NN kernels on Cortex-M) and sbtf's TFLM glue from
# the source trees in $(THIRD_PARTY), without TFLM's own Makefile (which downloads its pins at
# parse time). Driven by sbtf/micro/tflm.py, which passes every variable below; usable by hand:
#
#   make -f micro/tflm/tflm.mk -j2 OUT=build/tflm/mps2-an386 THIRD_PARTY=../shared/third_party \
#        CROSS=arm-none-eabi- ARCH_FLAGS="-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb" \
#        CMSIS_NN=1 SBTF=$PWD
#
# Outputs: $(OUT)/libtflm.a (TFLM core, the kernels sbtf's models use, CMSIS-NN) and
# $(OUT)/libsbtf_tflm.a (micro/tflm glue + micro/src kernels), and the objects of
# tflm_main.cc (runner), sbtf_ops_test.cc (kernel tests) and board_cxx.cc (boards only). Objects and -MMD dependencies
# live under $(OUT)/obj, so a repeat build only recompiles what changed.

THIRD_PARTY ?= ../shared/third_party
SBTF ?= .
OUT ?= build/tflm/host
CROSS ?=
ARCH_FLAGS ?=
CMSIS_NN ?= 0
OPT ?= -O2
EXTRA_DEFINES ?=

TFLM := $(THIRD_PARTY)/tflite-micro
CMSIS_NN_DIR := $(THIRD_PARTY)/cmsis-nn
CXX := $(CROSS)g++
CC := $(CROSS)gcc
AR := $(CROSS)ar

# The TFLM kernels for the operators sbtf's converter and runtime support
# (sbtf/micro/codegen/operators.py SUPPORTED_OPS); with CMSIS_NN=1 TFLM's cmsis_nn/ version of a kernel replaces the reference one,
# as TFLM's OPTIMIZED_KERNEL_DIR=cmsis_nn does.
KERNELS := add conv depthwise_conv fully_connected pooling reduce reshape softmax pad quantize
KERNEL_SRCS := $(foreach k,$(KERNELS),$(TFLM)/tensorflow/lite/micro/kernels/$(k).cc \
                 $(wildcard $(TFLM)/tensorflow/lite/micro/kernels/$(k)_common.cc)) \
               $(addprefix $(TFLM)/tensorflow/lite/micro/kernels/,\
                 kernel_util.cc kernel_runner.cc micro_tensor_utils.cc)
ifeq ($(CMSIS_NN),1)
  CMSIS_KERNELS := $(notdir $(wildcard $(TFLM)/tensorflow/lite/micro/kernels/cmsis_nn/*.cc))
  KERNEL_SRCS := $(foreach s,$(KERNEL_SRCS),$(if $(filter $(notdir $(s)),$(CMSIS_KERNELS)),\
                   $(TFLM)/tensorflow/lite/micro/kernels/cmsis_nn/$(notdir $(s)),$(s)))
  # CMSIS-NN without the functions of operators sbtf's models do not have (LSTM, SVDF,
  # concatenation, reshape, transpose; the float bindings), as TFLM without ARM_NN_ENABLE_F16/F32.
  CMSIS_SRCS := $(filter-out %_f16.c %_f32.c %/arm_nntables_flt.c %lstm% %/Bindings/% \
                  %/SVDFunctions/% %/ConcatenationFunctions/% %/ReshapeFunctions/% \
                  %/TransposeFunctions/%,$(shell find $(CMSIS_NN_DIR)/Source -name '*.c'))
  DEFINES_NN := -DCMSIS_NN -DARM_NN_ENABLE_F16=0 -DARM_NN_ENABLE_F32=0
endif

# TFLM's library as its sources.inc lists it (core, allocators, planners, bridge, the shared
# TFLite sources), without tests and benchmarks.
CORE_SRCS := $(filter-out %_test.cc %benchmark.cc,\
  $(wildcard $(TFLM)/tensorflow/lite/micro/*.cc) \
  $(wildcard $(TFLM)/tensorflow/lite/micro/arena_allocator/*.cc) \
  $(wildcard $(TFLM)/tensorflow/lite/micro/memory_planner/*.cc) \
  $(wildcard $(TFLM)/tensorflow/lite/micro/tflite_bridge/*.cc) \
  $(filter-out %/array.cc,$(shell find $(TFLM)/tensorflow -type d \( -path '*/lite/experimental' \
     -o -path '*/lite/micro' \) -prune -false -o -name '*.cc')))

GLUE_SRCS := $(addprefix $(SBTF)/micro/tflm/,sbtf_common.cc sbtf_window.cc sbtf_conv.cc \
                                           sbtf_fully_connected.cc sbtf_depthwise_conv.cc)
SBTF_C_SRCS := $(wildcard $(SBTF)/micro/src/*.c)
# The runner main and the glue's kernel tests (linked per model by sbtf/micro/tflm.py), and on
# boards the C++ support that -nostartfiles images lack.
PROGRAM_SRCS := $(addprefix $(SBTF)/micro/tflm/,tflm_main.cc sbtf_ops_test.cc \
  $(if $(CROSS),board_cxx.cc))

INCLUDES := -I$(TFLM) -I$(THIRD_PARTY)/flatbuffers/include -I$(THIRD_PARTY)/gemmlowp \
  -I$(THIRD_PARTY)/ruy -I$(CMSIS_NN_DIR) -I$(CMSIS_NN_DIR)/Include \
  -I$(THIRD_PARTY)/cmsis/CMSIS/Core/Include
# TFLM's own flags (tools/make/Makefile COMMON_FLAGS, default BUILD_TYPE).
COMMON := $(ARCH_FLAGS) $(OPT) -fno-unwind-tables -ffunction-sections -fdata-sections \
  -fmessage-length=0 -DTF_LITE_STATIC_MEMORY -DTF_LITE_DISABLE_X86_NEON $(DEFINES_NN) \
  $(if $(CROSS),-DTF_LITE_MCU_DEBUG_LOG,-DTF_LITE_USE_CTIME) $(EXTRA_DEFINES)
TFLM_CXXFLAGS := -std=c++17 -fno-rtti -fno-exceptions -fno-threadsafe-statics $(COMMON) \
  -Wno-unused-parameter -Wno-type-limits
# The glue is held to TFLM's warnings (its CC_WARNINGS, incl. -Wdouble-promotion) as errors;
# TFLM's and the third-party headers are system headers so their warnings are not ours.
GLUE_CXXFLAGS := -std=c++17 -fno-rtti -fno-exceptions -fno-threadsafe-statics $(COMMON) \
  -Wall -Wextra -Werror -Wdouble-promotion -Wsign-compare -Wshadow -Wvla -Wno-unused-parameter \
  -isystem $(TFLM) -isystem $(THIRD_PARTY)/flatbuffers/include -isystem $(THIRD_PARTY)/gemmlowp \
  -isystem $(THIRD_PARTY)/ruy -I$(SBTF)/micro/include -I$(SBTF)/micro/tflm \
  -I$(SBTF)/micro/boards $(if $(CROSS),-DSBTF_TFLM_ON_BOARD)
SBTF_CFLAGS := -std=c99 $(COMMON) -Wall -Wextra -Werror -I$(SBTF)/micro/include
NN_CFLAGS := -std=c99 $(COMMON) -Wno-unused-parameter

obj = $(patsubst /%,$(OUT)/obj/%.o,$(abspath $(1)))
TFLM_OBJS := $(call obj,$(CORE_SRCS) $(KERNEL_SRCS))
NN_OBJS := $(call obj,$(CMSIS_SRCS))
GLUE_OBJS := $(call obj,$(GLUE_SRCS) $(PROGRAM_SRCS))
SBTF_OBJS := $(call obj,$(SBTF_C_SRCS))

PROGRAM_OBJS := $(call obj,$(PROGRAM_SRCS))

all: $(OUT)/libtflm.a $(OUT)/libsbtf_tflm.a $(OUT)/programs.txt

$(OUT)/libtflm.a: $(TFLM_OBJS) $(NN_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(OUT)/libsbtf_tflm.a: $(filter-out $(PROGRAM_OBJS),$(GLUE_OBJS)) $(SBTF_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# Where the program objects are, for the Python driver.
$(OUT)/programs.txt: $(PROGRAM_OBJS)
	@printf '%s\n' $^ > $@

# One pattern per kind of source; the object path is the source's absolute path under obj/.
$(TFLM_OBJS): $(OUT)/obj/%.cc.o: /%.cc
	@mkdir -p $(@D)
	$(CXX) $(TFLM_CXXFLAGS) $(INCLUDES) -MMD -c $< -o $@

$(NN_OBJS): $(OUT)/obj/%.c.o: /%.c
	@mkdir -p $(@D)
	$(CC) $(NN_CFLAGS) $(INCLUDES) -MMD -c $< -o $@

$(GLUE_OBJS): $(OUT)/obj/%.cc.o: /%.cc
	@mkdir -p $(@D)
	$(CXX) $(GLUE_CXXFLAGS) -MMD -c $< -o $@

$(SBTF_OBJS): $(OUT)/obj/%.c.o: /%.c
	@mkdir -p $(@D)
	$(CC) $(SBTF_CFLAGS) -MMD -c $< -o $@

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)

.PHONY: all
