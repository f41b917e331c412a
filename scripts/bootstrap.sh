#!/usr/bin/env bash
# Installs what Grace Period needs on a fresh Debian machine, skipping what is already there:
#   uv (from PyPI), the Python environment (uv.lock), Debian's rabbitmq-server, haproxy,
#   iproute2 and chromium, FerretDB 1.24.2 built from the Go module proxy with the patches in
#   scripts/ferretdb/ into .local/bin (git-ignored), and Dex (the local OpenID Connect provider)
#   and kustomize (for the Kubernetes manifest tests) built the same way.
# Idempotent; safe to run before every `make run` / `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
FERRETDB_VERSION=v1.24.2
FERRETDB_BIN=.local/bin/ferretdb
FERRETDB_PATCHES=scripts/ferretdb
# Changes with any patch (or with the recipe's version below), so existing builds are redone.
FERRETDB_BUILD_ID="${FERRETDB_VERSION}+patches-$(cat "$FERRETDB_PATCHES"/*.patch | sha256sum | cut -c1-16)"
# Dex v2.45.1 is commit 11d2eeb52b42 (2026-03-03); the proxy knows it by this pseudo-version.
DEX_VERSION=v2.45.1
DEX_MODULE_VERSION=v0.0.0-20260303133905-11d2eeb52b42
DEX_BIN=.local/bin/dex
DEX_BUILD_ID="${DEX_VERSION}+${DEX_MODULE_VERSION}"
KUSTOMIZE_VERSION=v5.8.0
KUSTOMIZE_BIN=.local/bin/kustomize
WITH_BROWSER=${WITH_BROWSER:-1}

say() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }

# Scratch build directories, removed on exit (the Go module cache leaves them read-only).
scratch=()
trap 'for d in "${scratch[@]}"; do chmod -R u+w "$d" 2>/dev/null; rm -rf "$d"; done' EXIT

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
# The chaos suite's RabbitMQ cluster: HAProxy in front of the nodes, iproute2 for the test hosts.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "$WITH_BROWSER" = 1 ] && ! command -v chromium >/dev/null 2>&1; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages may start a system-wide broker on 5672 and a system HAProxy; Grace Period
  # runs its own.
  if command -v service >/dev/null 2>&1; then
    as_root service rabbitmq-server stop >/dev/null 2>&1 || true
    as_root service haproxy stop >/dev/null 2>&1 || true
  fi
fi

# --- FerretDB -------------------------------------------------------------------------------
if [ ! -x "$FERRETDB_BIN" ] || [ "$(cat "$FERRETDB_BIN.build" 2>/dev/null)" != "$FERRETDB_BUILD_ID" ]; then
  command -v go >/dev/null 2>&1 || { echo "Go is required to build FerretDB" >&2; exit 1; }
  say "building FerretDB ${FERRETDB_VERSION} into ${FERRETDB_BIN} (one-off, ~1-2 minutes)"
  # `go install ...@version` cannot be used as is: the module archive lacks the generated
  # build/version/version.txt, and a binary built without it panics at start. So fetch the
  # module through the Go module proxy, write that one file into a scratch copy, and build.
  work=$(mktemp -d)
  scratch+=("$work")
  (
    cd "$work"
    go mod init graceperiod-ferretdb-build >/dev/null 2>&1
    GOFLAGS=-mod=mod go get "github.com/FerretDB/FerretDB/cmd/ferretdb@${FERRETDB_VERSION}" >go-get.log 2>&1 \
      || { cat go-get.log >&2; exit 1; }
    src=$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
    cp -r "$src" ferretdb-src
    chmod -R u+w ferretdb-src
    echo "$FERRETDB_VERSION" > ferretdb-src/build/version/version.txt
    # The local patches, in order; each is described in README.md ("MongoDB, FerretDB and the
    # subset both support"). `git apply --check` refuses a patch whose context no longer
    # matches the source, so a changed upstream stops the build instead of being mispatched.
    for patch in "$OLDPWD/$FERRETDB_PATCHES"/*.patch; do
      (cd ferretdb-src && git apply --check "$patch" && git apply "$patch") \
        || { echo "FerretDB source changed: review $patch" >&2; exit 1; }
    done
  )
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  (cd "$work/ferretdb-src" && go build -trimpath -o "$OLDPWD/$FERRETDB_BIN.new" ./cmd/ferretdb)
  mv -f "$FERRETDB_BIN.new" "$FERRETDB_BIN"  # atomic: servers may be starting from it
  version=$("$FERRETDB_BIN" --version)
  say "built FerretDB ${version%%$'\n'*}"
  echo "$FERRETDB_BUILD_ID" > "$FERRETDB_BIN.build"
fi

# --- Dex (the local OpenID Connect provider: make run and the sign-in tests) ---------------
if [ ! -x "$DEX_BIN" ] || [ "$(cat "$DEX_BIN.build" 2>/dev/null)" != "$DEX_BUILD_ID" ]; then
  command -v go >/dev/null 2>&1 || { echo "Go is required to build Dex" >&2; exit 1; }
  say "building Dex ${DEX_VERSION} into ${DEX_BIN} (one-off, ~5 minutes)"
  # Dex's module path has no /v2, so its v2.x tags are not Go module versions: the proxy
  # serves the tagged commit only as a pseudo-version. `go install` cannot build it either
  # (its go.mod has a replace directive), so fetch it into a scratch module and build there.
  # The web templates and static assets are embedded in the binary (web/web.go, go:embed).
  work=$(mktemp -d)
  scratch+=("$work")
  (
    cd "$work"
    go mod init graceperiod-dex-build >/dev/null 2>&1
    GOFLAGS=-mod=mod go get "github.com/dexidp/dex/cmd/dex@${DEX_MODULE_VERSION}" >go-get.log 2>&1 \
      || { cat go-get.log >&2; exit 1; }
    go build -trimpath -ldflags "-X main.version=${DEX_VERSION}" -o dex github.com/dexidp/dex/cmd/dex
  )
  mkdir -p "$(dirname "$DEX_BIN")"
  mv -f "$work/dex" "$DEX_BIN.new"
  mv -f "$DEX_BIN.new" "$DEX_BIN"  # atomic: a test may be starting it
  version=$("$DEX_BIN" version)
  say "built ${version%%$'\n'*}"
  echo "$DEX_BUILD_ID" > "$DEX_BIN.build"
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
