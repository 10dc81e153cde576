"""Loading a Keras model from a file without running code from it.

A `.h5`, `.keras` or SavedModel file is untrusted input. Keras's Lambda layer stores Python
bytecode that deserialization would execute, so every format's model config is inspected
*before* Keras deserializes anything, and a Lambda layer is refused unless `unsafe=True`.
`.keras` files also load with Keras's own `safe_mode`. Every failure is a one-line
ConversionError naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import zipfile

# Importing larq and sbtf registers their layers and quantizers with Keras.
import larq  # noqa: F401
import tensorflow as tf

import sbtf  # noqa: F401
from sbtf.converters.errors import ConversionError

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_UNSAFE_CLASSES = ("Lambda",)
# `.keras` configs name the Python module of each object and Keras imports it; only these
# packages (and their submodules) may be named.
_SAFE_MODULES = ("keras", "tf_keras", "tensorflow", "builtins", "larq", "sbtf")


def _unsafe_objects(config) -> list[str]:
    """Objects in a Keras config (any nesting) whose deserialization would run Python code:
    Lambda layers (stored bytecode), objects from modules outside `_SAFE_MODULES`, and names
    that are dotted paths (e.g. a "function" `os.system` under an sbtf module)."""
    found = []
    stack = [config]  # iterative: a hostile config may nest deeper than Python's recursion
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cfg = node.get("config") if isinstance(node.get("config"), dict) else {}
            if node.get("class_name") in _UNSAFE_CLASSES:
                found.append(f"layer {cfg.get('name', '?')} ({node['class_name']})")
            module = node.get("module")
            if isinstance(module, str):
                names = [node.get("class_name"), node.get("registered_name")]
                if node.get("class_name") == "function":
                    names.append(node.get("config"))
                dotted = [n for n in names if isinstance(n, str) and "." in n]
                if module.split(".")[0] not in _SAFE_MODULES:
                    found.append(f"{node.get('class_name', '?')} from Python module {module!r}")
                elif dotted:
                    found.append(f"{dotted[0]!r} (a dotted path) under Python module {module!r}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _refuse_unsafe(path, config, unsafe: bool) -> None:
    if unsafe:
        return
    bad = _unsafe_objects(config)
    if bad:
        raise ConversionError(
            f"{path}: refusing to load: {', '.join(bad)} would run Python code named by the "
            f"file; pass --unsafe (unsafe=True) only if you trust its author"
        )


def _parse_json(path, text, what) -> dict:
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path}: {what} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ConversionError(f"{path}: {what} is nested too deeply") from None


def _h5_config(path) -> dict:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as exc:
        raise ConversionError(
            f"{path}: cannot read HDF5 file (truncated or corrupt?): " f"{_first_line(exc)}"
        ) from None
    if raw is None:
        raise ConversionError(
            f"{path}: HDF5 file has no model_config (a weights-only file? "
            f"save the whole model with model.save)"
        )
    return _parse_json(path, raw, "HDF5 model_config")


def _keras_zip_config(path) -> dict:
    try:
        with zipfile.ZipFile(path) as z:
            raw = z.read("config.json")
    except KeyError:
        raise ConversionError(f"{path}: .keras archive has no config.json") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConversionError(
            f"{path}: cannot read .keras archive (truncated or corrupt?): " f"{_first_line(exc)}"
        ) from None
    return _parse_json(path, raw, "config.json")


def _saved_model_config(path) -> dict | None:
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ConversionError(f"{path}: folder is not a SavedModel (no saved_model.pb)")
    meta = os.path.join(path, "keras_metadata.pb")
    if not os.path.isfile(meta):
        return _legacy_saved_model_config(path)
    with open(meta, "rb") as f:
        raw = f.read()
    # keras_metadata.pb is a protobuf whose string fields hold each layer's JSON metadata.
    # A substring test over the raw bytes cannot miss a Lambda, whatever the nesting.
    for cls in _UNSAFE_CLASSES:
        if f'"class_name": "{cls}"'.encode() in raw:
            return {"class_name": cls, "config": {"name": "(in keras_metadata.pb)"}}
    return None


def _legacy_saved_model_config(path) -> dict:
    """The Keras metadata of a SavedModel written by TensorFlow < 2.5 (no keras_metadata.pb: each
    Keras object's JSON is in its object-graph node in saved_model.pb, where tf.keras finds it
    too), as one config for `_refuse_unsafe`."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            saved.ParseFromString(f.read())
    except Exception as exc:  # noqa: BLE001 (protobuf's DecodeError, OSError)
        raise ConversionError(f"{path}: cannot parse saved_model.pb: {_first_line(exc)}") from None
    nodes = [
        node.user_object
        for graph in saved.meta_graphs[:1]
        for node in graph.object_graph_def.nodes
        if node.WhichOneof("kind") == "user_object"
        and node.user_object.identifier.startswith("_tf_keras_")
        and node.user_object.metadata
    ]
    if not nodes:
        raise ConversionError(
            f"{path}: SavedModel holds no Keras model (no keras_metadata.pb and no Keras "
            f"metadata in saved_model.pb: written by tf.saved_model.save?); sbtf-convert needs "
            f"a Keras model saved with model.save()"
        )
    return {"layers": [_parse_json(path, n.metadata, f"Keras metadata of {n.identifier}")
                       for n in nodes]}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def model_format(path) -> str:
    """"savedmodel", "h5" or "keras" from the path and the file's first bytes (cheap, no loading).

    Raises ConversionError for a missing path or a file that is not a Keras model.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConversionError(f"{path}: no such file or folder")
    if os.path.isdir(path):
        return "savedmodel"
    with open(path, "rb") as f:
        head = f.read(8)
    if head == _HDF5_SIGNATURE:
        return "h5"
    if head[:4] == b"PK\x03\x04" or path.endswith(".keras"):
        return "keras"
    raise ConversionError(
        f"{path}: not a Keras model (expected an HDF5 .h5 file, a "
        f".keras archive or a SavedModel folder)"
    )


def load_model(path, *, unsafe: bool = False) -> tf.keras.Model:
    """Load a Keras model from `.h5`, `.keras` or a SavedModel folder without running its code.

    Raises ConversionError (one line, naming the file) for a missing or unreadable file, a file
    that is not a Keras model, unknown custom layers, or a Lambda layer (unless `unsafe`).
    """
    path = os.fspath(path)
    fmt = model_format(path)
    safe_mode = None
    if fmt == "savedmodel":
        config = _saved_model_config(path)
        if config is not None:
            _refuse_unsafe(path, config, unsafe)
    elif fmt == "h5":
        _refuse_unsafe(path, _h5_config(path), unsafe)
    else:
        _refuse_unsafe(path, _keras_zip_config(path), unsafe)
        safe_mode = not unsafe
    kwargs = {"compile": False}
    if safe_mode is not None:
        kwargs["safe_mode"] = safe_mode
    try:
        model = tf.keras.models.load_model(path, **kwargs)
    # Keras raises many exception types; all mean "this file does not load".
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"{path}: cannot load the model: {_first_line(exc)}") from None
    if not isinstance(model, tf.keras.Model):
        raise ConversionError(f"{path}: does not hold a Keras model (got {type(model).__name__})")
    return model
