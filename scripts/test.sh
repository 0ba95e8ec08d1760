#!/usr/bin/env bash
# The project's test command: formatting, tidy, clippy, then the whole test suite.
# Under CI (CI=true) PostgreSQL-backed tests must run rather than skip: LATCH_REQUIRE_POSTGRES=1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${CI:-}" == "true" ]]; then
    export LATCH_REQUIRE_POSTGRES=1
    export LATCH_REQUIRE_SSHD=1 LATCH_REQUIRE_S3=1 LATCH_REQUIRE_AZURITE=1
    export LATCH_REQUIRE_BROWSER=1 LATCH_REQUIRE_SMALL_DISK=1
    export CARGO_TERM_COLOR=never
    export CARGO_INCREMENTAL=0
fi

section() {
    printf '\n==== %s ====\n' "$*"
}

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo xtask tidy"
cargo xtask tidy

section "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

section "cargo test"
cargo test --workspace --locked
