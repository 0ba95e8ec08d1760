#!/usr/bin/env bash
# bench/ssh-gateway.sh: what the Latch SSH gateway costs next to OpenSSH, measured side by side in one run.
#
# Usage: bench/ssh-gateway.sh [options]     (as root, on a machine with OpenSSH's sshd; loopback only)
#
# Three paths to the same throwaway sshd (the "target"), all with the same cipher and key exchange:
#   (a) direct   ssh to the target
#   (b) ssh -J   ssh -J through a second throwaway sshd (what OpenSSH itself costs as a jump host)
#   (c) Latch    ssh through `latch serve` (standing policy, the account's key in the vault, recording on)
# Metrics: bulk throughput in both directions, connection setup time (`ssh … true`), interactive round trip (one
# byte through `cat` on a raw pty), memory per idle session with N concurrent idle sessions (Latch's RSS, and the
# jump host sshd's processes for comparison), and the CPU time the middle box (jump host sshd or latch serve) spends
# per GiB transferred. Prints Markdown tables with the ratios c/b and c/a and PASS/FAIL against the targets of the
# issue: throughput >= 0.8x ssh -J, setup <= 1.3x ssh -J, < 200 KiB per idle session; then the warnings of the
# `latch serve` log by phase. Needs python3 and jq; takes about 5 minutes after the build.
#
# Options:
#   --write               also append the results to BENCHMARKS.md at the repository root
#   --quick               a smoke run: small sizes, few repetitions, 40 idle sessions (numbers mean little);
#                         options after it override its settings
#   --latch PATH          use this latch binary (default: build target/release/latch with cargo first)
#   --no-build            use target/release/latch as it is
#   --sessions N          concurrent idle sessions for the memory measurement (default 500)
#   --batch N             idle sessions opened at a time (default 50; Latch allows 64 unauthenticated connections)
#   --size-mib N          bytes per throughput transfer, in MiB (default 512)
#   --payloads LIST       comma-separated: zero (/dev/zero) and/or text (base64 text) (default zero,text)
#   --throughput-runs N   transfers per path, direction and payload; the median is reported (default 3)
#   --setup-runs N        `ssh … true` per path; the median is reported (default 20)
#   --rtt-count N         round trips per session (default 200, after 20 warm-up ones)
#   --rtt-runs N          sessions per path for the round trip; all samples are pooled (default 3)
#   --cipher NAME         the cipher on every SSH leg (default aes256-gcm@openssh.com, which russh and OpenSSH share)
#   --kex NAME            the key exchange on every SSH leg (default curve25519-sha256)
#   --keep                keep the work directory (logs, recordings) instead of deleting it
#   -h, --help            this text
#
# The measurements interleave the three paths (a, b, c, a, b, c, …) so that noise from other work on the machine
# spreads over all of them. Everything the script creates (two OS users, two sshd, latch serve, the ssh clients, a
# temp directory) is removed on exit by the trap, processes by their PID. It is a benchmark, not a test: CI does
# not run it.

# The report is Markdown: backticks in single-quoted printf formats are meant literally.
# shellcheck disable=SC2016

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MEASURE="$REPO/bench/lib/measure.py"
SSHD=/usr/sbin/sshd
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

# latch_ssh::GatewayLimits::default().max_sessions_per_user; the benchmark leaves Latch's configuration at its
# defaults and spreads the idle sessions over enough users instead (ssh.max_sessions_per_user could raise it).
LATCH_MAX_SESSIONS_PER_USER=16

WRITE=0
LATCH=""
BUILD=1
SESSIONS=500
BATCH=50
SIZE_MIB=512
PAYLOADS="zero,text"
THROUGHPUT_RUNS=3
SETUP_RUNS=20
RTT_COUNT=200
RTT_RUNS=3
CIPHER="aes256-gcm@openssh.com"
KEX="curve25519-sha256"
KEEP=0
ARGS=("$@")

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
    printf 'ssh-gateway.sh: %s\n' "$*" >&2
    exit 1
}

log() {
    printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2
}

while (($# > 0)); do
    case $1 in
        --write) WRITE=1 ;;
        --quick) SESSIONS=40 BATCH=20 SIZE_MIB=32 THROUGHPUT_RUNS=1 SETUP_RUNS=3 RTT_COUNT=20 RTT_RUNS=1 ;;
        --latch) LATCH=${2:?--latch needs a path}; BUILD=0; shift ;;
        --no-build) BUILD=0 ;;
        --sessions) SESSIONS=${2:?}; shift ;;
        --batch) BATCH=${2:?}; shift ;;
        --size-mib) SIZE_MIB=${2:?}; shift ;;
        --payloads) PAYLOADS=${2:?}; shift ;;
        --throughput-runs) THROUGHPUT_RUNS=${2:?}; shift ;;
        --setup-runs) SETUP_RUNS=${2:?}; shift ;;
        --rtt-count) RTT_COUNT=${2:?}; shift ;;
        --rtt-runs) RTT_RUNS=${2:?}; shift ;;
        --cipher) CIPHER=${2:?}; shift ;;
        --kex) KEX=${2:?}; shift ;;
        --keep) KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
