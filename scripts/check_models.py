"""Every .tflite in a folder through sbtf-micro vs TFLite's reference kernels: see
sbtf/micro/check_models.py (also `python -m sbtf.micro.check_models`)."""
import sys

from sbtf.micro.check_models import main

if __name__ == "__main__":
    sys.exit(main())
