"""sbtf: signed-binary weight networks from Keras to Cortex-M.

`converters/` ships inside the same distribution as `sbtf.converters` (see package_dir), so no
generic top-level name like `converters` lands in site-packages.
"""
import glob

from setuptools import Extension, setup

# sbtf's TFLite delegate plugin (docs/host.md): a plain C shared library, loaded with dlopen by
# tf.lite.experimental.load_delegate, built from the same kernel sources as the micro builds.
# Optional, so a machine without a C compiler still installs the Python package; then
# sbtf.load_delegate() explains how to build it. --no-undefined turns a missing kernel source
# into a build error instead of a library that fails to load.
delegate_plugin = Extension(
    "sbtf._delegate",
    sources=sorted(glob.glob("micro/delegate/*.c")) + sorted(glob.glob("micro/src/*.c")),
    include_dirs=["micro/include", "micro/delegate"],
    depends=sorted(glob.glob("micro/include/*.h") + glob.glob("micro/src/*.h")
                   + glob.glob("micro/delegate/*.h")),
    extra_compile_args=["-std=c99", "-O2", "-Wall", "-Wextra", "-fvisibility=hidden"],
    extra_link_args=["-Wl,--no-undefined"],
    libraries=["m"],
    optional=True,
)

setup(
    name="sbtf",
    version="0.1.0",
    description="Signed-binary weight networks: Keras training, int8 TFLite conversion, Cortex-M kernels",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.12",
    packages=["sbtf", "sbtf.converters", "sbtf.micro", "sbtf.micro.codegen"],
    py_modules=["sbtf_convert"],  # the console script's TensorFlow-free argument checks
    package_dir={"sbtf": "sbtf", "sbtf.converters": "converters"},
    include_package_data=True,
    ext_modules=[delegate_plugin],
    install_requires=[
        "tensorflow==2.21.0",
        "tf-keras==2.21.0",
        "larq==0.14.0",
        "larq-compute-engine==0.16.0",
        "tensorflow-model-optimization==0.8.1",
        "numpy<2",
        "flatbuffers",
        "h5py",
    ],
    extras_require={
        "dev": ["pytest", "ruff", "black", "scikit-learn", "matplotlib"],
    },
    entry_points={
        "console_scripts": [
            "sbtf-convert=sbtf_convert:main",
            "sbtf-micro=sbtf.micro.cli:main",
        ]
    },
)