SIZE_BYTES=$((SIZE_MIB * 1024 * 1024))
LATCH=${LATCH:-$REPO/target/release/latch}

[[ $(id -u) == 0 ]] || die "must run as root (sshd authenticates other users; useradd creates them)"
for tool in ssh ssh-keygen useradd userdel chpasswd setsid python3 jq base64 pgrep; do
    command -v "$tool" >/dev/null || die "missing program: $tool"
done
[[ -x $SSHD ]] || die "$SSHD is missing (install openssh-server)"
IFS=, read -r -a PAYLOAD_LIST <<<"$PAYLOADS"
for payload in "${PAYLOAD_LIST[@]}"; do
    [[ $payload == zero || $payload == text ]] || die "unknown payload: $payload (zero or text)"
done

# ---------------------------------------------------------------------------------------------------------------
# State the trap cleans up.

WORK=""
LATCH_PID=""
WATCHER_PID=""
SSHD_PIDS=()
CLIENT_PIDS=()
OS_USERS=()

stop_pid() { # PID: SIGTERM, then SIGKILL after 5 s
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

stop_clients() { # each client ssh was started by setsid: its PID is its process group (with a ProxyJump child)
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${CLIENT_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    CLIENT_PIDS=()
}

cleanup() {
    local status=$? pid user i
    set +e
    trap - EXIT INT TERM
    stop_clients
    [[ -n $WATCHER_PID ]] && stop_pid "$WATCHER_PID"
    [[ -n $LATCH_PID ]] && stop_pid "$LATCH_PID"
    for pid in "${SSHD_PIDS[@]}"; do
        stop_pid "$pid"
    done
    for user in "${OS_USERS[@]}"; do
        for ((i = 0; i < 20; i++)); do
            id -u "$user" >/dev/null 2>&1 || break
            # Whatever is left of the throwaway user's sessions, by PID.
            for pid in $(pgrep -u "$user"); do
                kill -KILL "$pid" 2>/dev/null
            done
            userdel -r "$user" >/dev/null 2>&1 || sleep 0.3
        done
        id -u "$user" >/dev/null 2>&1 && printf 'ssh-gateway.sh: could not delete user %s\n' "$user" >&2
    done
    if [[ -n $WORK && -d $WORK ]]; then
        if ((KEEP)); then
            printf 'ssh-gateway.sh: kept %s\n' "$WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------------
# Helpers.

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
random_password() {
    local password
    password=$(head -c 48 /dev/urandom | base64 -w 0 | tr -dc 'A-Za-z0-9')
    printf '%s' "${password:0:24}"
}

wait_for_port() { # PORT PID WHAT: until 127.0.0.1:PORT accepts connections, while PID lives (60 s)
    local port=$1 pid=$2 what=$3 i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$what did not listen on port $port within 60 s"
}

create_os_user() { # NAME AUTHORIZED_KEYS_FILE
    local name=$1 keys=$2 home
    OS_USERS+=("$name")
    useradd -m -s /bin/bash "$name"
    printf '%s:%s\n' "$name" "$(random_password)" | chpasswd
    home=$(getent passwd "$name" | cut -d: -f6)
    install -d -m 700 -o "$name" -g "$name" "$home/.ssh"
    install -m 600 -o "$name" -g "$name" "$keys" "$home/.ssh/authorized_keys"
}

start_sshd() { # NAME PORT USER -> appends to SSHD_PIDS; writes $WORK/NAME/{sshd_config,host_key,sshd.log}
    local name=$1 port=$2 user=$3 dir="$WORK/$1" pid
    mkdir -p "$dir" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -C "bench-$name" -f "$dir/host_key"
    cat >"$dir/sshd_config" <<EOF
# Written by bench/ssh-gateway.sh.
ListenAddress 127.0.0.1:$port
HostKey $dir/host_key
PidFile $dir/sshd.pid
LogLevel INFO
UsePAM yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $user
PermitRootLogin no
AllowTcpForwarding yes
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
Compression no
Ciphers $CIPHER
KexAlgorithms $KEX
MaxStartups 1000:30:1000
MaxSessions 1000
EOF
    "$SSHD" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null &
    pid=$!
    SSHD_PIDS+=("$pid")
    wait_for_port "$port" "$pid" "sshd $name" || die "sshd $name exited: $(cat "$dir/sshd.log")"
    printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1-2 "$dir/host_key.pub")" >>"$WORK/known_hosts"
}

latch_cli() { # the latch client as the admin, isolated from the caller's settings
    env -u LATCH_SERVER -u LATCH_TOKEN -u LATCH_CA_CERT -u LATCH_FINGERPRINT -u LATCH_DATA_DIR \
        -u LATCH_DATABASE_URL -u RUST_LOG -u XDG_CONFIG_HOME LATCH_CONFIG_DIR="$WORK/admin-cli" "$LATCH" "$@"
}

latch_user() { # NUMBER -> bench01 …
    printf 'bench%02d' "$1"
}

# SSH_ARGV for PATH (a, b or c) with extra ssh options; the remote command is appended by the caller.
ssh_argv() {
    local path=$1
    shift
    case $path in
        a) SSH_ARGV=(ssh -F "$WORK/ssh_config" "$@" target) ;;
        b) SSH_ARGV=(ssh -F "$WORK/ssh_config" -J jumphost "$@" target) ;;
        c) SSH_ARGV=(ssh -F "$WORK/ssh_config" -i "$WORK/keys/bench01" -l bench01@db01 "$@" gateway) ;;
        *) die "unknown path $path" ;;
    esac
}

