# Front door: `make` builds, `make test` runs every test layer through CTest.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all build test unit integration e2e faults cluster-faults clean image bench bench-quick

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -L 'unit|integration|e2e'

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

e2e: build
	cd $(BUILD) && ctest --output-on-failure -L e2e

image:
	./build.sh

# The fault suite on the real image (tests/faults/faults.sh): every fault,
# ROUNDS times, with the table of what each cost. CTest runs a quick subset.
ROUNDS ?= 3
faults: build
	E2E_SKIP_BUILD=$${E2E_SKIP_BUILD:-0} FAULTS_WORKLOAD=$(abspath $(BUILD))/tests/faults/pgkeeper-workload \
	  bash tests/faults/faults.sh --rounds $(ROUNDS)

# The cluster-mode fault suite on sample/failover (tests/faults/cluster_faults.sh):
# kills, cuts and switchovers under load with a split-brain probe.
cluster-faults: build
	E2E_SKIP_BUILD=$${E2E_SKIP_BUILD:-0} FAULTS_WORKLOAD=$(abspath $(BUILD))/tests/faults/pgkeeper-workload \
	  FAULTS_PROBE=$(abspath $(BUILD))/tests/faults/pgkeeper-probe \
	  bash tests/faults/cluster_faults.sh --rounds $(ROUNDS)

# Benchmarks against raw PostgreSQL in the same run (bench/bench.py).
bench: build
	python3 bench/bench.py

bench-quick: build
	python3 bench/bench.py --quick

clean:
	rm -rf $(BUILD)
