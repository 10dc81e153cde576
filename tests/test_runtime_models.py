"""Whole models through sbtf's ahead-of-time runtime on every simulated board, bit for bit
against the host: TFLite BUILTIN_REF on the plain int8 twin (which the sbtf ops equal by
definition) and sbtf.Interpreter on the sbtf model. Plus firmware for the real STM32 boards."""
from __future__ import annotations

import numpy as np
import pytest

import sbtf
from sbtf.converters import convert_with_report
from sbtf.micro import boards, hostref, runtime

QEMU_BOARDS = ["mps2-an386", "mps2-an500", "mps3-an547", "netduinoplus2"]


@pytest.fixture(scope="module")
def resnet8():
    """Random-initialised signed-binary ResNet-8 with int8 logits (sbtf model, int8 twin)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = sbtf.models.resnet8()
    # Random weights saturate the softmax (every output one-hot): compare the logits instead,
    # the same classifier without its fused softmax, so every output byte carries information.
    head = model.layers[-1]
    logits = tf.keras.layers.Dense(head.units, name="logits")
    model = tf.keras.Model(model.input, logits(model.layers[-2].output))
    logits.set_weights(head.get_weights())
    calib = np.random.default_rng(0).uniform(0, 1, size=(32, 32, 32, 3)).astype(np.float32)
    res = convert_with_report(model, representative_data=calib)
    return res.tflite, res.int8_tflite


@pytest.fixture(scope="module")
def digits():
    """The trained digits CNN converted on its training split, and the real test split."""
    from sbtf.data import load_digits_split

    model, _ = sbtf.models.train_digits_cnn(epochs=8)
    (x_train, _), (x_test, y_test) = load_digits_split()
    res = convert_with_report(model, representative_data=x_train[:256])
    scale, zp = hostref.input_quantization(res.int8_tflite)
    return res.tflite, res.int8_tflite, runtime.quantize_inputs(x_test, scale, zp), y_test


def _ops(tflite):
    from sbtf.micro import codegen

    return {op.name for op in codegen.load_graph(tflite).operators}


@pytest.mark.slow
@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_resnet8_signed_binary_bit_exact_on_board(resnet8, board, tmp_path):
    tflite, twin = resnet8
    assert "SBTF_CONV_2D" in _ops(tflite)
    x = np.random.default_rng(1).integers(-128, 128, size=(3, 32, 32, 3)).astype(np.int8)
    want = hostref.run_reference(twin, x)
    assert len(np.unique(want)) > 10, "outputs too uniform to show bit-exactness"
    res = runtime.run_model(tflite, board, x, out_dir=tmp_path, timeout=300)
    np.testing.assert_array_equal(res.outputs, want)
    np.testing.assert_array_equal(res.outputs, hostref.run_sbtf_interpreter(tflite, x))
    assert len(res.instructions) == 3 and min(res.instructions) > 1_000_000
    assert res.memory.fits(), res.memory.overflow_message(board)
    assert 0 < res.memory.stack_used < res.memory.stack


@pytest.mark.slow
def test_resnet8_int8_twin_bit_exact_on_board(resnet8, tmp_path):
    _, twin = resnet8
    x = np.random.default_rng(2).integers(-128, 128, size=(2, 32, 32, 3)).astype(np.int8)
    res = runtime.run_model(twin, "mps2-an386", x, out_dir=tmp_path, timeout=300)
    want = hostref.run_reference(twin, x)
    assert len(np.unique(want)) > 5
    np.testing.assert_array_equal(res.outputs, want)


@pytest.mark.slow
def test_resnet8_signed_binary_fits_the_real_stm32f405(resnet8):
    tflite, _ = resnet8
    need = runtime.fit_report(tflite, "netduinoplus2")
    board = boards.get("netduinoplus2")
    assert need.flash_limit == board.flash[1] and need.ram_limit == 128 << 10
    assert need.fits(), need.overflow_message("netduinoplus2")


@pytest.mark.slow
@pytest.mark.parametrize("board", ["mps2-an386", "netduinoplus2"])
def test_digits_test_split_bit_exact_and_same_accuracy(digits, board, tmp_path):
    tflite, twin, x_test, y_test = digits
    assert "SBTF_CONV_2D" in _ops(tflite)
    want = hostref.run_reference(twin, x_test)
    res = runtime.run_model(tflite, board, x_test, out_dir=tmp_path, timeout=300)
    np.testing.assert_array_equal(res.outputs, want)
    np.testing.assert_array_equal(res.outputs, hostref.run_sbtf_interpreter(tflite, x_test))
    host_accuracy = float(np.mean(want.argmax(-1) == y_test))
    board_accuracy = float(np.mean(res.outputs.argmax(-1) == y_test))
    assert board_accuracy == host_accuracy
    assert host_accuracy > 0.8, "the trained digits model should classify most test digits"


@pytest.mark.slow
@pytest.mark.parametrize("name", boards.names(simulated=False))
def test_real_board_firmware_links_and_fits(resnet8, name, tmp_path):
    tflite, _ = resnet8
    x = np.zeros((2, 32 * 32 * 3), np.int8)
    fw = runtime.build_real_firmware(tflite, name, x, out=tmp_path / "fw.elf")
    assert fw.elf.is_file() and fw.bin.is_file()
    # The .bin is the flash image: vector table first (initial SP in RAM, reset in flash).
    head = np.frombuffer(fw.bin.read_bytes()[:8], np.uint32)
    assert 0x20000000 <= head[0] <= 0x20000000 + fw.memory.ram_limit
    assert 0x08000000 <= head[1] < 0x08000000 + fw.memory.flash_limit
    assert fw.memory.fits(), fw.memory.overflow_message(name)
    assert fw.memory.flash >= fw.generated.weight_bytes


def test_unknown_real_board_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown real board 'nucleo-h743zi'"):
        runtime.build_real_firmware(b"", "nucleo-h743zi", np.zeros(1, np.int8))


@pytest.mark.slow
def test_fit_report_counts_a_ccm_arena_outside_the_sram(resnet8):
    tflite, _ = resnet8
    sram = runtime.fit_report(tflite, "netduinoplus2")
    ccm = runtime.fit_report(tflite, "netduinoplus2", arena_in_ccm=True)
    assert ccm.ccm == sram.arena and ccm.ram == sram.ram - sram.arena
    assert ccm.ccm_limit == 64 << 10 and ccm.fits()
    too_big = runtime.Memory(text=1, data=0, bss=200_000, stack=8192, arena=100_000,
                             ram_limit=128 << 10, ccm=100_000, ccm_limit=64 << 10)
    assert "CCM 100000 B exceeds 65536 B by 34464 B" in too_big.overflow_message("netduinoplus2")
    with pytest.raises(ValueError, match="has no CCM"):
        runtime.fit_report(tflite, "mps2-an386", arena_in_ccm=True)
