"""sbtf.experiments (the paper's comparison, the threshold sweep) and sbtf.plots."""
import json

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import sbtf
from sbtf import experiments, plots
from sbtf._summary import row_bytes

# Short runs: 5 epochs on digits take ~5-10 s per model on 2 cores. Over seeds 0-2 they gave
# float/binary/ternary 0.98-1.00 and signed-binary 0.955-0.958 (it learns more slowly; 15
# epochs reach ~0.98), so the bounds below leave a margin of >= 0.05 for other machines.
EPOCHS = 5
MIN_ACCURACY = {"float": 0.9, "binary": 0.9, "ternary": 0.9, "signed-binary": 0.85}


@pytest.fixture(scope="module")
def comparison():
    return experiments.compare(epochs=EPOCHS, seeds=[0], log=None)


@pytest.fixture(scope="module")
def sweep():
    return experiments.threshold_sweep(thresholds=[0.01, 0.5], epochs=2, seeds=[0], log=None)


def _png(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    image = plots.plt.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 400
    assert image.std() > 0.05, "blank image"


def _conv_config(layer):
    """A conv layer's Conv2D config without what may differ between methods (its name and the
    weight clip that goes with a quantizer); larq layers must not quantize or pad otherwise."""
    config = layer.get_config()
    assert config.get("input_quantizer") is None and config.get("pad_values", 0.0) == 0.0
    keys = set(tf.keras.layers.Conv2D(1, 1).get_config()) - {"name", "kernel_constraint"}
    return {key: config[key] for key in keys}


QUANTIZER_OF_METHOD = {"float": type(None), "binary": lq.quantizers.SteSign,
                       "ternary": lq.quantizers.SteTern,
                       "signed-binary": sbtf.SignedBinaryQuantizer}


@pytest.mark.parametrize("method", experiments.METHODS)
def test_methods_differ_only_in_the_conv_kernel_quantizer(method):
    """Each variant is `sbtf.models.digits_cnn` (signed-binary) with only the convs' weight
    quantizer swapped: same layers, configs, weight shapes."""
    model = experiments.digits_model(method)
    reference = sbtf.models.digits_cnn()
    assert [type(layer) for layer in model.layers if not isinstance(
        layer, tf.keras.layers.Conv2D)] == [type(layer) for layer in reference.layers
                                            if not isinstance(layer, tf.keras.layers.Conv2D)]
    assert len(model.layers) == len(reference.layers)
    assert [w.shape for w in model.trainable_weights] == [
        w.shape for w in reference.trainable_weights]
    for a, b in zip(model.layers, reference.layers):
        assert isinstance(a, tf.keras.layers.Conv2D) == isinstance(b, tf.keras.layers.Conv2D)
        if isinstance(a, tf.keras.layers.Conv2D):
            assert _conv_config(a) == _conv_config(b), a.name
        else:
            config_a, config_b = a.get_config(), b.get_config()
            config_a.pop("name"), config_b.pop("name")
            assert config_a == config_b, a.name
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 32, 64]
    for conv in convs:
        assert isinstance(getattr(conv, "kernel_quantizer", None), QUANTIZER_OF_METHOD[method])


def _set_kernels(convs):
    """|w| in {0.1, 1.0}, half and half: TWN's Δ = 0.7 * mean|w| = 0.385 zeroes the 0.1s."""
    for conv in convs:
        w = np.full(conv.kernel.shape, 0.1, np.float32)
        w.reshape(-1)[::2] = -1.0
        conv.kernel.assign(w)


