"""`make demo`: train the digits CNN, convert it, run it on simulated Cortex-M boards.

    python -m sbtf.demo [--dataset digits|fashion-mnist] [--epochs 10] [--train-size N]
                        [--test-size N] [--boards netduinoplus2,mps2-an386] [--out build/demo]

Every figure it prints is measured in this run: Keras accuracy, int8 accuracy on the host
(TFLite + sbtf's delegate), accuracy on each board (QEMU), flash / RAM / instructions per
inference next to the same model with plain int8 weights through the same runtime.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import sbtf
from sbtf.converters.convert import convert_with_report
from sbtf.data import DATASETS, DatasetMissing, load
from sbtf.micro import hostref, runtime
from sbtf.models import digits_cnn, train

DEFAULT_BOARDS = ("netduinoplus2", "mps2-an386")


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(outputs.reshape(len(labels), -1), axis=1) == labels))


def kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--boards", default=",".join(DEFAULT_BOARDS))
    parser.add_argument("--out", type=Path, default=Path("build/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on the first N training images (default: all)")
    parser.add_argument("--test-size", type=int, default=None,
                        help="run the first N test images (default: all; fashion-mnist: 500)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.test_size is None and args.dataset == "fashion-mnist":
        args.test_size = 500  # 10,000 board inferences would take minutes
    try:
        data = load(args.dataset, seed=args.seed, train_size=args.train_size,
                    test_size=args.test_size)
    except (DatasetMissing, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    boards = [b for b in args.boards.split(",") if b]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    (x_train, _), (x_test, y_test) = data
    print(f"== 1. Train the digits CNN (every 3x3 conv signed-binary) on {args.dataset} "
          f"({len(x_train)} training images of {'x'.join(map(str, x_train.shape[1:]))})")
    tf.keras.utils.set_random_seed(args.seed)
    model = digits_cnn(input_shape=x_train.shape[1:])
    keras_acc = train(model, data, epochs=args.epochs, verbose=1)
    model.save(args.out / "digits.h5")
    np.save(args.out / "calibration.npy", x_train[:256])
    summary = sbtf.summary(model)
    sb = [r for r in summary.layers if r.weight_format == "signed-binary"]
    sparsity = sum(r.sparsity * r.c_out * r.k for r in sb) / sum(r.c_out * r.k for r in sb)

    print("\n== 2. Convert to int8 TFLite with signed-binary custom ops")
    result = convert_with_report(model, representative_data=x_train[:256])
    (args.out / "digits.tflite").write_bytes(result.tflite)
    (args.out / "digits_int8.tflite").write_bytes(result.int8_tflite)
    print(result.report)

    print("\n== 3. Run the test split on the host (TFLite + sbtf delegate)")
    x_int8 = runtime.quantize_inputs(x_test, *hostref.input_quantization(result.tflite))
    host = hostref.run_sbtf_interpreter(result.tflite, x_int8)
    host_acc = accuracy(host, y_test)

    print(f"\n== 4. Run the test split on simulated boards: {', '.join(boards)}")
    rows, record = [], {"keras_accuracy": keras_acc, "host_int8_accuracy": host_acc,
                        "sparsity": sparsity, "boards": {}}
    for board in boards:
        run = runtime.run_model(result.tflite, board, x_int8, out_dir=args.out / board)
        twin = runtime.run_model(result.int8_tflite, board, x_int8[:4],
                                 out_dir=args.out / f"{board}-int8")
        same = np.array_equal(run.outputs.reshape(host.shape), host)
        board_acc = accuracy(run.outputs, y_test)
        # Flash/RAM of the deployable firmware (one input, not the test batch), both models.
        mem, twin_mem = (runtime.fit_report(t, board) for t in (result.tflite, result.int8_tflite))
        rows.append((board, board_acc, same, run, twin, mem, twin_mem))
        record["boards"][board] = {
            "accuracy": board_acc, "bit_exact_with_host": bool(same),
            "instructions": run.instructions_per_inference,
            "int8_instructions": twin.instructions_per_inference,
            "flash": mem.flash, "int8_flash": twin_mem.flash,
            "ram": mem.ram, "int8_ram": twin_mem.ram,
        }
        print(f"   {board}: {len(y_test)} inferences, accuracy {board_acc:.4f}, "
              f"outputs {'equal' if same else 'DIFFER from'} the host's bit for bit")

    print("\n== Results")
    print(f"   test images                  {len(y_test)}")
    print(f"   accuracy Keras (float)       {keras_acc:.4f}")
    print(f"   accuracy host int8 + sbtf    {host_acc:.4f}")
    print(f"   signed-binary sparsity       {sparsity:.1%} of the signed-binary weights are zero")
    print(f"   weights on flash             {summary.sbtf_bytes} B sbtf vs {summary.int8_bytes} B "
          f"int8 (whole model, {summary.compression:.2f}x smaller)")
    print(f"   .tflite file                 {len(result.tflite)} B vs {len(result.int8_tflite)} B int8")
    header = f"   {'board':<15}{'accuracy':>9}{'bit-exact':>10}{'instr/inference':>26}" \
             f"{'flash':>24}{'RAM':>24}"
    print(header)
    for board, acc, same, run, twin, mem, twin_mem in rows:
        print(f"   {board:<15}{acc:>9.4f}{'yes' if same else 'NO':>10}"
              f"{run.instructions_per_inference:>12} vs {twin.instructions_per_inference:<10}"
              f"{kib(mem.flash):>11} vs {kib(twin_mem.flash):<9}"
              f"{kib(mem.ram):>11} vs {kib(twin_mem.ram):<9}")
    print("   (each 'a vs b': signed-binary vs the same model with plain int8 weights, same runtime)")
    record["dataset"] = args.dataset
    record["seconds"] = round(time.time() - started, 1)
    (args.out / "demo.json").write_text(json.dumps(record, indent=1))
    print(f"\nDone in {record['seconds']} s; files in {args.out}/ (demo.json has every figure).")
    failed = [row[0] for row in rows if not row[2]]
    if failed:
        print(f"error: board outputs differ from the host on {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
