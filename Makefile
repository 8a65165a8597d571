# `make demo` and `make test` install what they need into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test install gpu-check

install: $(VENV)/.installed

$(VENV)/.installed: setup.py requirements/*.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[lite,tests]'
	touch $@

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest tests

# The GPU check (tools/gpu_check.py) in the Python found on the PATH: a GPU
# machine may bring its own torch.
gpu-check:
	python tools/gpu_check.py
