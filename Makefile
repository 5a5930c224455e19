# Gatehouse developer targets. `make run` starts a local 3-node cluster;
# `make test` is what CI runs (.ci/run).
GO      ?= go
BIN     := bin/gatehouse
DEV_DIR ?= .gatehouse-dev
# Every go command make runs (and scripts/tests that run go themselves inherit
# it) builds zitadel/oidc without OpenTelemetry (its no_otel tag).
export GOFLAGS := $(strip $(shell $(GO) env GOFLAGS) -tags=no_otel)

.PHONY: build run test test-short fuzz-smoke bench lint clean

build:
	$(GO) build -o $(BIN) ./cmd/gatehouse

run: build
	$(BIN) dev --dir $(DEV_DIR)

test:
	scripts/install-test-deps.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...
	scripts/fuzz-smoke.sh

test-short:
	$(GO) test -short ./...

fuzz-smoke:
	scripts/fuzz-smoke.sh

bench:
	$(GO) build -o $(BIN) ./cmd/gatehouse
	$(GO) run ./cmd/gatehouse-bench -gatehouse $(BIN) $(BENCH_FLAGS)

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
