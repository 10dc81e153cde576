"""examples/: the digits, CIFAR-10 ResNet-8, STM32 and MirroredStrategy scripts.

Command-line behaviour (exit codes, messages, what a run with a fresh TensorFlow does) is tested
in subprocesses; the rest in-process, which saves a TensorFlow start-up per test.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

import sbtf

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _module(relative: str):
    path = EXAMPLES / relative
    name = "example_" + relative.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(relative: str, *args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / relative), *args], check=False,
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def test_cifar10_without_the_dataset_exits_2_and_says_what_is_missing(tmp_path):
    empty = tmp_path / "keras"
    empty.mkdir()
    out = tmp_path / "out"
    result = _run("cifar10_resnet8/train.py", "--epochs", "1", "--out", str(out),
                  env={"HOME": str(tmp_path), "KERAS_HOME": str(empty)})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "CIFAR-10 is not in the Keras cache" in result.stderr
    assert str(empty / "datasets" / "cifar-10-batches-py") in result.stderr
    assert "--download" in result.stderr and "cifar-10-python.tar.gz" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists(), "no output folder for a run that did not train"


def test_cifar10_data_dir_and_partial_dataset(tmp_path, monkeypatch):
    cifar = _module("cifar10_resnet8/train.py")
    folder = tmp_path / "datasets" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in cifar.CIFAR_FILES[:-1]:  # test_batch missing: not a usable data set
        (folder / name).write_bytes(b"")
    monkeypatch.delenv("KERAS_HOME", raising=False)
    assert cifar.find_cifar10(cifar.keras_cache_dir(str(tmp_path))) is None
    with pytest.raises(cifar.DatasetMissing, match="test_batch"):
        cifar.load_cifar10(str(tmp_path), download=False)
    (folder / "test_batch").write_bytes(b"")
    assert cifar.find_cifar10(cifar.keras_cache_dir(str(tmp_path))) == str(folder)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "elsewhere"))
    assert cifar.keras_cache_dir() == str(tmp_path / "elsewhere")


@pytest.mark.slow
def test_cifar10_smoke_with_a_trained_teacher(tmp_path, capsys):
    cifar = _module("cifar10_resnet8/train.py")
    out = tmp_path / "out"
    assert cifar.main(["--smoke", "--teacher", "train", "--out", str(out)]) == 0
    for name in ("resnet8_sb.h5", "calibration.npy", "history.json", "teacher_float.h5"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert {"ce", "kd", "loss"} <= set(history["history"])  # the distillation loss ran
    assert history["flash_bytes"]["sbtf"] < history["flash_bytes"]["int8"] / 4
    calibration = np.load(out / "calibration.npy")
    assert calibration.shape == (64, 32, 32, 3) and calibration.dtype == np.float32
    student = tf.keras.models.load_model(out / "resnet8_sb.h5", compile=False)
    assert sum(sbtf.quantizers.is_signed_binary(layer) for layer in student.layers) == 6
    assert "next: sbtf-convert" in capsys.readouterr().out


def test_cifar10_rejects_bad_options(tmp_path):
    cifar = _module("cifar10_resnet8/train.py")
    for argv in (["--teacher", str(tmp_path / "missing.h5")], ["--threshold", "1.5"],
                 ["--distill-weight", "2"], ["--epochs", "0"]):
        with pytest.raises(SystemExit) as e:
            cifar.main([*argv, "--smoke", "--out", str(tmp_path / "out")])
        assert e.value.code == 2, argv
    assert not (tmp_path / "out").exists()


def test_distillation_loss_is_zero_for_a_perfect_copy():
    inputs = tf.keras.Input((4,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(3, activation="softmax")(inputs))
    distiller = sbtf.models.Distiller(model, model, weight=1.0, temperature=4.0)
    probs = tf.constant([[0.7, 0.2, 0.1]])
    soft = distiller._soften(probs)
    assert float(distiller.kl(soft, soft)) == pytest.approx(0.0, abs=1e-6)
    # T > 1 flattens the distribution: log p / T then softmax = p^(1/T) normalised.
    expected = probs.numpy() ** 0.25 / (probs.numpy() ** 0.25).sum()
    np.testing.assert_allclose(soft.numpy(), expected, rtol=1e-5)


@pytest.mark.slow
def test_distributed_training_on_two_logical_cpus(tmp_path):
    out = tmp_path / "out"
    result = _run("distributed/train.py", "--devices", "cpu", "--replicas", "2", "--epochs", "1",
                  "--steps-per-epoch", "2", "--signs", "init", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy: 2 replicas" in result.stdout
    assert "CPU:0" in result.stdout and "CPU:1" in result.stdout
    assert "3 sign vectors (MirroredVariable)" in result.stdout
    assert "identical on every replica; signed-binary signs unchanged" in result.stdout
    model = tf.keras.models.load_model(out / "digits_mirrored.h5", compile=False)
    signs = [sbtf.quantizers.signed_binary_quantizer_of(layer).signs.numpy()
             for layer in model.layers if sbtf.quantizers.is_signed_binary(layer)]
    assert len(signs) == 3 and all(set(np.unique(s)) <= {-1.0, 1.0} for s in signs)


def test_distributed_replica_check_catches_a_difference():
    dist = _module("distributed/train.py")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = sbtf.models.digits_cnn()
    assert dist.replica_mismatches(model) == []

    # Stands in for a MirroredVariable whose two copies diverged.
    split = SimpleNamespace(name="signs:0", synchronization=tf.VariableSynchronization.ON_WRITE,
                            values=(tf.constant([1.0, -1.0]), tf.constant([1.0, 1.0])))
    assert dist.replica_mismatches(SimpleNamespace(weights=[split])) == ["signs:0"]


@pytest.mark.slow
def test_digits_example_train_convert_and_run_on_host(tmp_path, capsys):
    train = _module("digits/train.py")
    out = tmp_path / "digits"
    assert train.main(["--epochs", "2", "--out", str(out)]) == 0
    for name in ("digits.h5", "calibration.npy", "test_images.npy", "test_labels.npy"):
        assert (out / name).is_file(), name
    model = tf.keras.models.load_model(out / "digits.h5", compile=False)
    images, labels = np.load(out / "test_images.npy"), np.load(out / "test_labels.npy")
    assert images.shape == (360, 8, 8, 1) and labels.shape == (360,)

    from sbtf.converters import convert

    tflite = out / "digits.tflite"
    tflite.write_bytes(convert(model, representative_data=np.load(out / "calibration.npy")))
    host = _module("digits/run_host.py")
    argv = [str(tflite), "--images", str(out / "test_images.npy"),
            "--labels", str(out / "test_labels.npy"), "--output", str(out / "host.npy")]
    assert host.main(argv) == 0
    outputs = np.load(out / "host.npy")
    assert outputs.shape == (360, 10) and outputs.dtype == np.int8
    keras_pred = model.predict(images, verbose=0).argmax(axis=1)
    # int8 rounding may flip a near-tie; the two must agree on almost every image.
    assert np.mean(outputs.argmax(axis=1) == keras_pred) >= 0.97
    np.save(out / "nchw.npy", images.transpose(0, 3, 1, 2))
    assert host.main([str(tflite), "--images", str(out / "nchw.npy")]) == 2
    assert ("images have shape [360, 1, 8, 8], the model's input shape is [1, 8, 8, 1]: "
            "expected [N, 8, 8, 1]") in capsys.readouterr().err

    # A board output equal to the host's passes; one changed byte fails with exit 1.
    np.save(out / "board.npy", outputs)
    assert host.main([*argv[:5], "--board-output", str(out / "board.npy")]) == 0
    outputs[5, 3] ^= 1
    np.save(out / "board.npy", outputs)
    assert host.main([*argv[:5], "--board-output", str(out / "board.npy")]) == 1
    assert "differ on 1 of 360 images" in capsys.readouterr().err


def test_stm32_uart_log_parsing(tmp_path, capsys):
    uart = _module("stm32/parse_uart.py")
    log = tmp_path / "uart.log"
    log.write_text("noise before reset\r\n"
                   "sbtf-info board=nucleo-f746zg arena=4096 inputs=2\r\n"
                   "sbtf-out 0 80818080808080788185 16000\r\n"
                   "sbtf-out 1 8080808080807f808080 16002\r\n"
                   "sbtf-done\r\n")
    assert uart.main([str(log), "--output", str(tmp_path / "board.npy")]) == 0
    outputs = np.load(tmp_path / "board.npy")
    assert outputs.dtype == np.int8 and outputs.shape == (2, 10)
    assert outputs.argmax(axis=1).tolist() == [7, 6]
    assert outputs[0, 9] == -123  # 0x85 as int8
    assert "median 16001" in capsys.readouterr().out

    log.write_text("sbtf-info board=nucleo-f411re arena=4096 inputs=1\r\n"
                   "sbtf-info cycles=unavailable (the DWT cycle counter does not advance)\r\n"
                   "sbtf-out 0 80818080808080788185 -\r\nsbtf-done\r\n")
    assert uart.main([str(log)]) == 0
    assert "cycles per inference: unavailable" in capsys.readouterr().out

    log.write_text("sbtf-info board=nucleo-f411re arena=4096 inputs=3\r\n"
                   "sbtf-out 0 80818080808080788185 16000\r\n"
                   "sbtf-error op=2 status=-3\r\n")
    assert uart.main([str(log)]) == 1
    assert "sbtf-error op=2 status=-3" in capsys.readouterr().err
    log.write_text("just a terminal banner\r\n")
    assert uart.main([str(log)]) == 2
    assert "no `sbtf-info" in capsys.readouterr().err


@pytest.mark.slow
def test_stm32_firmware_boots_on_netduinoplus2_bit_exact_with_host(tmp_path, capsys):
    """The NUCLEO-F411RE image of `sbtf-micro build --input` runs unchanged on QEMU's
    netduinoplus2 (STM32F405: the same USART2, QEMU's second -serial); parse_uart reads its
    lines, which equal the host's outputs bit for bit; QEMU has no DWT, so cycles are
    reported unavailable, not 0."""
    from sbtf.converters import convert_with_report
    from sbtf.micro import cli, hostref, qemu, runtime

    tf.keras.utils.set_random_seed(3)
    L = tf.keras.layers
    inp = tf.keras.Input((8, 8, 2))
    y = L.Conv2D(8, 3, padding="same")(inp)
    y = sbtf.SignedBinaryConv2D(16, 3, padding="same", use_bias=False)(y)
    y = L.ReLU()(L.BatchNormalization()(y))
    model = tf.keras.Model(inp, L.Dense(10)(L.Flatten()(y)))
    rng = np.random.default_rng(3)
    res = convert_with_report(model, representative_data=rng.normal(size=(32, 8, 8, 2)))
    model_path = tmp_path / "m.tflite"
    model_path.write_bytes(res.tflite)
    x = rng.normal(size=(3, 8, 8, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    elf = tmp_path / "fw.elf"
    assert cli.main(["build", str(model_path), "--board", "nucleo-f411re", "--input",
                     str(tmp_path / "x.npy"), "-o", str(elf)]) == 0
    capsys.readouterr()

    run = qemu.run_uart("netduinoplus2", elf, uart=2, timeout=60).check()
    assert "sbtf-info cycles=unavailable" in run.stdout
    (tmp_path / "uart.log").write_text(run.stdout)
    uart = _module("stm32/parse_uart.py")
    board, outputs, cycles = uart.parse_log(run.stdout)
    assert board == "nucleo-f411re" and outputs.shape == (3, 10) and len(cycles) == 0
    x_int8 = runtime.quantize_inputs(x, *hostref.input_quantization(res.tflite))
    host = hostref.run_sbtf_interpreter(res.tflite, x_int8)
    assert len(np.unique(host)) > 5, "outputs too uniform to show bit-exactness"
    np.testing.assert_array_equal(outputs, host)
    np.testing.assert_array_equal(outputs, hostref.run_reference(res.int8_tflite, x_int8))
    assert uart.main([str(tmp_path / "uart.log")]) == 0
    assert "cycles per inference: unavailable" in capsys.readouterr().out


@pytest.mark.slow
def test_fashion_mnist_example_to_the_board(tmp_path, capsys):
    """examples/fashion_mnist on a few images: train, convert, `sbtf-micro run` on
    netduinoplus2, host and board outputs identical (the 1,000-image run: its README)."""
    fashion = _module("fashion_mnist/train.py")
    out = tmp_path / "fashion"
    assert fashion.main(["--distill", "--epochs", "1", "--teacher-epochs", "1",
                         "--train-size", "128", "--test-images", "6", "--batch-size", "64",
                         "--out", str(out)]) == 0
    record = json.loads((out / "train.json").read_text())
    assert 0.0 <= record["teacher_accuracy"] <= 1.0 and 0.0 <= record["test_accuracy"] <= 1.0
    assert (record["args"]["threshold_mode"], record["args"]["threshold"]) == ("mean", 0.7)
    assert [c["epoch"] for c in record["curve"]] == [1]
    assert record["curve"][0]["test_accuracy"] == pytest.approx(record["test_accuracy"], abs=1e-6)
    assert record["flash_bytes"]["sbtf"] < record["flash_bytes"]["int8"] / 4
    images, labels = np.load(out / "test_images.npy"), np.load(out / "test_labels.npy")
    assert images.shape == (6, 28, 28, 1) and labels.shape == (6,)
    assert np.load(out / "calibration.npy").shape == (128, 28, 28, 1)

    # --resume continues the saved student: at a vanishing learning rate its kernels stay put.
    again = tmp_path / "again"
    assert fashion.main(["--resume", str(out / "resnet8_fashion.h5"), "--epochs", "1",
                         "--lr", "1e-12", "--train-size", "128", "--test-images", "6",
                         "--batch-size", "64", "--out", str(again)]) == 0
    import tensorflow as tf

    def kernels(path):
        model = tf.keras.models.load_model(path, compile=False)
        return [w for w in model.get_weights() if w.ndim == 4]

    saved, resumed = out / "resnet8_fashion.h5", again / "resnet8_fashion.h5"
    for before, after in zip(kernels(saved), kernels(resumed)):
        np.testing.assert_allclose(after, before, atol=1e-6)
    with pytest.raises(SystemExit) as exit_info:
        fashion.main(["--resume", str(tmp_path / "missing.h5"), "--out", str(again)])
    assert exit_info.value.code == 2

    from sbtf.converters import cli as convert_cli
    from sbtf.micro import cli as micro_cli

    tflite = out / "resnet8_fashion.tflite"
    assert convert_cli.main([str(out / "resnet8_fashion.h5"), str(tflite),
                             "--calibration", str(out / "calibration.npy")]) == 0
    assert micro_cli.main(["run", str(tflite), "--board", "netduinoplus2",
                           "--input", str(out / "test_images.npy"),
                           "--output", str(out / "board.npy")]) == 0
    printed = capsys.readouterr().out
    assert "instructions per inference:" in printed and "flash:" in printed
    host = _module("digits/run_host.py")
    assert host.main([str(tflite), "--images", str(out / "test_images.npy"), "--labels",
                      str(out / "test_labels.npy"), "--board-output", str(out / "board.npy")]) == 0
    assert "identical on all 6 images" in capsys.readouterr().out


def test_fashion_mnist_example_without_the_dataset_exits_2(tmp_path):
    out = tmp_path / "out"
    result = _run("fashion_mnist/train.py", "--epochs", "1", "--out", str(out),
                  env={"SBTF_FASHION_MNIST_DIR": str(tmp_path)})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "dataset-fashion-mnist" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_demo_without_the_dataset_exits_2(tmp_path, monkeypatch, capsys):
    from sbtf import demo

    monkeypatch.setenv("SBTF_FASHION_MNIST_DIR", str(tmp_path))
    out = tmp_path / "demo"
    assert demo.main(["--dataset", "fashion-mnist", "--out", str(out)]) == 2
    assert "dataset-fashion-mnist" in capsys.readouterr().err
    assert not out.exists()
