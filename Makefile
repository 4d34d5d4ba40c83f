# neat-xbar: install, test, lint and run. Every target is idempotent; `make install` leaves a
# stamp in the virtual environment so a second run only checks that nothing changed.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.neat-xbar-installed
NGSPICE_PACKAGES := ngspice libngspice0 libngspice0-dev

.PHONY: install ngspice test lint characterize demo bench clean

install: $(STAMP)

# ngspice: the program and its shared library (the -dev package adds libngspice.so for PySpice).
ngspice:
	@if command -v ngspice >/dev/null 2>&1 && ldconfig -p | grep -q 'libngspice\.so'; then \
		echo "ngspice: $$(command -v ngspice)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(NGSPICE_PACKAGES) >/dev/null; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(NGSPICE_PACKAGES) >/dev/null; \
	else \
		echo "ngspice is missing: install the packages '$(NGSPICE_PACKAGES)' (e.g. sudo apt-get install $(NGSPICE_PACKAGES)), then rerun make"; \
		exit 1; \
	fi

$(STAMP): setup.cfg pyproject.toml | ngspice
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev,distributed]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

# The tree is formatted by ruff (no `# fmt: skip` pragmas fighting the formatter).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@! grep -rn --include='*.py' '# fmt: skip' --exclude-dir=.venv . || (echo "remove the '# fmt: skip' pragmas above: the formatter decides" && false)

# The HDF5 look-up table of every sweep preset in configs/ (a LUT already made from the same
# spec is kept; an interrupted run resumes).
characterize: install
	@mkdir -p luts
	@for spec in configs/*.toml; do \
		name=$$(basename $$spec .toml); \
		case $$name in experiment*) continue;; esac; \
		$(BIN)/neat characterize --preset $$name --out luts/$$name.h5 || exit 1; \
	done

# The main job: ResNet18 on the digits with the paper LUT, end to end (about 8 minutes on
# 2 cores with the install, a third of them with wires; a rerun reuses what exists), then
# the figures of the LUT.
demo: install
	$(BIN)/neat doctor
	$(BIN)/neat report experiment --config configs/experiment-digits.toml --out reports/demo
	$(BIN)/neat report lut reports/demo/lut.h5 --out reports/demo/lut
	@echo "report: reports/demo/report.md (figures beside it)"

# Every benchmark script under benchmarks/ (each prints a table and updates RESULTS.md).
bench: install
	@for script in benchmarks/[!_]*.py; do \
		echo "== $$script"; $(BIN)/python "$$script" || exit 1; \
	done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
