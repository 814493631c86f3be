# pagergate — every target CI runs is here; `make help` lists them.
GO        ?= go
BIN       ?= bin/pagergate
DEMO_BIN  ?= bin/pagergate-demo
PAGER     ?= pagerduty
PKGS      := ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 10s
# make image: the platforms of the OCI image, and where it goes.
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGE_DIR       ?= bin/image

.DEFAULT_GOAL := help

.PHONY: all build demo test unit e2e e2e-teleport fuzz bench mutate lint generate generate-check deps-check cover clean help image image-push chart-test chart-docs

all: lint test build ## lint, test, build

build: ## build bin/pagergate
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pagergate

demo: build ## run the whole flow on embedded defaults (no accounts needed): bin/pagergate-demo around bin/pagergate (PAGER=opsgenie: the fake Opsgenie)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(DEMO_BIN) ./cmd/pagergate-demo
	$(DEMO_BIN) --pagergate $(BIN) --pager $(PAGER)

test: unit e2e e2e-teleport ## every test: unit + adapters (-race), end-to-end, then against a real Teleport

unit: ## unit and adapter tests with -race; then deploy/ (chart, image) without it
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list $(PKGS) | grep -v '/deploy/')
	@# The page drop's guard against relocated pages bites only where the
	@# dynamic loader relocated some: a PIE build.
	CGO_ENABLED=1 $(GO) test -count=1 -buildmode=pie -run '^TestDropExecutablePages$$' ./adapters/memrelease/
	@# deploy/ tests run one goroutine; -race would only rebuild the Helm and
	@# Kubernetes libraries instrumented (minutes of CI for nothing). -p 1:
	@# both packages build the static binary, the second from the cache.
	$(GO) test -p 1 -count=1 -timeout 10m ./deploy/...

e2e: ## end-to-end tests: the real binary (built with -race) as a process
	$(GO) test -race -count=1 -timeout 20m -tags e2e ./e2e/...

e2e-teleport: ## end-to-end against a real Teleport Auth Service (v14.2.3, built from the module proxy and cached)
	$(GO) test -race -count=1 -timeout 40m -tags 'e2e realteleport' -run '^TestRealTeleport' ./e2e/

fuzz: ## a short pass of every fuzz target (FUZZTIME each)
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench: build ## benchmarks of SPEC §12 (prints a table) and Go micro-benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./domain/... ./adapters/webhook/... ./adapters/boltstore/...
	$(GO) test -count=1 -timeout 20m -tags bench -run '^TestBench' -v ./e2e/... | grep -E '^(BENCH|---|ok|FAIL|PASS)'

mutate: ## mutation testing (gremlins): efficacy per package of domain, app, adapters/webhook, adapters/boltstore, config; slow, not in CI (docs/testing.md)
	.ci/mutate

lint: ## gofmt, go vet and staticcheck (every build tag: e2e, bench, realteleport), go mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^mocks/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags 'e2e bench realteleport' $(PKGS)
	@# each tag alone builds another file set of e2e/: a helper only one tag sees breaks the other's build
	$(GO) vet -tags e2e ./e2e/ && $(GO) vet -tags bench ./e2e/
	$(GO) tool staticcheck -tags 'e2e bench realteleport' $(PKGS)
	$(GO) mod tidy -diff

generate: ## regenerate mocks
	$(GO) generate ./ports/...

generate-check: generate ## fail if generated files drift from the committed ones
	@git diff --exit-code -- mocks/ || (echo "mocks drifted: run make generate and commit"; exit 1)

deps-check: ## prove the hexagon's import rules, fx only in fx.go, cmd wiring only, no test code in the daemon
	.ci/deps-check --selftest
	.ci/deps-check

cover: ## coverage of domain and app (targets: 90% and 85%)
	$(GO) test -count=1 -coverprofile=coverage.out ./domain/... ./app/...
	@$(GO) tool cover -func=coverage.out | tail -1
	@for p in domain app; do $(GO) test -count=1 -cover ./$$p/ | sed 's/^/  /'; done

image: ## OCI image of the static binary, no container engine: bin/image/oci (OCI layout) and bin/image/pagergate-oci.tar, for IMAGE_PLATFORMS (default linux/amd64 linux/arm64)
	@set -e; bins=; for p in $(IMAGE_PLATFORMS); do \
	  os=$${p%%/*}; arch=$${p#*/}; out=bin/pagergate-$$os-$$arch; \
	  echo "build $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/pagergate; \
	  bins="$$bins -binary $$p=$$out"; \
	done; \
	$(GO) run ./deploy/image build $$bins -out $(IMAGE_DIR) -version '$(VERSION)' \
	  -revision "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
	  -created "$$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)"

image-push: image ## build the image and push it: make image-push IMAGE=registry.example.com/pagergate:TAG (credentials of ~/.docker/config.json)
	@test -n "$(IMAGE)" || { echo "usage: make image-push IMAGE=registry.example.com/pagergate:TAG"; exit 2; }
	$(GO) run ./deploy/image push -layout $(IMAGE_DIR)/oci '$(IMAGE)'

chart-test: ## the Helm chart and image tests alone (part of unit)
	$(GO) test -p 1 -count=1 -timeout 10m ./deploy/...

chart-docs: ## regenerate the values table of deploy/helm/pagergate/README.md from values.yaml
	$(GO) test -count=1 -run '^TestValuesTable$$' ./deploy/helm -args -update

clean: ## remove build output
	rm -rf bin coverage.out

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'
