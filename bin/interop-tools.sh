#!/usr/bin/env bash
# Builds the real peers and suites the interop tests run against, at pinned versions, into a cache
# folder outside the repository, and reuses what is already there. Tests find them through
# tests/interop/tools.ts. Kubo must build (exit 1 otherwise); a suite the registries refuse is
# reported loudly and left out (its tests skip with a banner saying so).
set -euo pipefail

CACHE="${FIRTH_INTEROP_HOME:-$HOME/.cache/firth-interop}"
KUBO_VERSION=v0.43.1
# Kubo's go.mod replaces go-libp2p with a fork the module proxy refuses; upstream v0.50.0 carries
# the same fix (quic-go v0.62 / webtransport-go v0.13), so Kubo is built in a wrapper module on it.
GO_LIBP2P_VERSION=v0.50.0
GWC_MODULE=github.com/ipfs/gateway-conformance
PSC_VERSION=1.8.1

mkdir -p "$CACHE/bin" "$CACHE/src"
say() { printf 'interop-tools: %s\n' "$*"; }
loud() {
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
  printf '!! interop-tools: %s\n' "$@"
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n'
}

command -v go >/dev/null || { loud "Go is not installed: no interop tools (their tests will be skipped)"; exit 0; }

# --- Kubo ---------------------------------------------------------------------------------------
if [[ -x "$CACHE/bin/ipfs" ]] && "$CACHE/bin/ipfs" version 2>/dev/null | grep -qx "ipfs version ${KUBO_VERSION#v}"; then
  say "Kubo ${KUBO_VERSION} already built ($CACHE/bin/ipfs)"
else
  say "building Kubo ${KUBO_VERSION} (first time: downloads its modules, a few minutes)"
  start=$SECONDS
  mod="$CACHE/src/kubo"
  rm -rf "$mod" && mkdir -p "$mod"
  (
    cd "$mod"
    printf 'module firth-interop-kubo\n\ngo 1.26\n' >go.mod
    go get "github.com/ipfs/kubo/cmd/ipfs@${KUBO_VERSION}"
    go get "github.com/libp2p/go-libp2p@${GO_LIBP2P_VERSION}"
    go build -trimpath -o "$CACHE/bin/ipfs.tmp" github.com/ipfs/kubo/cmd/ipfs
  )
  mv "$CACHE/bin/ipfs.tmp" "$CACHE/bin/ipfs"
  "$CACHE/bin/ipfs" version
  say "Kubo built in $((SECONDS - start)) s"
fi

# --- gateway-conformance ------------------------------------------------------------------------
if [[ -x "$CACHE/bin/gateway-conformance" && -d "$CACHE/src/gateway-conformance/tests" ]]; then
  say "gateway-conformance already present"
else
  # Its `test` command runs `go test ./tests` in its own source, so the module source is needed as
  # well as the binary: take both from the module proxy at the latest tag.
  latest=$(timeout 60 go list -m -versions "$GWC_MODULE" 2>/dev/null | awk '{print $NF}' || true)
  if [[ -z "$latest" || "$latest" == "$GWC_MODULE" ]]; then
    loud "gateway-conformance: the Go module proxy refuses $GWC_MODULE (no version served)," \
      "so the official gateway-conformance suite cannot be built here and its test is SKIPPED." \
      "Set FIRTH_GATEWAY_CONFORMANCE and GATEWAY_CONFORMANCE_HOME to run it from a checkout."
  else
    say "building gateway-conformance $latest"
    GOBIN="$CACHE/bin" go install "$GWC_MODULE/cmd/gateway-conformance@$latest"
    src=$(go mod download -json "$GWC_MODULE@$latest" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    rm -rf "$CACHE/src/gateway-conformance" && cp -r "$src" "$CACHE/src/gateway-conformance"
    chmod -R u+w "$CACHE/src/gateway-conformance"
  fi
fi

# --- Pinning Service compliance suite -------------------------------------------------------------
psc="$CACHE/psc"
if [[ -f "$psc/node_modules/@ipfs-shipyard/pinning-service-compliance/package.json" ]] &&
  grep -q "\"version\": \"$PSC_VERSION\"" "$psc/node_modules/@ipfs-shipyard/pinning-service-compliance/package.json"; then
  say "pinning-service-compliance $PSC_VERSION already installed"
else
  say "installing @ipfs-shipyard/pinning-service-compliance@$PSC_VERSION"
  mkdir -p "$psc"
  # --ignore-scripts: its `kubo` dependency would download a Kubo binary; the tests point it at
  # ours with KUBO_BINARY instead.
  npm install --prefix "$psc" --no-audit --no-fund --ignore-scripts \
    "@ipfs-shipyard/pinning-service-compliance@$PSC_VERSION"
fi

# The suite's schema library (enjoi) calls util.isObject, which Node 23 removed: it runs on Node 22,
# from the npm `node` package (as the project's own Node 24 is).
if [[ -x "$psc/node_modules/.bin/node" ]] && "$psc/node_modules/.bin/node" --version | grep -q '^v22\.'; then
  say "Node 22 for pinning-service-compliance already installed"
else
  npm install --prefix "$psc" --no-audit --no-fund node@22
fi
say "ready in $CACHE"
