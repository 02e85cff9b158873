GO ?= go

.PHONY: all build test vet fmt-check run bench demo clients-deps clean image deploy-check

all: build

build:
	$(GO) build ./...

## test: vet, gofmt check, and the race-enabled test suite (fuzz seed corpora run as tests).
## The race detector needs cgo (a C compiler such as gcc); without one the suite runs without it.
RACE = $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && echo -race)
test: fmt-check vet
	@[ -n "$(RACE)" ] || echo "make test: cgo is off (no C compiler found): running without the race detector; install gcc for -race" >&2
	$(GO) test $(RACE) -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory deploy-check

## deploy-check: the deploy/ module's checks, without a cluster: every manifest under
## deploy/kubernetes strictly decoded into the Kubernetes API types and checked against cachenode's
## flags and endpoints, the Dockerfile's shape, the Grafana dashboard's metric names. A module of
## its own (deploy/go.mod), so the main module does not depend on the Kubernetes packages.
deploy-check:
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## run: a local 3-node tier on 127.0.0.1:7001-7003 in the foreground; Ctrl-C stops it.
run:
	./scripts/run-tier.sh 7001 7002 7003

## bench: Go micro-benchmarks (BENCHTIME each, default 200ms), then the side-by-side comparison
## with redis-server (when installed).
BENCHTIME ?= 200ms
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./...
	./scripts/bench-vs-redis.sh

## demo: the herd and tierdown scenarios against a fresh local tier; reports in reports/.
demo:
	./scripts/demo.sh

## image: build the cachenode container image (Dockerfile) as $(IMAGE) with docker, or podman
## when there is no docker. Exits 1 with a message when neither is installed or its daemon does
## not answer: nothing is built then.
IMAGE ?= cachenode:dev
image:
	@engine="$$(command -v docker || command -v podman)"; \
	if [ -z "$$engine" ]; then echo "make image: no container engine found (docker or podman); image not built" >&2; exit 1; fi; \
	if ! "$$engine" info >/dev/null 2>&1; then echo "make image: $$engine found but not usable (is its daemon running?); image not built" >&2; exit 1; fi; \
	echo "$$engine build -t $(IMAGE) ."; "$$engine" build -t $(IMAGE) .

## clients-deps: install the npm packages for the ioredis/node-redis compatibility tests.
clients-deps:
	npm ci --prefix test/clients --no-audit --no-fund

clean:
	rm -rf bin
