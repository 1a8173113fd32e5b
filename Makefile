# clapper: a thin layer over CMake.
#   make        build (release, no tests) into $(BUILD)/release; installs nothing
#   make deps   install the missing Debian packages (DEPS=build, the default, test or demo)
#   make demo   make deps DEPS=demo, build, run a sample episode on a local farm
#   make test   make deps DEPS=test, build with ASan+UBSan and -Werror, run the whole suite,
#               then fuzz each target for 30 s
#   make fuzz   build the libFuzzer targets with clang and run each for FUZZ_SECONDS (300)
#   make bench  build optimised and run clapper-bench (N=100000) on a private PostgreSQL
#   make install [PREFIX=~/.local]   build for PREFIX (default /usr/local) and install there:
#               binaries, migrations, bash/zsh completion, clapper(1)
#   make clean
BUILD ?= build
JOBS ?= $(shell nproc)
DEPS ?= build
FUZZ_SECONDS ?= 300
PREFIX ?= /usr/local
# ~ is not expanded when make is called as `make install PREFIX=~/x` by a
# shell that leaves it (or from another make); CMake wants a real path.
override PREFIX := $(patsubst ~%,$(HOME)%,$(PREFIX))

.PHONY: all deps test fuzz demo bench install clean

all:
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DCLAPPER_TESTS=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD)/release -j$(JOBS)

deps:
	@./scripts/install-deps $(DEPS)

test:
	@$(MAKE) --no-print-directory deps DEPS=test
	cmake -S . -B $(BUILD)/test -DCLAPPER_SANITIZE=ON -DCLAPPER_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD)/test -j$(JOBS)
	ctest --test-dir $(BUILD)/test --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30

fuzz:
	@$(MAKE) --no-print-directory deps DEPS=test
	cmake -S . -B $(BUILD)/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DCLAPPER_TESTS=OFF -DCLAPPER_FUZZ=ON -DCLAPPER_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(BUILD)/fuzz -j$(JOBS) --target fuzz_targets
	ctest --test-dir $(BUILD)/fuzz --output-on-failure -j$(JOBS)

demo:
	@$(MAKE) --no-print-directory deps DEPS=demo
	@$(MAKE) --no-print-directory all
	./deploy/demo.sh $(BUILD)/release

bench: all
	./bench/run.sh $(BUILD)/release $(or $(N),100000)

install: all
	cmake --install $(BUILD)/release --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
