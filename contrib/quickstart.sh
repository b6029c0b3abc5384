#!/bin/sh
# Set up userrunc on Debian or Ubuntu and run a rootless container.
#
# usage: contrib/quickstart.sh [--setup-only]   (as root, or as a user with sudo)
# 1. installs the system packages userrunc needs;
# 2. creates .venv in the checkout, installs userrunc into it, and links
#    /usr/local/bin/userrunc to it (unless another userrunc is there);
# 3. unless --setup-only: gives the unprivileged user (the one who ran sudo,
#    or a new user userrunc-demo) subordinate ids and a runtime directory,
#    builds a busybox bundle as that user and runs a container in it.
set -eu

setup_only=no
case ${1:-} in
    "") ;;
    --setup-only) setup_only=yes ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--setup-only]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "$0: run it as root: it installs packages and sets up a user" >&2
        exit 1
    fi
    exec sudo "$0" "$@"
fi
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

packages="uidmap busybox-static python3 python3-venv python3-dev gcc libcap-dev libseccomp2 util-linux iproute2"
missing=
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi

if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv .venv
fi
# The compat editable mode adds only a path to site-packages; the default
# mode installs an import hook that costs about 9 ms at every start.
if ! .venv/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat >.venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "$0: installing userrunc into .venv failed (log above)" >&2
    exit 1
fi
# Unprivileged users cannot write __pycache__ here, and compiling on every
# start would cost more than the rest of a container's start.
.venv/bin/python -m compileall -q userrunc idmap net
link=/usr/local/bin/userrunc
if [ ! -e "$link" ] || [ "$(readlink "$link")" = "$here/.venv/bin/userrunc" ]; then
    ln -sfn "$here/.venv/bin/userrunc" "$link"
    echo "userrunc is $link (a link to $here/.venv/bin/userrunc)"
else
    echo "$link exists and is not this checkout's; use $here/.venv/bin/userrunc"
fi

[ "$setup_only" = yes ] && exit 0

user=${SUDO_USER:-}
if [ -z "$user" ] || [ "$user" = root ]; then
    user=userrunc-demo
    id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
fi
uid=$(id -u "$user")
if ! grep -q "^$user:" /etc/subuid || ! grep -q "^$user:" /etc/subgid; then
    # Pick a 65536-id range above every range already handed out.
    start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: 'BEGIN {m = 100000} {e = $2 + $3; if (e > m) m = e} END {print m}')
    usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$user"
fi
runtime_dir=/run/user/$uid
if [ ! -d "$runtime_dir" ]; then
    mkdir -p "$runtime_dir"
    chown "$user:" "$runtime_dir"
    chmod 700 "$runtime_dir"
fi
if ! runuser -u "$user" -- test -x "$here/.venv/bin/userrunc"; then
    echo "$0: $user cannot reach $here; clone userrunc into a directory that others can read (for example /srv or /var/tmp)" >&2
    exit 1
fi

bundle=$(runuser -u "$user" -- mktemp -d /tmp/userrunc-demo.XXXXXX)
rmdir "$bundle"
runuser -u "$user" -- env XDG_RUNTIME_DIR="$runtime_dir" "$here/contrib/busybox-bundle.sh" "$bundle" --rootless -- \
    sh -c 'echo "Hello from a rootless userrunc container: $(id), hostname $(hostname), $(cat /proc/self/uid_map | wc -l) uid map line(s)"'
echo "running as $user: userrunc run --bundle $bundle demo-$$"
cd /
runuser -u "$user" -- env XDG_RUNTIME_DIR="$runtime_dir" "$here/.venv/bin/userrunc" run --bundle "$bundle" "demo-$$"
status=$?
rm -rf "$bundle"
exit $status