def test_weight_stats_counts_the_inference_kernels():
    model = experiments.digits_model("ternary")
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    _set_kernels(convs)
    stats = experiments.weight_stats(model)
    assert stats["conv_weights"] == 9 * 32 + 288 * 32 + 288 * 64
    assert stats["conv_nonzero"] == sum((c.kernel.shape.num_elements() + 1) // 2 for c in convs)
    assert stats["total_weights"] == stats["conv_weights"] + 64 * 10
    assert stats["total_nonzero"] == stats["conv_nonzero"] + np.count_nonzero(
        model.layers[-1].kernel.numpy())
    # Two bit planes of sbtf's padded mask rows per filter.
    bits = 2 * 8 * (32 * row_bytes(9) + 32 * row_bytes(288) + 64 * row_bytes(288))
    assert stats["conv_bits_per_weight"] == pytest.approx(bits / stats["conv_weights"])
    assert stats["int8_bytes"] == stats["flash_bytes"]  # ternary convs deploy as int8


def test_first_conv_float_keeps_the_first_conv_int8():
    model = experiments.digits_model("signed-binary", first_conv="float")
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert type(convs[0]) is tf.keras.layers.Conv2D
    assert all(isinstance(c, sbtf.SignedBinaryConv2D) for c in convs[1:])
    stats = experiments.weight_stats(model)
    assert stats["conv_layer_sparsity"][0] < 0.01  # float weights: (almost) never exactly 0
    bits = 8 * 9 * 32 + 8 * (32 * row_bytes(288) + 64 * row_bytes(288)) + 8 * (32 + 64)
    assert stats["conv_bits_per_weight"] == pytest.approx(bits / stats["conv_weights"])
    with pytest.raises(ValueError, match="first_conv must be one of"):
        experiments.digits_model("binary", first_conv="int4")
    with pytest.raises(ValueError, match="first_conv must be one of"):
        sbtf.models.digits_cnn(first_conv="int4")


def test_unknown_method_and_bad_thresholds_are_rejected():
    with pytest.raises(ValueError, match="Unknown method 'quaternary'"):
        experiments.compare(methods=["quaternary"], epochs=1, seeds=[0])
    with pytest.raises(ValueError, match=r"thresholds must lie in \(0, 1\)"):
        experiments.threshold_sweep(thresholds=[0.0, 0.1], epochs=1, seeds=[0])
    with pytest.raises(ValueError, match="epochs"):
        experiments.compare(epochs=0, seeds=[0])


@pytest.mark.slow
def test_comparison_accuracies_and_nonzeros(comparison):
    r = comparison["methods"]
    assert list(r) == list(experiments.METHODS)
    for method, minimum in MIN_ACCURACY.items():
        assert r[method]["accuracy_mean"] >= minimum, (method, r[method]["accuracy"])
    # Binary and float weights are all non-zero (ste_sign maps 0 to +1); ternary has zeros;
    # signed-binary has more zeros still (every weight of the wrong sign is 0).
    assert r["binary"]["conv_nonzero"] == r["binary"]["conv_weights"]
    assert r["ternary"]["conv_nonzero"] < r["binary"]["conv_nonzero"]
    assert r["signed-binary"]["conv_nonzero"] < r["ternary"]["conv_nonzero"]
    assert r["signed-binary"]["conv_nonzero_fraction"] < 0.5
    # Signed-binary deploys ~1 bit per weight; the others deploy as int8.
    assert r["signed-binary"]["flash_bytes"] < r["float"]["flash_bytes"] / 4
    assert r["binary"]["flash_bytes"] == r["float"]["flash_bytes"]
    table = experiments.format_compare(comparison)
    assert all(m in table for m in experiments.METHODS)


@pytest.mark.slow
def test_threshold_sweep_sparsity_grows_with_threshold(sweep):
    low, high = sweep["points"]
    assert (low["threshold"], high["threshold"]) == (0.01, 0.5)
    assert 0.5 < low["sparsity"] < high["sparsity"] < 1.0
    assert len(low["layer_sparsity"]) == 3
    assert all(a < b for a, b in zip(low["layer_sparsity"], high["layer_sparsity"]))
    assert "0.01" in experiments.format_sweep(sweep)


@pytest.mark.slow
def test_cli_writes_json_and_rejects_bad_options(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    argv = ["threshold-sweep", "--thresholds", "0.2", "--epochs", "1", "--seeds", "3",
            "--out", str(out)]
    assert experiments.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["experiment"] == "threshold-sweep"
    assert [p["threshold"] for p in result["points"]] == [0.2]
    assert result["config"]["seeds"] == [3]
    assert "Threshold" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        experiments.main(["threshold-sweep", "--thresholds", "1.5", "--out", str(out)])
    assert e.value.code == 2
    assert "--thresholds must lie in (0, 1)" in capsys.readouterr().err


@pytest.mark.slow
def test_plots_write_pngs(comparison, sweep, tmp_path, capsys):
    compare_json, sweep_json = tmp_path / "compare.json", tmp_path / "sweep.json"
    experiments.write_json(comparison, str(compare_json))
    experiments.write_json(sweep, str(sweep_json))
    out = tmp_path / "plots"
    assert plots.main(["compare", "--json", str(compare_json), "--out", str(out)]) == 0
    assert plots.main(["threshold", "--json", str(sweep_json), "--out", str(out)]) == 0
    assert plots.main(["layers", "--model", "digits", "--epochs", "1", "--out", str(out)]) == 0
    for name in ("compare.png", "threshold.png", "layers_digits.png"):
        _png(out / name)


def test_plots_reject_wrong_json(tmp_path, capsys):
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"experiment": "compare", "methods": {}}))
    assert plots.main(["threshold", "--json", str(wrong), "--out", str(tmp_path)]) == 2
    assert "expected results of `python -m sbtf.experiments threshold-sweep`" in (
        capsys.readouterr().err)
    assert plots.main(["layers", "--h5", str(tmp_path / "missing.h5"),
                       "--out", str(tmp_path)]) == 2
    assert "missing.h5: no such model file" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("arch", list(experiments.ARCHITECTURES))
