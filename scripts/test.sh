#!/usr/bin/env bash
# make test: go vet and every test of every Go module in the repository, on
# SQLite always and on MariaDB when one can be had. Suites that need a server
# this machine lacks are skipped LOUDLY; with CI=true they fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

banner() { printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! %s\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' "$1" >&2; }

skipped=()
if [[ -n "${YOYAKU_TEST_MYSQL_DSN:-}" ]]; then
  echo "MariaDB/MySQL suites: on the server of YOYAKU_TEST_MYSQL_DSN"
elif command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; then
  echo "MariaDB/MySQL suites: on throwaway mariadbd servers the tests start"
else
  skipped+=("MariaDB/MySQL suites (no mariadbd on PATH and no YOYAKU_TEST_MYSQL_DSN; apt-get install mariadb-server)")
fi
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [[ -n "${YOYAKU_CHROMIUM:-}" ]]; then
  echo "Browser suites: on headless Chromium"
else
  skipped+=("browser suites (no chromium on PATH; apt-get install chromium)")
fi
# The generated plugin contract (sdk/proto) must be what make proto makes;
# the files name protoc's version, so only Debian 12's protoc can tell.
protoc_want="libprotoc 3.21.12"
if ! command -v protoc >/dev/null 2>&1; then
  skipped+=("generated-code check of sdk/proto (no protoc on PATH; apt-get install protobuf-compiler)")
elif [[ "$(protoc --version)" != "$protoc_want" ]]; then
  skipped+=("generated-code check of sdk/proto ($(protoc --version) is not $protoc_want, whose output is committed)")
else
  echo "Generated-code check: make proto with $protoc_want"
  check_proto=1
fi
if [[ ${#skipped[@]} -gt 0 ]]; then
  for s in "${skipped[@]}"; do banner "SKIPPING: $s"; done
  if [[ "${CI:-}" == "true" ]]; then
    echo "CI=true: a skipped suite is a failure" >&2
    exit 1
  fi
fi

race=()
if [[ "${RACE:-1}" == "1" ]] && CGO_ENABLED=1 go env CC >/dev/null 2>&1 && command -v "$(go env CC)" >/dev/null 2>&1; then
  race=(-race)
fi

status=0
log=$(mktemp)
gen=$(mktemp -d)
trap 'rm -rf "$log" "$gen"' EXIT
if [[ -n "${check_proto:-}" ]]; then
  echo "== sdk/proto: make proto reproduces the committed code"
  if make -s proto PROTO_OUT="$gen" >/dev/null; then
    while IFS= read -r f; do
      if ! cmp -s "$gen/$f" "sdk/proto/$f"; then
        echo "sdk/proto/$f differs from what make proto generates: run make proto and commit the result" >&2
        status=1
      fi
    done < <(cd "$gen" && find . -name '*.go' | sed 's|^\./||' | sort)
  else
    echo "make proto failed" >&2
    status=1
  fi
fi
# The root module goes last, so the run closes on its (largest) test list.
mods=$(find . -name go.mod -not -path './bin/*' -not -path './data/*' -not -path '*/testdata/*' -not -path './go.mod' | sort)
for mod in $mods ./go.mod; do
  dir=$(dirname "$mod")
  echo "== $dir: go vet"
  (cd "$dir" && go vet ./...) || status=1
  echo "== $dir: go test ${race[*]}"
  (cd "$dir" && go test "${race[@]}" -count=1 -timeout 20m ./...) 2>&1 | tee -a "$log" || status=1
done

for s in "${skipped[@]}"; do banner "SKIPPED: $s"; done
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]+github' "$log" || true)
echo "packages: $passed passed, $failed failed"
exit $status
