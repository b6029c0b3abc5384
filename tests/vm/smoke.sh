#!/bin/sh
# Check, inside the guest, what the systemd-dependent userrunc tests need:
# a user manager with its D-Bus session bus, delegated cgroup v2
# controllers, user namespaces with subordinate ids, and the host venv
# through the 9p share. Run it as the test user:
#   tests/vm/run --user urvm tests/vm/smoke.sh
# shellcheck disable=SC2016 # the sh -c scripts expand their own variables
set -u

checkout=$(cd "$(dirname "$0")/../.." && pwd)
venv_python=${VENV_PYTHON:-$checkout/.venv/bin/python}
user_service_cgroup=/sys/fs/cgroup/user.slice/user-$(id -u).slice/user@$(id -u).service

passed=0
failed=0

# Run one check, print its output, and count the result.
check() {
    name=$1
    shift
    echo "== $name"
    if "$@"; then
        echo "-- ok: $name"
        passed=$((passed + 1))
    else
        echo "-- FAILED (exit $?): $name"
        failed=$((failed + 1))
    fi
}

# Succeed when file $1 lists every controller named after it.
has_controllers() {
    file=$1
    shift
    controllers=$(cat "$file") || return 1
    echo "$file: $controllers"
    for controller in "$@"; do
        case " $controllers " in
        *" $controller "*) ;;
        *)
            echo "missing controller: $controller"
            return 1
            ;;
        esac
    done
}

check "cgroup v2 only" sh -c 'fs=$(stat -fc %T /sys/fs/cgroup); echo "$fs"; [ "$fs" = cgroup2fs ]'
check "session environment" sh -c 'env | grep -E "^(XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS)=" &&
    [ "$XDG_RUNTIME_DIR" = "/run/user/$(id -u)" ] && [ -n "$DBUS_SESSION_BUS_ADDRESS" ]'
check "user manager running" systemctl --user is-system-running
check "user bus" busctl --user call org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus GetId
check "user bus names" sh -c 'busctl --user list --no-pager | head -n 5'
check "delegated controllers" has_controllers "$user_service_cgroup/cgroup.controllers" \
    cpu io memory pids
check "delegated transient scope" systemd-run --user --scope -p Delegate=yes true
check "controllers in delegated scope" systemd-run --user --scope --quiet -p Delegate=yes \
    sh -c 'c=$(cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/cgroup.controllers") &&
        echo "$c" && echo " $c " | grep -q " memory " && echo " $c " | grep -q " pids "'
check "user namespace" unshare --user --map-root-user id
check "subordinate ids" sh -c 'grep "^$(id -un):" /etc/subuid /etc/subgid &&
    unshare --user --map-auto --map-root-user cat /proc/self/uid_map /proc/self/gid_map'
check "network helpers" sh -c 'slirp4netns --version | head -n 1 && command -v passt'
check "host venv over 9p" "$venv_python" -c '
import sys, click, prctl, dbus_fast, pyroute2
print(sys.executable, sys.version.split()[0])
print(click.__file__)'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