PATHS=(a b c)
declare -A PATH_NAME=([a]="(a) direct" [b]="(b) ssh -J" [c]="(c) Latch")

stats() { # FILE -> "median p10 p90 min max n"
    python3 "$MEASURE" stats "$1"
}

fmt() { # PRINTF_FORMAT NUMBER
    # shellcheck disable=SC2059 # the callers pass a constant number format
    LC_ALL=C printf "$1" "$2"
}

ratio() { # A B -> A/B with 2 decimals
    python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print(f"{a / b:.2f}" if b else "n/a")' "$1" "$2"
}

verdict() { # VALUE OP LIMIT -> PASS or FAIL
    python3 -c 'import sys, operator as o; v, op, l = sys.argv[1:]; ops = {">=": o.ge, "<=": o.le, "<": o.lt}
print("PASS" if ops[op](float(v), float(l)) else "FAIL")' "$1" "$2" "$3"
}

live_latch_sessions() {
    latch_cli sessions --live --limit 500 --json | jq '.sessions | length'
}

sleepers() { # remote `sleep` processes of the target user: idle sessions that reached the target
    pgrep -c -u "$TARGET_USER" -x sleep || true
}

latch_rss() { python3 "$MEASURE" mem "$LATCH_PID" | cut -d' ' -f1; }

# The phases of the run, where each begins in the `latch serve` log and Latch's RSS then, to tell in the report
# which phase the server's warnings and its memory belong to.
PHASES=()
PHASE_LINES=()
PHASE_RSS=()
phase() { # NAME
    PHASES+=("$1")
    PHASE_LINES+=("$(wc -l <"$WORK/serve.stderr")")
    PHASE_RSS+=("$(latch_rss)")
    log "$1 (latch serve RSS ${PHASE_RSS[-1]} KiB)"
}

# One transfer on PATH, its speed appended to samples/METRIC.PATH. For (b) and (c) also the CPU time the middle box
# (the jump host's sshd with its per-connection processes, or latch serve) spent on it per GiB, to
# samples/cpu-METRIC.PATH: less sensitive to other load on the machine than the speed.
measure_transfer() { # PATH METRIC MEASURE_ARGS...
    local path=$1 metric=$2 pid="" used
    shift 2
    case $path in
        b) pid=${SSHD_PIDS[1]} ;;
        c) pid=$LATCH_PID ;;
    esac
    if [[ -n $pid ]]; then
        rm -f "$WORK/cpu-watch.ready"
        python3 "$MEASURE" cpu-watch "$pid" "$WORK/cpu-watch.ready" >"$WORK/cpu-watch.out" &
        WATCHER_PID=$!
        until [[ -e $WORK/cpu-watch.ready ]]; do
            kill -0 "$WATCHER_PID" 2>/dev/null || die "measure.py cpu-watch exited"
            sleep 0.02
        done
    fi
    python3 "$MEASURE" "$@" >>"$WORK/samples/$metric.$path"
    if [[ -n $pid ]]; then
        sleep 0.2 # the per-connection processes of sshd end after the client
        kill -TERM "$WATCHER_PID"
        wait "$WATCHER_PID"
        WATCHER_PID=""
        used=$(cat "$WORK/cpu-watch.out")
        python3 -c 'import sys; used, n = map(float, sys.argv[1:]); print(f"{used / (n / 2**30):.3f}")' \
            "$used" "$SIZE_BYTES" >>"$WORK/samples/cpu-$metric.$path"
    fi
}

# The server's warning and error lines from line FROM (exclusive) to TO (inclusive; "$" for the end), with the
# timestamp dropped and addresses, ids and numbers replaced by placeholders, so that alike lines group.
server_warnings() {
    sed -n "$(($1 + 1)),$2p" "$WORK/serve.stderr" | grep -E '^[^ ]+ +(WARN|ERROR) ' |
        sed -E 's/^[^ ]+ +//; s/peer=[0-9.:]+/peer=ADDR/g; s/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/ID/g;
            s/[0-9]+(\.[0-9]+)?/N/g' || true
}

# ---------------------------------------------------------------------------------------------------------------
# Set up: build, OS users and keys, two sshd, latch serve, the gateway's inventory and policy.

if ((BUILD)); then
    log "building latch (cargo build --release -p latch)"
    (cd "$REPO" && cargo build --release -p latch --quiet) || die "cargo build failed"
fi
[[ -x $LATCH ]] || die "no latch binary at $LATCH"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/latch-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/keys" "$WORK/samples" "$WORK/idle"
log "work directory $WORK"

