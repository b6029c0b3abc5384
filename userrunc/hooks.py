"""OCI hooks: each gets the container state as JSON on stdin.

Where each kind runs (runtime-spec config.md, "POSIX-platform Hooks"):
- prestart and createRuntime: in the runtime's namespaces, once the
  container's namespaces exist;
- createContainer: in the container's namespaces, before pivot_root;
- startContainer: in the container, just before the user process;
- poststart: in the runtime, after the user process started;
- poststop: in the runtime, after the container was deleted.
Failures of poststart and poststop are logged as warnings. Failures of the
others abort the operation.
"""

from __future__ import annotations

from . import jsonutil, log
from .errors import HookError

TOLERATED = ("poststart", "poststop")


def has(spec_hooks: dict | None, *kinds: str) -> bool:
    return bool(spec_hooks) and any(spec_hooks.get(kind) for kind in kinds)


def run(spec_hooks: dict | None, kind: str, state: dict) -> None:
    """Run every hook of one kind in order; raise HookError unless the kind tolerates failures."""
    if not spec_hooks:
        return
    payload = jsonutil.dumps(state).encode()
    for index, hook in enumerate(spec_hooks.get(kind) or ()):
        try:
            with log.step(f"hook {kind}[{index}] {hook['path']}"):
                _run_one(hook, payload, f"{kind} hook {index} ({hook['path']})")
        except HookError as error:
            if kind in TOLERATED:
                log.warning(str(error))
                continue
            raise


def _run_one(hook: dict, payload: bytes, name: str) -> None:
    import subprocess

    args = hook.get("args") or [hook["path"]]
    env = None
    if "env" in hook:
        env = {}
        for item in hook["env"]:
            key, _sep, value = item.partition("=")
            env[key] = value
    timeout = hook.get("timeout")
    try:
        process = subprocess.Popen(
            args,
            executable=hook["path"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
        )
    except OSError as error:
        raise HookError(f"{name}: cannot run: {error.strerror}") from None
    try:
        stdout, stderr = process.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise HookError(f"{name} timed out after {timeout} s and was killed") from None
    if process.returncode != 0:
        output = (stderr or stdout).decode("utf-8", "replace").strip().replace("\n", " | ")
        if process.returncode < 0:
            status = f"was killed by signal {-process.returncode}"
        else:
            status = f"exited with status {process.returncode}"
        raise HookError(f"{name} {status}" + (f": {output[:500]}" if output else ""))


def state_for_hooks(container_id: str, bundle: str, annotations: dict | None, status: str, pid: int) -> dict:
    from . import OCI_VERSION

    state = {"ociVersion": OCI_VERSION, "id": container_id, "status": status, "pid": pid, "bundle": bundle}
    if annotations:
        state["annotations"] = annotations
    return state


def remove_unused(spec_hooks: dict | None) -> dict:
    """Return only the hook kinds that later commands run (poststart, poststop)."""
    if not spec_hooks:
        return {}
    return {kind: spec_hooks[kind] for kind in TOLERATED if spec_hooks.get(kind)}

