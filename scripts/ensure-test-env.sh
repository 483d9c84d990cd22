#!/usr/bin/env bash
# Provide the real components the test suite uses (DESIGN.md §4).
#
#   - Debian packages: docker.io, docker-registry, skopeo, buildah, awscli (v2),
#     rsync, ca-certificates, busybox-static (base images), apache2-utils (htpasswd),
#     isal (igzip, the fast compressor hoist copy picks when present)
#     -> installed with apt-get only when something is missing.
#   - Docker Engine: started in the background when no engine answers, listening on
#     the unix socket AND tcp://127.0.0.1:2375 (DinD style, TLS off, loopback only).
#
# Idempotent: a second run with everything present only checks and prints "found".
# Under CI=true a component that cannot be provided makes the script exit non-zero;
# otherwise it only warns. Never prints environment values (no secrets).
#
# Environment knobs:
#   HOIST_TEST_STATE              state dir (default ${TMPDIR:-/tmp}/hoist-test): dockerd log, pid, lock
#   HOIST_DOCKER_STORAGE_DRIVER   storage drivers to try, in order (default "overlay2 vfs")
#   HOIST_DOCKERD_WAIT            seconds to wait for dockerd (default 60)
set -uo pipefail

STATE_DIR="${HOIST_TEST_STATE:-${TMPDIR:-/tmp}/hoist-test}"
DOCKER_SOCK=/var/run/docker.sock
DOCKER_TCP=tcp://127.0.0.1:2375
DOCKERD_WAIT="${HOIST_DOCKERD_WAIT:-60}"
IS_CI=false
[[ "${CI:-}" == "true" ]] && IS_CI=true

mkdir -p "$STATE_DIR"
failures=()

say() { printf 'ensure-test-env: %-16s %s\n' "$1" "$2"; }
problem() {
  # problem COMPONENT MESSAGE
  if $IS_CI; then
    say "$1" "MISSING: $2"
    failures+=("$1: $2")
  else
    say "$1" "warning: $2 (tests that need it will be skipped)"
  fi
}

# Never let host Docker/AWS settings steer our own checks.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONFIG

# Serialise concurrent runs (bounded): two parallel `npm test` must not race two dockerds.
exec 9>"$STATE_DIR/ensure.lock"
if ! flock -w 180 9; then
  say lock "could not acquire $STATE_DIR/ensure.lock within 180 s"
  exit 1
fi

# ---------------------------------------------------------------- packages
# Debian's awscli v2 (never the pyenv v1 that may come first on PATH).
aws_v2_path() {
  local p
  p="$(dpkg -L awscli 2>/dev/null | grep -E '/bin/aws$' | head -n1)"
  [[ -n "$p" && -x "$p" ]] && { echo "$p"; return 0; }
  return 1
}
have_aws_v2() {
  local p
  p="$(aws_v2_path)" || return 1
  "$p" --version 2>&1 | grep -q '^aws-cli/2'
}
have_busybox_static() { dpkg -s busybox-static >/dev/null 2>&1 && [[ -x /bin/busybox ]]; }
have_ca_certs() { [[ -s /etc/ssl/certs/ca-certificates.crt ]]; }
have() { command -v "$1" >/dev/null 2>&1; }

# component|package|check
COMPONENTS=(
  "docker-cli|docker.io|have docker"
  "dockerd|docker.io|have dockerd"
  "docker-registry|docker-registry|have docker-registry"
  "skopeo|skopeo|have skopeo"
  "buildah|buildah|have buildah"
  "awscli-v2|awscli|have_aws_v2"
  "rsync|rsync|have rsync"
  "ca-certificates|ca-certificates|have_ca_certs"
  "busybox-static|busybox-static|have_busybox_static"
  "htpasswd|apache2-utils|have htpasswd"
  "igzip|isal|have igzip"
)

missing_pkgs=()
for entry in "${COMPONENTS[@]}"; do
  IFS='|' read -r name pkg check <<<"$entry"
  if eval "$check"; then
    say "$name" "found"
  else
    [[ " ${missing_pkgs[*]-} " == *" $pkg "* ]] || missing_pkgs+=("$pkg")
  fi
done