read -r TARGET_PORT JUMP_PORT HTTP_PORT GATEWAY_PORT <<<"$(python3 "$MEASURE" free-ports 4)"
suffix=$(random_hex 4)
TARGET_USER="lbt$suffix"
JUMP_USER="lbj$suffix"
LATCH_USERS=$(((SESSIONS + LATCH_MAX_SESSIONS_PER_USER - 1) / LATCH_MAX_SESSIONS_PER_USER))

ssh-keygen -q -t ed25519 -N '' -C bench-person -f "$WORK/keys/person"
ssh-keygen -q -t ed25519 -N '' -C bench-vault-account -f "$WORK/keys/vault"
for ((i = 1; i <= LATCH_USERS; i++)); do
    ssh-keygen -q -t ed25519 -N '' -C "bench-$(latch_user "$i")" -f "$WORK/keys/$(latch_user "$i")"
done
cat "$WORK/keys/person.pub" "$WORK/keys/vault.pub" >"$WORK/keys/target_authorized_keys"
create_os_user "$TARGET_USER" "$WORK/keys/target_authorized_keys"
create_os_user "$JUMP_USER" "$WORK/keys/person.pub"
TARGET_HOME=$(getent passwd "$TARGET_USER" | cut -d: -f6)

if [[ ,$PAYLOADS, == *,text,* ]]; then
    log "writing a ${SIZE_MIB} MiB text payload"
    TEXT_PAYLOAD="$TARGET_HOME/payload.txt"
    head -c $((SIZE_BYTES * 3 / 4)) /dev/urandom | base64 -w 76 >"$TEXT_PAYLOAD"
    truncate -s "$SIZE_BYTES" "$TEXT_PAYLOAD"
    chown "$TARGET_USER:" "$TEXT_PAYLOAD"
fi

log "starting the target sshd on $TARGET_PORT and the jump host sshd on $JUMP_PORT"
start_sshd target "$TARGET_PORT" "$TARGET_USER"
start_sshd jump "$JUMP_PORT" "$JUMP_USER"

log "starting latch serve (https $HTTP_PORT, ssh $GATEWAY_PORT)"
DATA_DIR="$WORK/latch-data"
env -u LATCH_SERVER -u LATCH_TOKEN -u LATCH_CA_CERT -u LATCH_FINGERPRINT -u LATCH_CONFIG_DIR -u LATCH_DATA_DIR \
    -u LATCH_DATABASE_URL -u LATCH_UNSEAL_KEY_FILE -u LATCH_UNSEAL_PASSPHRASE_FILE -u LATCH_UNSEAL_PASSPHRASE \
    -u XDG_CONFIG_HOME RUST_LOG=info \
    LATCH_HTTP_LISTEN="127.0.0.1:$HTTP_PORT" LATCH_SSH_LISTEN="127.0.0.1:$GATEWAY_PORT" \
    "$LATCH" serve --data-dir "$DATA_DIR" </dev/null >"$WORK/serve.stdout" 2>"$WORK/serve.stderr" &
LATCH_PID=$!
for ((i = 0; i < 600; i++)); do
    grep -q 'One-time password:' "$WORK/serve.stdout" 2>/dev/null && break
    kill -0 "$LATCH_PID" 2>/dev/null || die "latch serve exited: $(cat "$WORK/serve.stdout" "$WORK/serve.stderr")"
    sleep 0.1
done
ONE_TIME_PASSWORD=$(awk '/One-time password:/ {print $NF; exit}' "$WORK/serve.stdout")
[[ -n $ONE_TIME_PASSWORD ]] || die "latch serve printed no one-time password"
SERVER_URL="https://localhost:$HTTP_PORT"
CERT="$DATA_DIR/tls/cert.pem"
for ((i = 0; ; i++)); do
    code=0
    [[ -f $CERT ]] && { latch_cli status --server "$SERVER_URL" --ca-cert "$CERT" >/dev/null 2>&1 || code=$?; }
    [[ -f $CERT ]] && ((code == 0 || code == 3)) && break
    kill -0 "$LATCH_PID" 2>/dev/null || die "latch serve exited: $(cat "$WORK/serve.stderr")"
    ((i < 600)) || die "latch serve did not get ready within 60 s"
    sleep 0.1
done
wait_for_port "$GATEWAY_PORT" "$LATCH_PID" "the Latch gateway" || die "latch serve exited"

phase "configuration: $LATCH_USERS users with their own keys, target db01, the account's key, a standing policy"
ADMIN_PASSWORD="operator-passphrase-$(random_password)"
printf '%s\n%s\n' "$ONE_TIME_PASSWORD" "$ADMIN_PASSWORD" |
    latch_cli login --server "$SERVER_URL" --ca-cert "$CERT" --username admin --password-stdin >/dev/null
policy_users=()
for ((i = 1; i <= LATCH_USERS; i++)); do
    user=$(latch_user "$i")
    printf 'person-passphrase-%s\n' "$(random_password)" |
        latch_cli users create "$user" --role user --password-stdin >/dev/null
    latch_cli ssh-keys add "$WORK/keys/$user.pub" --user "$user" >/dev/null
    policy_users+=("$user")
