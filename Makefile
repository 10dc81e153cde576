# The two commands the README leads with. Each does its own set-up (idempotent).
PY := .venv/bin/python
export TF_USE_LEGACY_KERAS := 1

.PHONY: setup demo test bench lint clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m sbtf.demo

test: setup
	$(PY) -m pytest -q -ra --durations=25 tests

# Benchmarks print tables and write JSON under build/bench/; figures, never asserts.
bench: setup
	@mkdir -p build/bench
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

lint: setup
	$(PY) -m ruff check sbtf converters tests bench examples scripts

clean:
	rm -rf build
