# Two commands are all a fresh clone needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A range that admits the CPU wheel on this machine's disk (2.13.0) and not the CUDA 2.14 build;
# override on a GPU box, e.g. `make run TORCH_SPEC=torch`.
TORCH_SPEC ?= torch>=2.2,<2.14
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/bench run

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pytest tests/benchmarks --benchmark-only --benchmark-columns=min,mean,max,rounds -q

clean:
	rm -rf $(VENV) build *.egg-info
