#!/usr/bin/env bash
# Installs what the test suite needs on a Debian bookworm machine, and nothing that is already there.
#
#   - openssh-server, openssh-client   real sshd/ssh peers for the SSH tests
#   - PostgreSQL server binaries        initdb/pg_ctl/postgres/psql for the PostgreSQL store tests
#   - chromium, chromium-driver         headless browser for the web UI's end-to-end tests
#   - clippy and rustfmt                for scripts/test.sh
#   - s3s-fs (cargo install)            a real S3 API server for the recording storage tests
#   - azurite (npm ci, lockfile)        a real Azure Blob server, in scripts/test-peers/node_modules
#
# Idempotent: when everything is present it touches neither apt nor rustup (fast path).
# Must run as root when something has to be installed.
set -euo pipefail

log() { printf 'install-test-deps: %s\n' "$*"; }

missing_packages=()

package_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# initdb is either on PATH (here: /usr/local/bin -> /usr/lib/postgresql/15/bin) or in Debian's versioned directory.
postgres_server_present() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        return 0
    fi
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            return 0
        fi
    done
    return 1
}

psql_present() {
    if command -v psql >/dev/null 2>&1; then
        return 0
    fi
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/psql" ]] && return 0
    done
    return 1
}

if ! [[ -x /usr/sbin/sshd ]] || ! package_installed openssh-server; then
    missing_packages+=(openssh-server)
fi
if ! command -v ssh >/dev/null 2>&1; then
    missing_packages+=(openssh-client)
fi
if ! postgres_server_present; then
    missing_packages+=(postgresql-15)
elif ! psql_present; then
    missing_packages+=(postgresql-client-15)
fi
if ! command -v chromium >/dev/null 2>&1; then
    missing_packages+=(chromium)
fi
if ! command -v chromedriver >/dev/null 2>&1; then
    missing_packages+=(chromium-driver)
fi
# The PostgreSQL test helper drops root with runuser and creates its user with useradd.
if [[ "$(id -u)" == 0 ]]; then
    command -v runuser >/dev/null 2>&1 || missing_packages+=(util-linux)
    command -v useradd >/dev/null 2>&1 || missing_packages+=(passwd)
fi

if ((${#missing_packages[@]} == 0)); then
    log "system packages: all present"
else
    if [[ "$(id -u)" != 0 ]]; then
        log "missing packages: ${missing_packages[*]}; run this script as root to install them" >&2
        exit 1
    fi
    log "installing: ${missing_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not start system-wide daemons (sshd on :22, a PostgreSQL "main" cluster on :5432): tests
    # start their own on loopback. Docker-like images already ship a policy-rc.d that says so; add one if not.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get -o DPkg::Lock::Timeout=600 update
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing_packages[@]}"
    log "installed: ${missing_packages[*]}"
fi

# Rust toolchain with clippy and rustfmt. There is no way to fetch a toolchain from here other than rustup's own
# channel, so a machine without cargo is reported, not repaired.
if ! command -v cargo >/dev/null 2>&1; then
    log "cargo not found on PATH (looked in: $PATH); install a Rust toolchain (rustup) first" >&2
    exit 1
fi
missing_components=()
cargo clippy --version >/dev/null 2>&1 || missing_components+=(clippy)
cargo fmt --version >/dev/null 2>&1 || missing_components+=(rustfmt)
if ((${#missing_components[@]} == 0)); then
    log "rust components: clippy and rustfmt present ($(cargo --version))"
else
    if ! command -v rustup >/dev/null 2>&1; then
        log "missing rust components (${missing_components[*]}) and no rustup to add them" >&2
        exit 1
    fi
    log "installing rust components: ${missing_components[*]}"
    rustup component add "${missing_components[@]}"
    log "installed rust components: ${missing_components[*]}"
fi

# S3-compatible server for the recording storage tests (about 5 minutes to build once). 0.14.1 is the newest release
# this compiler builds.
if command -v s3s-fs >/dev/null 2>&1; then
    log "s3s-fs: present"
else
    log "installing s3s-fs 0.14.1"
    cargo install s3s-fs --version 0.14.1 --features binary --locked
    log "installed s3s-fs"
fi

# Azure Blob server (Azurite) from the lockfile in scripts/test-peers; tests find it in node_modules/.bin.
peers="$(cd "$(dirname "${BASH_SOURCE[0]}")/test-peers" && pwd)"
if [[ -x "$peers/node_modules/.bin/azurite-blob" ]]; then
    log "azurite: present"
else
    if ! command -v npm >/dev/null 2>&1; then
        log "npm not found: install Node.js 20 and npm to run the Azure Blob tests" >&2
        exit 1
    fi
    log "installing azurite from $peers/package-lock.json"
    npm ci --prefix "$peers" --no-audit --no-fund
    log "installed azurite"
fi