done
latch_cli targets add db01 --address 127.0.0.1 --port "$TARGET_PORT" >/dev/null
latch_cli targets fetch-host-key db01 --yes >/dev/null
latch_cli accounts add db01 "$TARGET_USER" --kind ssh_private_key --secret-file "$WORK/keys/vault" >/dev/null
jq -n --args '{name: "bench", users: $ARGS.positional, targets: [{name: "db01"}], mode: "standing",
    max_duration_minutes: 480}' "${policy_users[@]}" >"$WORK/policy.json"
latch_cli policies create --file "$WORK/policy.json" >/dev/null
printf '[127.0.0.1]:%s %s\n' "$GATEWAY_PORT" "$(ssh-keygen -y -f "$DATA_DIR/ssh_host_ed25519_key" | cut -d' ' -f1-2)" \
    >>"$WORK/known_hosts"

cat >"$WORK/ssh_config" <<EOF
# Written by bench/ssh-gateway.sh; ssh passes -F on to the ProxyJump child, so the jump leg uses it too.
Host target
    HostName 127.0.0.1
    Port $TARGET_PORT
    User $TARGET_USER
    IdentityFile $WORK/keys/person
Host jumphost
    HostName 127.0.0.1
    Port $JUMP_PORT
    User $JUMP_USER
    IdentityFile $WORK/keys/person
Host gateway
    HostName 127.0.0.1
    Port $GATEWAY_PORT
Host *
    BatchMode yes
    IdentitiesOnly yes
    IdentityAgent none
    StrictHostKeyChecking yes
    UserKnownHostsFile $WORK/known_hosts
    GlobalKnownHostsFile /dev/null
    UpdateHostKeys no
    CheckHostIP no
    Compression no
    Ciphers $CIPHER
    KexAlgorithms $KEX
    ControlMaster no
    ControlPath none
    ConnectTimeout 60
    LogLevel ERROR
EOF

# Every path works, and the jump leg really uses the same cipher.
for path in "${PATHS[@]}"; do
    ssh_argv "$path"
    out=$("${SSH_ARGV[@]}" 'echo ok' </dev/null) || die "${PATH_NAME[$path]} does not work"
    [[ $out == ok ]] || die "${PATH_NAME[$path]} printed $out"
done
ssh_argv b -v
"${SSH_ARGV[@]}" true </dev/null 2>"$WORK/jump-verbose.log" || die "ssh -J -v failed"
grep -q "ProxyJump.*-F $WORK/ssh_config" "$WORK/jump-verbose.log" ||
    die "the ProxyJump child does not get the client config: $(grep -i proxyjump "$WORK/jump-verbose.log")"

# ---------------------------------------------------------------------------------------------------------------
# Memory per idle session first, on a fresh gateway (after a few warm-up sessions): later phases grow the heap.

# Opens N idle sessions on PATH (c: users round-robin), BATCH at a time, waiting until every session of the batch
# runs its remote `sleep`. Each is an idle interactive session: a pty (a cast file in Latch) and a running command.
# Sets REACHED.
open_idle_sessions() {
    local path=$1 want=$2 i user deadline
    REACHED=0
    for ((i = 0; i < want; i++)); do
        if [[ $path == c ]]; then
            user=$(latch_user $((i % LATCH_USERS + 1)))
            SSH_ARGV=(ssh -F "$WORK/ssh_config" -i "$WORK/keys/$user" -l "$user@db01" -n -tt gateway)
        else
            ssh_argv "$path" -n -tt
        fi
        setsid "${SSH_ARGV[@]}" 'exec sleep 86400' >/dev/null 2>"$WORK/idle/$path.$i.err" &
        CLIENT_PIDS+=("$!")
        if (((i + 1) % BATCH == 0 || i + 1 == want)); then
            deadline=$((SECONDS + 120))
            while (($(sleepers) < i + 1)); do
                if ((SECONDS > deadline)); then
                    REACHED=$(sleepers)
                    log "only $REACHED of $((i + 1)) idle sessions on ${PATH_NAME[$path]} after 120 s"
                    return 0
                fi
                sleep 0.5
            done
            log "${PATH_NAME[$path]}: $((i + 1)) idle sessions"
        fi
    done
    REACHED=$(sleepers)
}

close_idle_sessions() { # the pty hangs up when the connection closes, which ends the remote `sleep`
    local deadline=$((SECONDS + 60)) pid
    stop_clients
    while (($(sleepers) > 0)) && ((SECONDS < deadline)); do
        sleep 0.5
    done
    if (($(sleepers) > 0)); then
        log "$(sleepers) remote sleep processes outlived their sessions; ending them"
        for pid in $(pgrep -u "$TARGET_USER" -x sleep); do
            kill -TERM "$pid" 2>/dev/null || true
        done
    fi
}

idle_errors() { # PATH: distinct error lines of the idle clients
    cat "$WORK/idle/$1".*.err 2>/dev/null | sort | uniq -c | sort -rn | head -5 || true
}

