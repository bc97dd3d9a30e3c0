# Yoyaku. `make run` serves the product on SQLite in ./data with a demo
# tenant; `make test` vets and tests every module (see scripts/test.sh).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build run test vet fmt clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/yoyaku ./cmd/yoyaku

run: build
	./bin/yoyaku --db sqlite --data-dir ./data --log-format text serve --migrate --demo

test:
	bash scripts/test.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
