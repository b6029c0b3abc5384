#!/bin/sh
# Build an OCI bundle whose rootfs is Debian's static busybox.
#
# usage: contrib/busybox-bundle.sh DIR [--rootless] [-- COMMAND...]
# Writes DIR/rootfs and DIR/config.json (from `userrunc spec`), with
# process.terminal off and COMMAND as process.args when given. Run it as
# the user who will run the container: the files are theirs.
set -eu

usage() {
    echo "usage: $0 DIR [--rootless] [-- COMMAND...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
case $1 in
    -h|--help)
        sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*) usage ;;
esac
bundle=$1
shift
spec_flags=
while [ $# -gt 0 ]; do
    case $1 in
        --rootless) spec_flags=--rootless; shift ;;
        --) shift; break ;;
        *) usage ;;
    esac
done

busybox=/usr/bin/busybox
if [ ! -x "$busybox" ] || ! file_out=$("$busybox" --list 2>/dev/null) || [ -z "$file_out" ]; then
    echo "$0: $busybox is missing; install it with: apt-get install busybox-static" >&2
    exit 1
fi
here=$(cd "$(dirname "$0")/.." && pwd)
userrunc=${USERRUNC:-$here/.venv/bin/userrunc}

if [ -e "$bundle" ]; then
    echo "$0: $bundle already exists; choose a new directory" >&2
    exit 1
fi
mkdir -p "$bundle/rootfs/bin"
cd "$bundle"
for name in proc sys dev etc tmp root home/user; do
    mkdir -p "rootfs/$name"
done
chmod 1777 rootfs/tmp
cp "$busybox" rootfs/bin/busybox
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "rootfs/bin/$applet"
done
cat > rootfs/etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/:/bin/sh
PASSWD
cat > rootfs/etc/group <<'GROUP'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
GROUP

"$userrunc" spec $spec_flags --bundle .
"$here/.venv/bin/python" - "$@" <<'PYTHON'
import json
import sys

with open("config.json") as handle:
    config = json.load(handle)
config["process"]["terminal"] = False
if len(sys.argv) > 1:
    config["process"]["args"] = sys.argv[1:]
with open("config.json", "w") as handle:
    json.dump(config, handle, indent=2)
    handle.write("\n")
PYTHON
