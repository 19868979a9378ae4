# The two commands of the README: `make demo` and `make test`.
# Both create (or reuse) .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED_DATA := ../shared/data/fashion-products-19k
DATASET ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),ashraq/fashion-product-images-small)
# neither set: ingest's default, the fine-tuned model shipped in shared/models/shipped/fashion-lite.pt
MODEL ?=
WEIGHTS ?=
LIMIT ?=
DATA_DIR ?= data
PYTEST_ARGS ?=

MODEL_ARGS = $(if $(WEIGHTS),--weights $(WEIGHTS),$(if $(MODEL),--model $(MODEL),))
LIMIT_ARGS = $(if $(LIMIT),--limit $(LIMIT),)

.PHONY: demo test install ingest ui clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

ingest: install
	$(PY) -m ingest $(MODEL_ARGS) --dataset $(DATASET) $(LIMIT_ARGS) --data-dir $(DATA_DIR)

ui: install
	FASHION_DATA_DIR=$(DATA_DIR) $(VENV)/bin/streamlit run search_ui/main.py

demo: ingest ui

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(DATA_DIR) .pytest_cache
