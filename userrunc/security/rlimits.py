"""process.rlimits and process.oomScoreAdj, applied before the user namespace exists.

Raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace,
and so does lowering oom_score_adj below its current value. So both are set
while the process still has the caller's full privileges, as runc does with
prlimit from the parent.
"""

from __future__ import annotations

import resource

from ..errors import UserruncError


def apply_rlimits(rlimits) -> None:
    for index, rlimit in enumerate(rlimits or ()):
        kind = rlimit["type"]
        number = getattr(resource, kind, None)
        if number is None:
            raise UserruncError(f"process.rlimits[{index}]: {kind} is not available on this system")
        soft = _infinity(rlimit["soft"])
        hard = _infinity(rlimit["hard"])
        try:
            # prlimit, unlike setrlimit, reports EPERM as an OSError with its errno instead of a ValueError.
            resource.prlimit(0, number, (soft, hard))
        except (OSError, ValueError) as error:
            current_soft, current_hard = resource.getrlimit(number)
            reason = getattr(error, "strerror", None) or str(error)
            hint = ""
            if hard > current_hard and current_hard != resource.RLIM_INFINITY:
                hint = (
                    f"; the hard limit cannot be raised above the current {current_hard} "
                    "without CAP_SYS_RESOURCE (lower it, or raise the caller's limit first)"
                )
            raise UserruncError(
                f"process.rlimits[{index}]: cannot set {kind} to soft {rlimit['soft']} hard {rlimit['hard']}: {reason}{hint}"
            ) from None


def _infinity(value: int) -> int:
    return resource.RLIM_INFINITY if value >= 0xFFFFFFFFFFFFFFFF else value


def apply_oom_score_adj(value) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write(str(value))
    except OSError as error:
        with open("/proc/self/oom_score_adj") as handle:
            current = handle.read().strip()
        raise UserruncError(
            f"process.oomScoreAdj: cannot set {value}: {error.strerror} "
            f"(the current value is {current}; going lower needs CAP_SYS_RESOURCE)"
        ) from None
