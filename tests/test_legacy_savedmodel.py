"""Keras SavedModels written by TensorFlow < 2.5 (MLPerf Tiny's kws_ref_model/, TF 2.3) have no
keras_metadata.pb: each Keras object's JSON sits in its object-graph node of saved_model.pb.
They load, under the same rules as every format: no Lambda without unsafe=True, no foreign
Python modules, one-line errors."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tf_keras.protobuf import saved_metadata_pb2

import sbtf
from sbtf.converters import cli
from sbtf.converters.errors import ConversionError
from sbtf.converters.host import sbtf_operators
from sbtf.converters.loading import load_model


def _model(extra=None):
    inputs = tf.keras.Input((6, 6, 2))
    x = extra(inputs) if extra is not None else inputs
    x = sbtf.layers.SignedBinaryConv2D(8, 3, use_bias=False, name="sb",
                                       kernel_quantizer=sbtf.SignedBinaryQuantizer(metrics=[]))(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(tf.keras.layers.BatchNormalization()(x))
    return tf.keras.Model(inputs, tf.keras.layers.Dense(3, name="head")(x))


def _save_pre_tf25(model, folder, edit=None):
    """Save `model` as TF 2.3 did: the Keras metadata in saved_model.pb's object graph
    (SavedUserObject.metadata), no keras_metadata.pb. `edit(node_metadata_dict)` may alter it."""
    model.save(folder, save_format="tf")
    meta = saved_metadata_pb2.SavedMetadata()
    meta.ParseFromString((folder / "keras_metadata.pb").read_bytes())
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    nodes = saved.meta_graphs[0].object_graph_def.nodes
    for node in meta.nodes:
        assert nodes[node.node_id].user_object.identifier == node.identifier
        text = node.metadata
        if edit is not None:
            data = json.loads(text)
            edit(data)
            text = json.dumps(data)
        nodes[node.node_id].user_object.metadata = text
    (folder / "saved_model.pb").write_bytes(saved.SerializeToString())
    os.remove(folder / "keras_metadata.pb")
    return folder


def test_pre_tf25_savedmodel_loads_and_converts(tmp_path, capsys):
    tf.keras.utils.set_random_seed(4)
    model = _model()
    folder = _save_pre_tf25(model, tmp_path / "kws_ref_model")
    loaded = load_model(folder)
    x = np.random.default_rng(4).normal(size=(2, 6, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    out = tmp_path / "m.tflite"
    assert cli.main([str(folder), str(out), "--random-calibration"]) == 0, capsys.readouterr().err
    assert [n for _, _, n in sbtf_operators(out.read_bytes())] == ["SBTF_CONV_2D"]


def test_pre_tf25_savedmodel_with_a_lambda_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    path = str(marker)
    model = _model(tf.keras.layers.Lambda(
        lambda x: x + 0.0 * float(open(path, "w").close() is None), name="sneaky"))
    folder = _save_pre_tf25(model, tmp_path / "saved")
    if marker.exists():
        marker.unlink()  # created by building / saving, not by loading
    with pytest.raises(ConversionError, match=r"layer sneaky \(Lambda\).*--unsafe"):
        load_model(folder)
    assert not marker.exists()
    load_model(folder, unsafe=True)  # the user may opt in


def test_pre_tf25_savedmodel_naming_a_foreign_module_is_refused(tmp_path):
    def edit(node):
        if node.get("name") == "head":
            node["config"]["activation"] = {"module": "os", "class_name": "function",
                                            "config": "system"}

    folder = _save_pre_tf25(_model(), tmp_path / "saved", edit)
    with pytest.raises(ConversionError, match=r"from Python module 'os'.*--unsafe"):
        load_model(folder)


def test_savedmodel_without_keras_metadata_or_with_a_corrupt_graph(tmp_path):
    plain = tmp_path / "plain"
    tf.saved_model.save(tf.Module(), str(plain))
    with pytest.raises(ConversionError, match="holds no Keras model .*tf.saved_model.save"):
        load_model(plain)
    (plain / "saved_model.pb").write_bytes(b"\x0a\xff\xff\xff\xff garbage")
    with pytest.raises(ConversionError, match="cannot parse saved_model.pb"):
        load_model(plain)
