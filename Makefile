# clapper: a thin layer over CMake.
#   make demo   install what is missing, build, run a sample episode on a local farm
#   make test   install what is missing, build with ASan+UBSan, run the whole suite
#   make bench  build optimised and run clapper-bench (N=100000) on a private PostgreSQL
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps test demo bench install clean

all:
	@./scripts/install-deps build
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DCLAPPER_TESTS=OFF
	cmake --build $(BUILD)/release -j$(JOBS)

test:
	@./scripts/install-deps test
	cmake -S . -B $(BUILD)/test -DCLAPPER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD)/test -j$(JOBS)
	ctest --test-dir $(BUILD)/test --output-on-failure -j$(JOBS)

demo: all
	@./scripts/install-deps demo
	./deploy/demo.sh $(BUILD)/release

bench: all
	./bench/run.sh $(BUILD)/release $(or $(N),100000)

install: all
	cmake --install $(BUILD)/release

clean:
	rm -rf $(BUILD)
