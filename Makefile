# Yoyaku. `make run` serves the product on SQLite in ./data with a demo
# tenant; `make test` vets and tests every module (see scripts/test.sh).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build run test vet fmt clean proto stripe-mock plugins

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

# stripe-mock (pinned in tools/go.mod) into bin/, for the payments tests (they
# also build it on first use).
stripe-mock:
	cd tools && $(GO) build -o ../bin/stripe-mock github.com/stripe/stripe-mock

# plugins builds each first-party plugin into bin/plugins/<id>/ with its
# plugin.json and the binary's sha256 filled in.
plugins:
	@for d in plugins/*/; do \
		id=$$(basename $$d); mkdir -p bin/plugins/$$id; \
		(cd $$d && $(GO) build -o ../../bin/plugins/$$id/$$id .) || exit 1; \
		sum=$$(sha256sum bin/plugins/$$id/$$id | cut -d' ' -f1); \
		sed "s/\"sha256\": \"[0-9a-f]*\"/\"sha256\": \"$$sum\"/" $$d/plugin.json > bin/plugins/$$id/plugin.json; \
	done

# proto regenerates the plugin contract's Go code in sdk/proto (committed) with
# protoc from Debian (apt-get install -y protobuf-compiler) and the
# protoc-gen-go and protoc-gen-go-grpc pinned in tools/go.mod, built into bin/.
# The output names protoc's version: regenerate with the same protoc (Debian
# 12's 3.21.12) to get byte-identical files. PROTO_OUT=dir writes elsewhere
# (scripts/test.sh compares such a copy with the committed files).
PROTO_DIR := sdk/proto
PROTO_OUT ?= $(PROTO_DIR)
proto:
	@command -v protoc >/dev/null 2>&1 || { echo "make proto: protoc not found; apt-get install -y protobuf-compiler" >&2; exit 1; }
	cd tools && $(GO) build -o ../bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	cd tools && $(GO) build -o ../bin/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc
	protoc -I $(PROTO_DIR) \
		--plugin=protoc-gen-go=bin/protoc-gen-go --go_out=$(PROTO_OUT) --go_opt=paths=source_relative \
		--plugin=protoc-gen-go-grpc=bin/protoc-gen-go-grpc --go-grpc_out=$(PROTO_OUT) --go-grpc_opt=paths=source_relative \
		$(sort $(wildcard $(PROTO_DIR)/yoyaku/plugin/v1/*.proto))