def test_compared_weights_and_equal_nonzero_widths(arch):
    """`compared_weights` counts what `weight_stats` counts in the built model, and the
    equal-non-zero widths land within 5 % of the target (one scale, rounded widths)."""
    for widths, first_conv in (((32, 32, 64), "quantized"), ((11, 21, 43), "float")):
        model = experiments.build_model(arch, "binary", input_shape=(28, 28, 1), widths=widths,
                                        first_conv=first_conv)
        stats = experiments.weight_stats(model)
        assert stats["compared_weights"] == stats["compared_nonzero"] == (
            experiments.compared_weights(arch, widths, 1, first_conv))
    base = experiments.ARCHITECTURES[arch]
    full = experiments.compared_weights(arch, base, 1, "float")
    for fraction in (1.0, 0.6):
        widths = experiments.equal_nonzero_widths(arch, 0.3 * full, fraction,
                                                  first_conv="float")
        assert all(w < b for w, b in zip(widths, base))
        got = fraction * experiments.compared_weights(arch, widths, 1, "float")
        assert abs(got - 0.3 * full) / (0.3 * full) < 0.05, (widths, got)


@pytest.fixture(scope="module")
def fashion_smoke():
    """The Fashion-MNIST comparison on a tiny subset (the full runs: docs/results.md)."""
    data = sbtf.data.load("fashion-mnist", train_size=192, test_size=128)
    return experiments.compare(dataset="fashion-mnist", data=data, epochs=1, seeds=[0],
                               equal_nonzero=True, distill=True, first_conv="float",
                               batch_size=64, log=None)


def test_fashion_comparison_smoke(fashion_smoke, tmp_path):
    r = fashion_smoke["methods"]
    assert list(r) == [*experiments.METHODS, "binary-eq", "ternary-eq"]
    assert fashion_smoke["config"]["input_shape"] == [28, 28, 1]
    assert fashion_smoke["config"]["train_images"] == 192
    # The first conv is float in every net: the compared convs are the other two.
    assert r["float"]["compared_weights"] == 9 * (32 * 32 + 32 * 64)
    target = r["signed-binary"]["compared_nonzero_mean"]
    assert target < 0.55 * r["signed-binary"]["compared_weights"]
    for method in ("binary-eq", "ternary-eq"):
        assert r[method]["widths"] < r[method.removesuffix("-eq")]["widths"]
        # Ternary's zeros vary with training: its non-zeros match to within 10 %.
        assert abs(r[method]["compared_nonzero_mean"] - target) < 0.1 * target, method
    assert r["binary-eq"]["compared_nonzero"] == r["binary-eq"]["compared_weights"]
    for method in r:
        assert 0.0 <= r[method]["accuracy_mean"] <= 1.0
    table = experiments.format_compare(fashion_smoke)
    assert "binary-eq" in table and "fashion-mnist (192 train / 128 test images)" in table
    out = tmp_path / "compare.json"
    experiments.write_json({"experiment": "compare", "architectures": [fashion_smoke]}, str(out))
    assert plots.main(["compare", "--json", str(out), "--out", str(tmp_path)]) == 0
    _png(tmp_path / "compare.png")