phase "warm-up: 3 sessions per path"
for path in "${PATHS[@]}"; do
    for ((i = 0; i < 3; i++)); do
        ssh_argv "$path"
        "${SSH_ARGV[@]}" true </dev/null
    done
done
sleep 2

phase "memory: opening $SESSIONS idle sessions through Latch"
latch_rss_before=${PHASE_RSS[-1]}
open_idle_sessions c "$SESSIONS"
latch_reached=$REACHED
sleep 5
latch_live=$(live_latch_sessions)
read -r latch_rss_idle _ <<<"$(python3 "$MEASURE" mem "$LATCH_PID")"
latch_fds=$(find "/proc/$LATCH_PID/fd" -mindepth 1 | wc -l)
latch_errors=$(idle_errors c)
phase "memory: closing the $SESSIONS idle sessions through Latch"
close_idle_sessions
deadline=$((SECONDS + 60))
while (($(live_latch_sessions) > 0)) && ((SECONDS < deadline)); do
    sleep 1
done
sleep 2
latch_live_after=$(live_latch_sessions)

phase "memory: $SESSIONS idle sessions through the sshd jump host"
JUMP_SSHD_PID=${SSHD_PIDS[1]}
read -r jump_rss_before jump_pss_before _ <<<"$(python3 "$MEASURE" mem "$JUMP_SSHD_PID")"
open_idle_sessions b "$SESSIONS"
jump_reached=$REACHED
sleep 5
read -r jump_rss_idle jump_pss_idle jump_procs <<<"$(python3 "$MEASURE" mem "$JUMP_SSHD_PID")"
jump_errors=$(idle_errors b)
close_idle_sessions

# ---------------------------------------------------------------------------------------------------------------
# Connection setup, interactive round trip, bulk throughput; the paths interleaved.

phase "setup time: $SETUP_RUNS x ssh … true per path"
for ((run = 0; run < SETUP_RUNS; run++)); do
    for path in "${PATHS[@]}"; do
        ssh_argv "$path"
        python3 "$MEASURE" setup -- "${SSH_ARGV[@]}" true >>"$WORK/samples/setup.$path"
    done
done

phase "interactive round trip: $RTT_RUNS x $RTT_COUNT one-byte round trips per path"
for ((run = 0; run < RTT_RUNS; run++)); do
    for path in "${PATHS[@]}"; do
        ssh_argv "$path" -tt
        python3 "$MEASURE" rtt --count "$RTT_COUNT" -- "${SSH_ARGV[@]}" 'stty raw -echo; printf R; exec cat' \
            >>"$WORK/samples/rtt.$path"
    done
done

for payload in "${PAYLOAD_LIST[@]}"; do
    if [[ $payload == zero ]]; then
        source_command="head -c $SIZE_BYTES /dev/zero"
        upload_file=()
    else
        source_command="cat $TEXT_PAYLOAD"
        upload_file=(--file "$TEXT_PAYLOAD")
    fi
    phase "throughput ($payload): $THROUGHPUT_RUNS x $SIZE_MIB MiB per path and direction"
    for ((run = 0; run < THROUGHPUT_RUNS; run++)); do
        for path in "${PATHS[@]}"; do
            ssh_argv "$path"
            measure_transfer "$path" "download-$payload" download --bytes "$SIZE_BYTES" -- "${SSH_ARGV[@]}" \
                "$source_command"
            measure_transfer "$path" "upload-$payload" upload --bytes "$SIZE_BYTES" "${upload_file[@]}" -- \
                "${SSH_ARGV[@]}" 'printf R; exec wc -c'
        done
    done
done
phase "end"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
recordings_mib=$(du -sm "$DATA_DIR/recordings" | cut -f1)

# ---------------------------------------------------------------------------------------------------------------
# Report.

# METRIC PATH [SCALE]: the median of the samples; SCALE multiplies (1000 for seconds -> ms).
median() { stats "$WORK/samples/$1.$2" | awk -v s="${3:-1}" '{print $1 * s}'; }
# METRIC PATH SCALE DECIMALS: "p10–p90", or "min–max" when there are fewer than 10 samples.
spread() {
    stats "$WORK/samples/$1.$2" |
        awk -v s="$3" -v d="$4" '{
            f = "%." d "f–%." d "f"
            if ($6 < 10) printf f, $4 * s, $5 * s; else printf f, $2 * s, $3 * s
        }'
}

