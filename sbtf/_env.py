"""Make TensorFlow use Keras 2 (tf-keras), which larq needs. Import before TensorFlow."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
