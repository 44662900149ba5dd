#!/usr/bin/env bash
# Installs what the e2e layer (test/e2e) needs, offline: code-server (a real VS Code served to
# a browser) into its own folder, .vscode-test/code-server, never as a dependency of the
# extension. Offline-safe: it needs only the npm registry and Debian apt.
# Idempotent: does nothing when the pinned version is already installed.
# Usage: bash scripts/setup-e2e.sh
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
# What code-server@4.100.3 pulls in; its postinstall would download this rg build from GitHub.
RIPGREP_PKG_VERSION=1.15.11
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.vscode-test/code-server"
ENTRY="$DEST/node_modules/code-server/out/node/entry.js"

installed_version() {
  node -p "require('$DEST/node_modules/code-server/package.json').version" 2>/dev/null || true
}

# --- System packages: chromium (the browser), libkrb5-dev (code-server's kerberos module builds
# against gssapi), ripgrep (stands in for @vscode/ripgrep's download), a C++ toolchain (node-gyp).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
[[ -f /usr/include/gssapi/gssapi.h ]] || missing+=(libkrb5-dev)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup-e2e: installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    echo "setup-e2e: missing Debian packages: ${missing[*]}" >&2
    echo "setup-e2e: install them first: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "setup-e2e: code-server $CODE_SERVER_VERSION and this project need Node >= 20 (found $(node -v))." >&2
  exit 1
fi

if [[ -f "$ENTRY" && "$(installed_version)" == "$CODE_SERVER_VERSION" ]]; then
  echo "setup-e2e: code-server $CODE_SERVER_VERSION already installed in $DEST"
  exit 0
fi

# --- Pre-seed @vscode/ripgrep's download cache with Debian's rg, in the archive name its
# postinstall looks for, so it never goes to GitHub.
tmp="${TMPDIR:-/tmp}"
cache="$tmp/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION"
if [[ ! -s "$cache/$RIPGREP_ASSET" ]]; then
  mkdir -p "$cache"
  stage="$(mktemp -d)"
  cp "$(command -v rg)" "$stage/rg"
  tar -czf "$cache/$RIPGREP_ASSET" -C "$stage" rg
  rm -rf "$stage"
fi

# --- code-server itself, in its own npm project.
echo "setup-e2e: installing code-server $CODE_SERVER_VERSION into $DEST"
rm -rf "$DEST"
mkdir -p "$DEST"
printf '{ "name": "rlhf-e2e-code-server", "private": true }\n' >"$DEST/package.json"
start=$SECONDS
(
  cd "$DEST"
  # Root needs unsafe-perm for node-pty's node-gyp build; yes answers npx prompts in postinstall.
  npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"
)
if [[ ! -f "$ENTRY" ]]; then
  echo "setup-e2e: npm finished but $ENTRY is missing; see the npm output above." >&2
  exit 1
fi
echo "setup-e2e: code-server $(installed_version) installed in $((SECONDS - start)) s"
