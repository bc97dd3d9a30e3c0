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
trap 'rm -f "$log"' EXIT
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