if ((${#missing_pkgs[@]})); then
  say apt "installing: ${missing_pkgs[*]}"
  apt_log="$STATE_DIR/apt.log"
  if [[ $(id -u) -ne 0 ]]; then
    say apt "not root: cannot install packages"
  else
    export DEBIAN_FRONTEND=noninteractive
    # Do not let package scripts try to start services (no init system here).
    if ! apt-get update >"$apt_log" 2>&1; then
      say apt "apt-get update failed (see $apt_log)"
    fi
    if ! apt-get install -y --no-install-recommends "${missing_pkgs[@]}" >>"$apt_log" 2>&1; then
      say apt "apt-get install failed (see $apt_log)"
    fi
  fi
  for entry in "${COMPONENTS[@]}"; do
    IFS='|' read -r name pkg check <<<"$entry"
    [[ " ${missing_pkgs[*]} " == *" $pkg "* ]] || continue
    if eval "$check"; then
      say "$name" "installed ($pkg)"
    else
      problem "$name" "package $pkg could not be installed"
    fi
  done
fi

# ---------------------------------------------------------------- docker engine
engine_unix() { timeout 15 docker -H "unix://$DOCKER_SOCK" info >/dev/null 2>&1; }
engine_tcp() { timeout 15 docker -H "$DOCKER_TCP" info >/dev/null 2>&1; }

DOCKERD_LOG="$STATE_DIR/dockerd.log"
DOCKERD_PID="$STATE_DIR/dockerd.pid"

# start_dockerd DRIVER -> 0 when both endpoints answer within DOCKERD_WAIT seconds
start_dockerd() {
  local driver="$1" pid i
  {
    echo "=== $(date -u +%FT%TZ) starting dockerd --storage-driver=$driver"
  } >>"$DOCKERD_LOG"
  # setsid: own session, survives this script; stdin closed; logs to the state dir;
  # fd 9 (the lock) closed, or the daemon would hold the lock for its whole life.
  setsid dockerd \
    -H "unix://$DOCKER_SOCK" \
    -H "$DOCKER_TCP" \
    --tls=false \
    --storage-driver="$driver" \
    --pidfile="$DOCKERD_PID.daemon" \
    </dev/null >>"$DOCKERD_LOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$DOCKERD_PID"
  for ((i = 0; i < DOCKERD_WAIT * 2; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say docker-engine "dockerd ($driver) exited early, see $DOCKERD_LOG"
      return 1
    fi
    if engine_unix && engine_tcp; then
      return 0
    fi
    sleep 0.5
  done
  say docker-engine "dockerd ($driver) did not answer within ${DOCKERD_WAIT}s, see $DOCKERD_LOG"
  kill "$pid" 2>/dev/null
  for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null
  return 1
}

if ! have dockerd || ! have docker; then
  problem docker-engine "docker.io is not installed"
elif engine_unix; then
  driver="$(timeout 15 docker -H "unix://$DOCKER_SOCK" info --format '{{.Driver}}' 2>/dev/null)"
  if engine_tcp; then
    say docker-engine "found (running, storage $driver, unix://$DOCKER_SOCK + $DOCKER_TCP)"
  else
    problem docker-engine "an engine answers on unix://$DOCKER_SOCK but not on $DOCKER_TCP (started without -H $DOCKER_TCP?)"
  fi
else
  # Stale pid/socket from a dead daemon would stop a new one from starting.
  if [[ -S "$DOCKER_SOCK" ]] && ! pgrep -x dockerd >/dev/null; then
    rm -f "$DOCKER_SOCK"
  fi
  if pgrep -x dockerd >/dev/null; then
    problem docker-engine "a dockerd process exists but does not answer on unix://$DOCKER_SOCK"
  else
    rm -f "$DOCKERD_PID.daemon" /var/run/docker.pid 2>/dev/null
    read -ra drivers <<<"${HOIST_DOCKER_STORAGE_DRIVER:-overlay2 vfs}"
    started=""
    t0=$SECONDS
    for d in "${drivers[@]}"; do
      if start_dockerd "$d"; then started="$d"; break; fi
      rm -f "$DOCKER_SOCK" "$DOCKERD_PID.daemon" 2>/dev/null
    done
    if [[ -n "$started" ]]; then
      say docker-engine "started (dockerd pid $(cat "$DOCKERD_PID"), storage $started, unix://$DOCKER_SOCK + $DOCKER_TCP, $((SECONDS - t0))s, log $DOCKERD_LOG)"
    else
      problem docker-engine "dockerd could not be started (tried: ${drivers[*]}; log $DOCKERD_LOG)"
    fi
  fi
fi

if ((${#failures[@]})); then
  echo "ensure-test-env: CI=true and ${#failures[@]} component(s) are missing:" >&2
  for f in "${failures[@]}"; do echo "  - $f" >&2; done
  exit 1
fi
exit 0
