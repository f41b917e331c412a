#!/usr/bin/env bash
# Installs what Grace Period needs on a fresh Debian machine, skipping what is already there:
#   uv (from PyPI), the Python environment (uv.lock), Debian's rabbitmq-server and chromium,
#   FerretDB 1.24.2 built from the Go module proxy into .local/bin (git-ignored), and
#   kustomize (for the Kubernetes manifest tests) built the same way.
# Idempotent; safe to run before every `make run` / `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
FERRETDB_VERSION=v1.24.2
FERRETDB_BIN=.local/bin/ferretdb
# Bump when the FerretDB build recipe changes, so existing builds are redone.
FERRETDB_BUILD_ID="${FERRETDB_VERSION}+sqlite-id-index+id-pushdown"
KUSTOMIZE_VERSION=v5.8.0
KUSTOMIZE_BIN=.local/bin/kustomize
WITH_BROWSER=${WITH_BROWSER:-1}

say() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- uv ------------------------------------------------------------------------------------
if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
  say "installing uv ${UV_VERSION} from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
uv() { if command -v uv >/dev/null 2>&1; then command uv "$@"; else python3 -m uv "$@"; fi; }

# --- Debian packages ------------------------------------------------------------------------
missing=()
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
if [ "$WITH_BROWSER" = 1 ] && ! command -v chromium >/dev/null 2>&1; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package may start a system-wide broker on 5672; Grace Period runs its own nodes.
  if command -v service >/dev/null 2>&1; then as_root service rabbitmq-server stop >/dev/null 2>&1 || true; fi
fi

# --- FerretDB -------------------------------------------------------------------------------
if [ ! -x "$FERRETDB_BIN" ] || [ "$(cat "$FERRETDB_BIN.build" 2>/dev/null)" != "$FERRETDB_BUILD_ID" ]; then
  command -v go >/dev/null 2>&1 || { echo "Go is required to build FerretDB" >&2; exit 1; }
  say "building FerretDB ${FERRETDB_VERSION} into ${FERRETDB_BIN} (one-off, ~1-2 minutes)"
  # `go install ...@version` cannot be used as is: the module archive lacks the generated
  # build/version/version.txt, and a binary built without it panics at start. So fetch the
  # module through the Go module proxy, write that one file into a scratch copy, and build.
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  (
    cd "$work"
    go mod init graceperiod-ferretdb-build >/dev/null 2>&1
    GOFLAGS=-mod=mod go get "github.com/FerretDB/FerretDB/cmd/ferretdb@${FERRETDB_VERSION}" >go-get.log 2>&1 \
      || { cat go-get.log >&2; exit 1; }
    src=$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
    cp -r "$src" ferretdb-src
    chmod -R u+w ferretdb-src
    echo "$FERRETDB_VERSION" > ferretdb-src/build/version/version.txt
    # The SQLite backend indexes _id as  _ferretdb_sjson->"_id"  but filters finds, updates and
    # deletes by id on  _ferretdb_sjson->'$._id': the same value, a different expression, so
    # SQLite cannot use the index and every update or delete by _id scans the whole collection
    # (measured: 12 ms at 1,000 documents, 22 ms at 3,000). Filter on the indexed expression.
    meta=ferretdb-src/internal/backends/sqlite/metadata/metadata.go
    grep -q "IDColumn = DefaultColumn + \"->'\$._id'\"" "$meta" || { echo "FerretDB source changed: review the _id index fix" >&2; exit 1; }
    sed -i "s|IDColumn = DefaultColumn + \"->'\$._id'\"|IDColumn = DefaultColumn + \`->\"_id\"\`|" "$meta"
    # The SQLite backend pushes an _id lookup down to SQL only when the filter is exactly
    # {_id: value}; {_id: value, version: n} (every conditional update: optimistic versions,
    # status guards, lease take-overs) scans the whole collection instead (measured at 500
    # documents: 2.3 ms vs 19 ms per update, 100 concurrent ones 0.45 s vs 2.3 s). The handler
    # re-applies the whole filter to what the backend returns, so narrowing by _id whenever
    # the filter has a plain _id value is safe.
    coll=ferretdb-src/internal/backends/sqlite/collection.go
    [ "$(grep -c 'if params.Filter.Len() == 1 {' "$coll")" = 2 ] || { echo "FerretDB source changed: review the _id pushdown fix" >&2; exit 1; }
    sed -i 's|if params.Filter.Len() == 1 {|if params.Filter.Len() >= 1 {|' "$coll"
  )
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  (cd "$work/ferretdb-src" && go build -trimpath -o "$OLDPWD/$FERRETDB_BIN.new" ./cmd/ferretdb)
  mv -f "$FERRETDB_BIN.new" "$FERRETDB_BIN"  # atomic: servers may be starting from it
  version=$("$FERRETDB_BIN" --version)
  say "built FerretDB ${version%%$'\n'*}"
  echo "$FERRETDB_BUILD_ID" > "$FERRETDB_BIN.build"
fi

# --- kustomize (renders deploy/k8s in tests/deploy) ----------------------------------------
if [ ! -x "$KUSTOMIZE_BIN" ] || [[ "$("$KUSTOMIZE_BIN" version 2>/dev/null)" != *"$KUSTOMIZE_VERSION"* ]]; then
  command -v go >/dev/null 2>&1 || { echo "Go is required to build kustomize" >&2; exit 1; }
  say "building kustomize ${KUSTOMIZE_VERSION} into ${KUSTOMIZE_BIN} (one-off, ~1 minute)"
  gobin=$(mktemp -d)
  GOBIN="$gobin" go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
  mkdir -p "$(dirname "$KUSTOMIZE_BIN")"
  mv -f "$gobin/kustomize" "$KUSTOMIZE_BIN"
  rmdir "$gobin"
  "$KUSTOMIZE_BIN" version
fi

# --- Python environment ---------------------------------------------------------------------
say "syncing the Python environment from uv.lock"
uv sync --frozen --all-packages --quiet
say "ready"