def test_ablation_smoke():
    data = sbtf.data.load("fashion-mnist", train_size=128, test_size=128)
    rows = [experiments.ABLATION[0], ("2x epochs", {"epochs": "2x"})]
    result = experiments.ablation(data=data, epochs=1, seeds=[0], rows=rows, log=None,
                                  first_conv="float", batch_size=64)
    assert [r["name"] for r in result["rows"]] == ["base", "2x epochs"]
    assert result["rows"][1]["change"] == {"epochs": 2}
    assert result["config"]["first_conv"] == "float"
    assert 0.0 <= result["float"]["accuracy_mean"] <= 1.0
    table = experiments.format_ablation(result)
    assert "float net (teacher)" in table and "+0.00" in table


def test_cli_rejects_missing_dataset_with_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SBTF_FASHION_MNIST_DIR", str(tmp_path))
    out = tmp_path / "compare.json"
    assert experiments.main(["compare", "--dataset", "fashion-mnist", "--out", str(out)]) == 2
    assert "dataset-fashion-mnist" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit) as e:
        experiments.main(["compare", "--arch", "vgg", "--out", str(out)])
    assert e.value.code == 2


def test_cli_weight_decay_reaches_every_compared_conv(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake_compare(**options):
        seen.update(options)
        model = experiments.build_model("digits_cnn", "binary", input_shape=(8, 8, 1),
                                        weight_decay=options.get("weight_decay", 0.0))
        seen["penalties"] = len(model.losses)
        return {"experiment": "compare", "config": {}, "methods": {}, "elapsed_s": 0.0}

    monkeypatch.setattr(experiments, "compare", fake_compare)
    monkeypatch.setattr(experiments, "format_compare", lambda r: "")
    out = str(tmp_path / "c.json")
    assert experiments.main(["compare", "--weight-decay", "1e-4", "--out", out]) == 0
    assert seen["weight_decay"] == 1e-4
    assert seen["penalties"] == 3  # the three compared 3x3 convs, nothing else
    seen.clear()
    assert experiments.main(["compare", "--out", out]) == 0
    assert "weight_decay" not in seen  # the architecture's own default
    with pytest.raises(SystemExit) as e:
        experiments.main(["compare", "--weight-decay", "-1", "--out", out])
    assert e.value.code == 2
    assert "--weight-decay must lie in [0, 1)" in capsys.readouterr().err


def test_equal_nonzero_to_an_earlier_runs_signed_binary(fashion_smoke, tmp_path, capsys):
    earlier = tmp_path / "earlier.json"
    experiments.write_json(fashion_smoke, str(earlier))
    target = fashion_smoke["methods"]["signed-binary"]["compared_nonzero_mean"]
    assert experiments.nonzero_target_from(earlier, "digits_cnn", "fashion-mnist") == target
    out = tmp_path / "eq.json"
    argv = ["compare", "--dataset", "fashion-mnist", "--first-conv", "float", "--train-size",
            "128", "--test-size", "64", "--epochs", "1", "--seeds", "0", "--batch-size", "64",
            "--equal-nonzero-to", str(earlier), "--out", str(out)]
    assert experiments.main(argv) == 0
    r = json.loads(out.read_text())["methods"]
    assert list(r) == ["binary-eq"]  # nothing re-trained; ternary-eq needs a ternary run
    assert r["binary-eq"]["widths"] == list(fashion_smoke["methods"]["binary-eq"]["widths"])
    for text, why in (("{", "not a readable compare JSON"),
                      ('{"config": {"arch": "digits_cnn", "dataset": "fashion-mnist"}, '
                       '"methods": []}', "has no signed-binary compared_nonzero_mean"),
                      ('{"config": {"arch": "resnet8", "dataset": "fashion-mnist"}}',
                       "no compare run of digits_cnn on fashion-mnist")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        assert experiments.main([*argv[:-4], "--equal-nonzero-to", str(bad), "--out",
                                 str(out)]) == 2
        assert why in capsys.readouterr().err
