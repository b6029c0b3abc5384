"""Run one write_mappings scenario in a real user namespace and print the outcome as JSON.

The real-system tests run this script as a test user (through setpriv), so
that newuidmap and newgidmap see an unprivileged caller. The script forks a
child that unshares a user namespace and waits. The parent maps the child
with write_mappings, reads the child's /proc files, and then lets the child
report the ids it has inside and whether setgroups works there.

Usage: python userns_child.py REQUEST. REQUEST is a JSON object with "uid"
and "gid", each "auto", "single" or a list of [container, host, size]. It may
also set "privileged" (default false) and "twice", which writes the maps a
second time so that the kernel must reject the second write. With
{"threads": true}, the script instead unshares from a multithreaded process
and prints the explanation of the failure.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading

from userrunc.idmap import (
    IdMapError,
    IdMapping,
    automatic_mappings,
    explain_userns_failure,
    single_mapping,
    subordinate_ranges,
    write_mappings,
)

CLONE_NEWUSER = 0x10000000
_libc = ctypes.CDLL(None, use_errno=True)


def unshare_user() -> int:
    """Return 0 on success or the errno of unshare(CLONE_NEWUSER)."""
    if _libc.unshare(CLONE_NEWUSER) == 0:
        return 0
    return ctypes.get_errno()


def mappings_for(kind: str, spec, own_id: int) -> list[IdMapping]:
    if spec == "auto":
        return automatic_mappings(own_id, subordinate_ranges(kind, os.getuid()))
    if spec == "single":
        return single_mapping(own_id)
    return [IdMapping(*values) for values in spec]


def run_child(ready_write: int, go_read: int, report_write: int) -> None:
    error = unshare_user()
    os.write(ready_write, str(error).encode())
    if error:
        os._exit(1)
    if os.read(go_read, 1) != b"g":
        os._exit(1)

    try:
        os.setgroups([0])
        setgroups = "ok"
    except OSError as failure:
        setgroups = failure.strerror or str(failure)
    report = {"uid": os.getuid(), "gid": os.getgid(), "setgroups": setgroups}
    os.write(report_write, json.dumps(report).encode())
    os._exit(0)


def read_proc(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/{name}") as file:
        return file.read()


def write_scenario(request: dict) -> dict:
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    report_read, report_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            # Without the parent's ends, the child reads end of file if the parent dies.
            for fd in (ready_read, go_write, report_read):
                os.close(fd)
            run_child(ready_write, go_read, report_write)
        finally:
            os._exit(1)

    for fd in (ready_write, go_read, report_write):
        os.close(fd)
    result: dict = {"pid": pid, "host_uid": os.getuid(), "host_gid": os.getgid()}
    unshare_error = int(os.read(ready_read, 16) or b"-1")
    if unshare_error:
        result["unshare_error"] = unshare_error
        os.waitpid(pid, 0)
        return result

    options = {"privileged": request.get("privileged", False), "host_uid": os.getuid(), "host_gid": os.getgid()}
    try:
        uids = mappings_for("uid", request["uid"], os.getuid())
        gids = mappings_for("gid", request["gid"], os.getgid())
        result["uid_mappings"] = [list(m) for m in uids]
        result["gid_mappings"] = [list(m) for m in gids]
        write_mappings(pid, uids, gids, **options)
        if request.get("twice"):
            write_mappings(pid, uids, gids, **options)
        result["error"] = None
    except IdMapError as error:
        result["error"] = [type(error).__name__, str(error)]

    for name in ("uid_map", "gid_map", "setgroups"):
        result[name] = read_proc(pid, name)
    os.write(go_write, b"g")
    os.close(go_write)
    report = os.read(report_read, 4096)
    os.waitpid(pid, 0)
    result["child"] = json.loads(report) if report else None
    return result


def threads_scenario() -> dict:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        error = unshare_user()
        return {"errno": error, "explanation": explain_userns_failure(error) if error else None}
    finally:
        stop.set()
        thread.join()


def main() -> None:
    request = json.loads(sys.argv[1])
    result = threads_scenario() if request.get("threads") else write_scenario(request)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
