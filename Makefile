# treeflow — the two commands of the quick start:
#   make demo   run the flagship job (blogs + nested comments -> SQLite), verified
#   make test   build and run every test
#   make bench  the benchmark suite (limit, engine, peers): bench/README.md
# Each installs what it needs (Debian 12) first.

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
DATA ?= data/warehouse.json
PAGE_SIZE ?= 100
FLAKY ?= 0
TARGET ?=
KEEP ?= 0

.PHONY: all deps build test demo soak sim asan fuzz fuzz-long clean format bench

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	scripts/demo.sh --build $(BUILD) --data $(DATA) --page-size $(PAGE_SIZE) \
	  --flaky $(FLAKY) $(if $(TARGET),--target $(TARGET)) $(if $(filter 1,$(KEEP)),--keep)

# The kill -9 soak: the flagship job with 20% failing calls, the engine killed
# at random moments KILLS times; the copy must be exact.
KILLS ?= 20
soak: build
	scripts/demo.sh --build $(BUILD) --data $(DATA) --page-size 50 --flaky 0.2 --kill $(KILLS)

# The benchmark suite: a Release build of the engine, then bench/run.sh (about
# 3 minutes once installed; prints the table and writes bench/results/latest.json).
bench:
	scripts/install-deps.sh --bench
	cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DTREEFLOW_TESTS=OFF -DTREEFLOW_EXAMPLES=OFF
	cmake --build build-release --target treeflow -j $(JOBS)
	bench/run.sh build-release

# The deterministic simulation, longer than in `make test` (2,000 seeds).
SEEDS ?= 100000
sim: build
	TREEFLOW_SIM_SEEDS=$(SEEDS) $(BUILD)/tests/sim_tests

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS=-DTREEFLOW_SANITIZE=ON

# libFuzzer targets (fuzz/README.md), built with clang in build-fuzz/:
# `make fuzz` runs each briefly and reproducibly (CI: 1,000,000 inputs from a
# fixed seed, at most 300 s), `make fuzz-long` explores for FUZZ_SECONDS each.
FUZZ_SECONDS ?= 600
fuzz:
	scripts/install-deps.sh --fuzz
	FUZZ_RUNS=1000000 fuzz/run.sh 300

fuzz-long:
	scripts/install-deps.sh --fuzz
	fuzz/run.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build build-asan build-release build-fuzz
