"""User and group id mapping for user namespaces, usable without the rest of userrunc.

Typical rootless use::

    ranges = subordinate_ranges("uid", "alice")
    uid_mappings = automatic_mappings(os.getuid(), ranges)
    validate_mappings("uid", uid_mappings, host_id=os.getuid(), ranges=ranges, privileged=False)
    write_mappings(pid, uid_mappings, gid_mappings, privileged=False, host_uid=os.getuid(), host_gid=os.getgid())

Every module imports only cheap standard modules (os, stat, errno), because
a rootless create imports this package on every start.
"""

from __future__ import annotations

from .errors import (
    HelperFailed,
    HelperMissing,
    HelperNotPrivileged,
    IdMapError,
    InvalidMapping,
    MapWriteFailed,
    NoSubordinateRanges,
    RangesTooSmall,
    SubordinateLookupFailed,
    UserNamespacesUnavailable,
)
from .helpers import check_helpers, find_helper
from .mapping import (
    ID_LIMIT,
    IdMapping,
    SubordinateRange,
    automatic_mappings,
    format_map,
    is_mapped,
    parse_map,
    read_map,
    single_mapping,
    to_container,
    to_host,
)
from .subid import SubidProblem, free_range, subid_file_problems, subid_source, subordinate_ranges
from .userns import explain_userns_failure
from .validate import validate_mappings
from .write import write_mappings

__all__ = [
    "ID_LIMIT",
    "HelperFailed",
    "HelperMissing",
    "HelperNotPrivileged",
    "IdMapError",
    "IdMapping",
    "InvalidMapping",
    "MapWriteFailed",
    "NoSubordinateRanges",
    "RangesTooSmall",
    "SubidProblem",
    "SubordinateLookupFailed",
    "SubordinateRange",
    "UserNamespacesUnavailable",
    "automatic_mappings",
    "check_helpers",
    "explain_userns_failure",
    "find_helper",
    "format_map",
    "free_range",
    "is_mapped",
    "parse_map",
    "read_map",
    "single_mapping",
    "subid_file_problems",
    "subid_source",
    "subordinate_ranges",
    "to_container",
    "to_host",
    "validate_mappings",
    "write_mappings",
]
