"""Run a converted image classifier on the host (TFLite + sbtf's delegate) and score it.

    python examples/digits/run_host.py build/digits/digits.tflite \
        --images build/digits/test_images.npy --labels build/digits/test_labels.npy \
        [--board-output build/digits/board_out.npy]

Quantizes the float test images with the model's input scale / zero point, runs every image
through `sbtf.Interpreter` (TFLite's builtin kernels plus sbtf's C kernels for the SBTF ops),
prints the int8 model's accuracy, and writes the int8 outputs (`--output`). With
`--board-output` (the `sbtf-micro run --output` file of the same images) it checks that the
board computed the same int8 outputs bit for bit.

Exit status: 0 done (and, with --board-output, identical), 1 the board's outputs differ,
2 bad input.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import sbtf  # before TensorFlow: selects Keras 2 (tf-keras)
from sbtf.batch import as_batch
from sbtf.micro.runtime import quantize_inputs


def _load(path: str, what: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such {what} file")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the {what} as a .npy array: {e}") from None


def run(model_path: str, images: np.ndarray) -> np.ndarray:
    """int8 outputs [N, classes] of the converted model on float images [N, H, W, C]."""
    interpreter = sbtf.Interpreter(model_path=model_path)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
        raise ValueError(f"{model_path}: expected int8 input and output (sbtf-convert's default), "
                         f"got {inp['dtype'].__name__} / {out['dtype'].__name__}")
    images = as_batch(images, inp["shape"], "images")
    scale, zero_point = inp["quantization"]
    outputs = []
    for x in quantize_inputs(images, scale, zero_point):
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(out["index"])[0].copy())
    return np.stack(outputs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="converted .tflite")
    p.add_argument("--images", required=True, help="float images .npy [N, H, W, C]")
    p.add_argument("--labels", help="labels .npy [N] (to print the accuracy)")
    p.add_argument("--output", help="write the int8 outputs [N, 10] to this .npy")
    p.add_argument("--board-output", help="sbtf-micro run --output file to compare with")
    args = p.parse_args(argv)
    try:
        if not os.path.isfile(args.model):
            raise ValueError(f"{args.model}: no such model file")
        images = _load(args.images, "images").astype(np.float32)
        labels = _load(args.labels, "labels") if args.labels else None
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        board = _load(args.board_output, "board output") if args.board_output else None
        outputs = run(args.model, images)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"host (TFLite + sbtf delegate): {len(outputs)} images")
    if labels is not None:
        accuracy = float(np.mean(outputs.argmax(axis=1) == labels))
        print(f"int8 accuracy {accuracy:.4f}")
    if args.output:
        np.save(args.output, outputs)
        print(f"wrote {args.output}")
    if board is not None:
        board = board.reshape(len(board), -1)
        if board.shape != outputs.shape:
            print(f"error: board output has shape {list(board.shape)}, host {list(outputs.shape)}"
                  f" (run both on the same images)", file=sys.stderr)
            return 2
        differ = int(np.count_nonzero(np.any(board != outputs, axis=1)))
        if differ:
            print(f"board and host differ on {differ} of {len(outputs)} images", file=sys.stderr)
            return 1
        print(f"board and host int8 outputs identical on all {len(outputs)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