report() {
    local a b c ab_ratio cb_ratio payload direction spread_note="p10–p90 in brackets, min–max under 10 samples"
    printf '## Run of %s\n\n' "$started_at"
    printf 'Command: `bench/ssh-gateway.sh %s`  \n' "${ARGS[*]}"
    printf 'Machine: %s CPUs (%s), %s MiB RAM, %s; shared with other builds, so the numbers are noisy  \n' \
        "$(nproc)" "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
        "$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" "$(uname -sr)"
    printf 'Load average (1, 5, 15 min): %s at the start, %s at the end  \n' "$load_before" "$load_after"
    printf 'Software: %s; latch %s (commit %s, %s uncommitted files in the work tree)  \n' \
        "$(ssh -V 2>&1)" "$("$LATCH" --version 2>/dev/null | awk '{print $NF}')" \
        "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "$(git -C "$REPO" --no-optional-locks status --porcelain 2>/dev/null | wc -l)"
    printf 'Every leg: cipher %s, key exchange %s, ed25519 keys, no compression; the target and jump host are ' \
        "$CIPHER" "$KEX"
    printf 'throwaway sshd on 127.0.0.1 (UsePAM yes); Latch logs in to the target with an ed25519 key from its '
    printf 'vault.\n\n'

    printf '### Bulk throughput (MiB/s, median of %s transfers of %s MiB; %s)\n\n' \
        "$THROUGHPUT_RUNS" "$SIZE_MIB" "$spread_note"
    printf '| transfer | (a) direct | (b) ssh -J | (c) Latch | c/b | c/a | target c/b | result |\n'
    printf '|---|---:|---:|---:|---:|---:|---|---|\n'
    for payload in "${PAYLOAD_LIST[@]}"; do
        for direction in download upload; do
            a=$(median "$direction-$payload" a)
            b=$(median "$direction-$payload" b)
            c=$(median "$direction-$payload" c)
            cb_ratio=$(ratio "$c" "$b")
            ab_ratio=$(ratio "$c" "$a")
            printf '| %s, %s | %s (%s) | %s (%s) | %s (%s) | %s | %s | ≥ 0.80 | %s |\n' "$direction" "$payload" \
                "$(fmt %.0f "$a")" "$(spread "$direction-$payload" a 1 0)" "$(fmt %.0f "$b")" \
                "$(spread "$direction-$payload" b 1 0)" "$(fmt %.0f "$c")" "$(spread "$direction-$payload" c 1 0)" \
                "$cb_ratio" "$ab_ratio" "$(verdict "$cb_ratio" '>=' 0.8)"
        done
    done
    printf '\nDownload = target to client (`%s`, what Latch records); upload = client to target (`wc -c`).\n' \
        'head -c N /dev/zero` or `cat FILE'
    printf 'Timed from the first byte (download) or the remote ready mark (upload) to the end, so without setup. '
    printf 'Recordings written during the run: %s MiB.\n\n' "$recordings_mib"

    printf '### CPU time of the middle box per GiB transferred (s/GiB, median of %s; %s)\n\n' \
        "$THROUGHPUT_RUNS" "$spread_note"
    printf '| transfer | (b) sshd jump host | (c) latch serve | c/b |\n|---|---:|---:|---:|\n'
    for payload in "${PAYLOAD_LIST[@]}"; do
        for direction in download upload; do
            b=$(median "cpu-$direction-$payload" b)
            c=$(median "cpu-$direction-$payload" c)
            printf '| %s, %s | %s (%s) | %s (%s) | %s |\n' "$direction" "$payload" \
                "$(fmt %.2f "$b")" "$(spread "cpu-$direction-$payload" b 1 2)" \
                "$(fmt %.2f "$c")" "$(spread "cpu-$direction-$payload" c 1 2)" "$(ratio "$c" "$b")"
        done
    done
    printf '\nUser and system time of `latch serve`, or of the jump host sshd and its per-connection processes '
    printf '(sampled every 50 ms), during one transfer with its connection setup, divided by the GiB transferred. '
    printf 'The jump host relays the inner, end-to-end encrypted connection as opaque bytes: it only decrypts '
    printf '(upload) or encrypts (download) each byte once. Latch decrypts each byte from one leg, encrypts it for '
    printf 'the other and records the download. '
    printf 'The client side of (b) runs two ssh processes, one per encryption layer; they are not counted.\n\n'

    printf '### Connection setup (`ssh … true`, ms, median of %s; %s)\n\n' "$SETUP_RUNS" "$spread_note"
    printf '| (a) direct | (b) ssh -J | (c) Latch | c/b | c/a | target c/b | result |\n'
    printf '|---:|---:|---:|---:|---:|---|---|\n'
    a=$(median setup a 1000)
    b=$(median setup b 1000)
    c=$(median setup c 1000)
    cb_ratio=$(ratio "$c" "$b")
    printf '| %s (%s) | %s (%s) | %s (%s) | %s | %s | ≤ 1.30 | %s |\n\n' \
        "$(fmt %.1f "$a")" "$(spread setup a 1000 1)" "$(fmt %.1f "$b")" "$(spread setup b 1000 1)" \
        "$(fmt %.1f "$c")" "$(spread setup c 1000 1)" \
        "$cb_ratio" "$(ratio "$c" "$a")" "$(verdict "$cb_ratio" '<=' 1.3)"

    printf '### Interactive round trip (one byte through `cat` on a raw pty, ms, median of %s; %s)\n\n' \
        "$((RTT_RUNS * RTT_COUNT))" "$spread_note"
    printf '| (a) direct | (b) ssh -J | (c) Latch | c/b | c/a | target |\n|---:|---:|---:|---:|---:|---|\n'
    a=$(median rtt a 1000)
    b=$(median rtt b 1000)
    c=$(median rtt c 1000)
    printf '| %s (%s) | %s (%s) | %s (%s) | %s | %s | none set |\n\n' "$(fmt %.3f "$a")" "$(spread rtt a 1000 3)" \
        "$(fmt %.3f "$b")" "$(spread rtt b 1000 3)" "$(fmt %.3f "$c")" "$(spread rtt c 1000 3)" \
        "$(ratio "$c" "$b")" "$(ratio "$c" "$a")"

    printf '### Memory per idle session (%s concurrent `ssh -n -tt … sleep`, opened %s at a time)\n\n' \
        "$SESSIONS" "$BATCH"
    printf '| | sessions reached | before | with the idle sessions | per idle session | target | result |\n'
    printf '|---|---:|---:|---:|---:|---|---|\n'
    local latch_per=n/a latch_result="FAIL (no session)" jump_per=n/a
    if ((latch_reached > 0)); then
        latch_per=$(python3 -c 'import sys; a, b, n = map(int, sys.argv[1:]); print(f"{(b - a) / n:.1f}")' \
            "$latch_rss_before" "$latch_rss_idle" "$latch_reached")
        latch_result=$(verdict "$latch_per" '<' 200)
        ((latch_reached < SESSIONS)) && latch_result="$latch_result (only $latch_reached sessions)"
    fi
    if ((jump_reached > 0)); then
        jump_per=$(python3 -c 'import sys; a, b, n = map(int, sys.argv[1:]); print(f"{(b - a) / n:.1f}")' \
            "$jump_pss_before" "$jump_pss_idle" "$jump_reached")
    fi
    printf '| (c) Latch: RSS of `latch serve` | %s | %s KiB | %s KiB | %s KiB | < 200 KiB | %s |\n' \
        "$latch_reached" "$latch_rss_before" "$latch_rss_idle" "$latch_per" "$latch_result"
    printf '| (b) sshd jump host: PSS of its %s processes | %s | %s KiB | %s KiB | %s KiB | (comparison) | |\n\n' \
        "$jump_procs" "$jump_reached" "$jump_pss_before" "$jump_pss_idle" "$jump_per"
    printf 'Latch: %s live sessions in `latch sessions --live` with the idle sessions open, %s open files; ' \
        "$latch_live" "$latch_fds"
    printf 'after closing them %s live sessions. ' "$latch_live_after"
    printf 'Per-user limit of %s sessions (GatewayLimits::default()), so the sessions were spread over %s users. ' \
        "$LATCH_MAX_SESSIONS_PER_USER" "$LATCH_USERS"
    printf 'sshd jump host RSS summed over its processes (shared pages counted in each): %s KiB before, %s KiB with ' \
        "$jump_rss_before" "$jump_rss_idle"
    printf 'the sessions.\n\n'
    if [[ -n $latch_errors ]]; then
        printf 'Errors of the idle ssh clients through Latch (count, line):\n\n```\n%s\n```\n\n' "$latch_errors"
    fi
    if [[ -n $jump_errors ]]; then
        printf 'Errors of the idle ssh clients through the jump host (count, line):\n\n```\n%s\n```\n\n' "$jump_errors"
    fi

    printf '### The `latch serve` log and memory by phase\n\n'
    printf '| phase | Latch RSS at its start | warnings | errors |\n|---|---:|---:|---:|\n'
    local i to lines warnings
    for ((i = 0; i < ${#PHASES[@]}; i++)); do
        to='$'
        ((i + 1 < ${#PHASES[@]})) && to=${PHASE_LINES[i + 1]}
        lines=$(server_warnings "${PHASE_LINES[i]}" "$to")
        printf '| %s | %s KiB | %s | %s |\n' "${PHASES[i]}" "${PHASE_RSS[i]}" \
            "$(grep -c '^WARN' <<<"$lines" || true)" "$(grep -c '^ERROR' <<<"$lines" || true)"
    done
    warnings=$(server_warnings 0 '$' | cut -c1-300 | sort | uniq -c | sort -rn | head -10 || true)
    if [[ -n $warnings ]]; then
        printf '\nThe most frequent warnings and errors (count, line with ids and numbers replaced):\n\n'
        printf '```\n%s\n```\n\n' "$warnings"
    else
        printf '\nThe `latch serve` log has no warning or error.\n\n'
    fi
    local slowest
    slowest=$(grep -oE 'acquired_after_secs=[0-9.]+' "$WORK/serve.stderr" | cut -d= -f2 | sort -n | tail -1 || true)
    if [[ -n $slowest ]]; then
        printf 'The slowest wait for a database connection: %s s (the pool gives up after 10 s).\n\n' \
            "$(fmt %.1f "$slowest")"
    fi
}

report >"$WORK/report.md"
cat "$WORK/report.md"
if ((WRITE)); then
    if [[ ! -f $REPO/BENCHMARKS.md ]]; then
        printf '# Benchmarks\n\n' >"$REPO/BENCHMARKS.md"
    fi
    { printf '\n'; cat "$WORK/report.md"; } >>"$REPO/BENCHMARKS.md"
    log "appended the results to $REPO/BENCHMARKS.md"
fi
