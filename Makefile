# duplex — the two commands a newcomer needs:
#   make demo   installs what is missing, builds, runs the demo
#   make test   installs what is missing, builds, runs every test (and again under ASan+UBSan)
#   make package builds build/duplex_<version>_amd64.deb (README, "Install")
#   make fuzz   builds the libFuzzer targets (clang) and runs each for FUZZ_SECONDS (fuzz/README.md)
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build build-asan build-fuzz demo test test-fast test-asan fuzz format format-check clean \
  package

all: build

deps:
	@scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/Makefile: CMakeLists.txt | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUPLEX_SANITIZE=ON

build-asan: deps $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# The fuzz tree: clang, every library instrumented; ccache when installed (a warm cache turns
# the build into links). Only the fuzz targets are built.
$(FUZZ_BUILD)/Makefile: CMakeLists.txt | deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUPLEX_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

build-fuzz: deps $(FUZZ_BUILD)/Makefile
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers

# Every fuzz target for FUZZ_SECONDS from its seed corpus, two at a time; fails on any crash,
# leak, timeout or sanitizer report (scripts/run-fuzz).
fuzz: build-fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(JOBS) FUZZ_BUILD=$(FUZZ_BUILD) scripts/run-fuzz

demo: build
	$(BUILD)/duplex demo

# The .deb (packaging/): the build, then CPack's DEB generator in the build tree; the package
# lands at $(BUILD)/duplex_<version>_amd64.deb.
package: build
	cd $(BUILD) && cpack -G DEB

# Every test in the optimized build, then again with ASan+UBSan, then the style check.
# CTEST_EXCLUDE (a ctest -E regex) leaves tests out of the optimized run: .ci/run uses it for the
# scenario tests, whose scenarios its `duplex chaos suite` runs a minute later anyway.
CTEST_EXCLUDE ?=
test: format-check build build-asan
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(if $(CTEST_EXCLUDE),-E '$(CTEST_EXCLUDE)')
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

format-check: deps
	@bad=$$(git ls-files '*.h' '*.cc' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true); \
	if [ "$$bad" != "0" ]; then \
	  git ls-files '*.h' '*.cc' | xargs clang-format --dry-run 2>&1 | grep 'warning:' | head -20; \
	  echo "clang-format: $$bad lines to reformat (run: make format)"; exit 1; fi; \
	echo "clang-format: clean"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
