"""Unit tests for validate_mappings: each error message is checked word for word."""

from __future__ import annotations

import os
import pwd

import pytest

from userrunc.idmap import ID_LIMIT, IdMapping, InvalidMapping, RangesTooSmall, SubordinateRange, validate_mappings
from userrunc.idmap.validate import MAX_MAPPINGS

RANGES = [SubordinateRange(100000, 65536)]


def validate(mappings, *, kind="uid", host_id=1000, ranges=RANGES, privileged=False, **extra):
    validate_mappings(kind, mappings, host_id=host_id, ranges=ranges, privileged=privileged, **extra)


def error_of(mappings, **options) -> InvalidMapping:
    with pytest.raises(InvalidMapping) as info:
        validate(mappings, **options)
    return info.value


def test_accepts_automatic_mapping():
    validate([IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)])


def test_accepts_single_own_id():
    validate([IdMapping(0, 1000, 1)], ranges=[])


def test_accepts_part_of_range():
    validate([IdMapping(0, 1000, 1), IdMapping(1000, 120000, 10)])


def test_accepts_id_at_kernel_limit():
    validate([IdMapping(0, ID_LIMIT - 1, 1)], privileged=True)
    validate([IdMapping(ID_LIMIT - 10, 0, 10)], privileged=True)


def test_accepts_mapping_across_two_ranges():
    ranges = [SubordinateRange(100000, 10), SubordinateRange(100010, 10)]
    validate([IdMapping(0, 100000, 20)], ranges=ranges)


def test_empty_list():
    error = error_of([])
    assert error.message == "no uid mappings were given; give at least one, such as containerID=0 hostID=1000 size=1"
    assert error.index is None


def test_too_many_mappings():
    mappings = [IdMapping(i * 2, 100000 + i * 2, 1) for i in range(MAX_MAPPINGS + 1)]
    error = error_of(mappings, privileged=True)
    assert error.message == (
        "341 uid mappings were given, but the kernel accepts at most 340; "
        "merge mappings whose ids are adjacent on both sides"
    )


@pytest.mark.skipif(os.sysconf("SC_PAGE_SIZE") > 7200, reason="340 lines always fit in a page this large")
def test_map_text_longer_than_page():
    # 300 lines of 24 bytes each.
    mappings = [IdMapping(1000000000 + i * 2, 3000000000 + i * 2, 1) for i in range(300)]
    error = error_of(mappings, privileged=True)
    page_size = os.sysconf("SC_PAGE_SIZE")
    assert error.message == (
        f"the uid map text is 7200 bytes, but the kernel accepts at most {page_size - 1} bytes in one write; "
        "use fewer uid mappings by merging those whose ids are adjacent on both sides"
    )


def test_size_zero():
    error = error_of([IdMapping(0, 1000, 1), IdMapping(1, 100000, 0)])
    assert error.message == (
        "uid mapping 1 (containerID=1 hostID=100000 size=0) is invalid: size must be at least 1; "
        "set it to the number of ids to map"
    )
    assert error.index == 1


def test_negative_container_id():
    error = error_of([IdMapping(-1, 1000, 1)])
    assert error.message == (
        "uid mapping 0 (containerID=-1 hostID=1000 size=1) is invalid: containerID must not be negative; "
        "use an id between 0 and 4294967294"
    )


def test_negative_host_id():
    error = error_of([IdMapping(0, -5, 1)], kind="gid")
    assert error.message == (
        "gid mapping 0 (containerID=0 hostID=-5 size=1) is invalid: hostID must not be negative; "
        "use an id between 0 and 4294967294"
    )


def test_id_above_limit():
    error = error_of([IdMapping(ID_LIMIT, 1000, 1)])
    assert error.message == (
        "uid mapping 0 (containerID=4294967295 hostID=1000 size=1) is invalid: containerID is above "
        "4294967294, the largest id the kernel maps; use a smaller containerID"
    )


def test_end_above_limit():
    error = error_of([IdMapping(0, 1000, 1), IdMapping(1, 4294900000, 100000)], privileged=True)
    assert error.message == (
        "uid mapping 1 (containerID=1 hostID=4294900000 size=100000) is invalid: hostID + size is "
        "4295000000, above the maximum 4294967295; reduce size to at most 67295"
    )


def test_container_end_above_limit():
    error = error_of([IdMapping(4294967290, 1000, 10)], privileged=True)
    assert error.message == (
        "uid mapping 0 (containerID=4294967290 hostID=1000 size=10) is invalid: containerID + size is "
        "4294967300, above the maximum 4294967295; reduce size to at most 5"
    )


def test_non_integer_field():
    error = error_of([(0, "1000", 1)])
    assert error.message == "uid mapping 0 (containerID=0 hostID='1000' size=1) is invalid: hostID must be an integer"


def test_wrong_field_count():
    error = error_of([(0, 1000)])
    assert error.message == "uid mapping 0 ((0, 1000)) is invalid: expected containerID, hostID and size"


def test_container_overlap():
    error = error_of([IdMapping(0, 1000, 1), IdMapping(0, 100000, 10)])
    assert error.message == (
        "uid mappings 0 (containerID=0 hostID=1000 size=1) and 1 (containerID=0 hostID=100000 size=10) "
        "overlap on the container side at ids 0-0; give each container id at most one mapping"
    )
    assert error.index == 1


def test_container_overlap_partial():
    error = error_of([IdMapping(5, 100000, 10), IdMapping(0, 1000, 1), IdMapping(10, 120000, 10)])
    assert error.message == (
        "uid mappings 0 (containerID=5 hostID=100000 size=10) and 2 (containerID=10 hostID=120000 size=10) "
        "overlap on the container side at ids 10-14; give each container id at most one mapping"
    )


def test_host_overlap():
    error = error_of([IdMapping(0, 1000, 1), IdMapping(1, 100000, 100), IdMapping(200, 100050, 10)], kind="gid")
    assert error.message == (
        "gid mappings 1 (containerID=1 hostID=100000 size=100) and 2 (containerID=200 hostID=100050 size=10) "
        "overlap on the host side at ids 100050-100059; map each host id at most once"
    )


def test_host_overlap_with_own_id():
    error = error_of([IdMapping(0, 100000, 1), IdMapping(1, 100000, 65536)], host_id=100000)
    assert error.message == (
        "uid mappings 0 (containerID=0 hostID=100000 size=1) and 1 (containerID=1 hostID=100000 size=65536) "
        "overlap on the host side at ids 100000-100000; map each host id at most once"
    )


def test_host_id_not_granted():
    error = error_of([IdMapping(0, 1000, 1), IdMapping(1, 200000, 65536)], user="alice")
    assert error.message == (
        "uid mapping 1 (containerID=1 hostID=200000 size=65536) uses host uids 200000-265535, which uid 1000 "
        "may not map because it may map only its own uid 1000 and its subordinate uids (100000-165535); "
        "change hostID, or grant these ids with usermod --add-subuids 200000-265535 alice"
    )
    assert error.index == 1
    assert not isinstance(error, RangesTooSmall)


def test_other_users_id_not_granted():
    error = error_of([IdMapping(0, 0, 1)], ranges=[], user="alice")
    assert error.message == (
        "uid mapping 0 (containerID=0 hostID=0 size=1) uses host uids 0-0, which uid 1000 may not map because "
        "it may map only its own uid 1000 and its subordinate uids (none); change hostID"
    )


def test_grant_advice_only_above_real_user_ids():
    error = error_of([IdMapping(0, 300000, 10)], ranges=[], user="alice")
    assert error.message.endswith("change hostID, or grant these ids with usermod --add-subuids 300000-300009 alice")


def test_mapping_larger_than_range():
    error = error_of([IdMapping(0, 1000, 1), IdMapping(1, 100000, 100000)], kind="gid", user="alice")
    assert isinstance(error, RangesTooSmall)
    assert error.message == (
        "gid mapping 1 (containerID=1 hostID=100000 size=100000) is larger than the ids granted to gid 1000: "
        "host gids 165536-199999 are outside its own gid 1000 and its subordinate gids (100000-165535); "
        "reduce size to 65536, or grant more ids with usermod --add-subgids 165536-199999 alice"
    )


def test_user_name_looked_up_for_uid():
    root_name = pwd.getpwuid(0).pw_name
    error = error_of([IdMapping(0, 300005, 1)], host_id=0, ranges=[])
    assert error.message.endswith(f"usermod --add-subuids 300005-300005 {root_name}")


def test_user_placeholder_for_gid():
    error = error_of([IdMapping(0, 300005, 1)], kind="gid", host_id=0, ranges=[])
    assert error.message.endswith("usermod --add-subgids 300005-300005 USER")


def test_privileged_may_map_anything():
    validate([IdMapping(0, 0, 65536), IdMapping(65536, 500000, 10)], ranges=[], privileged=True)


def test_parent_mapping_covers_ids():
    parent = [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)]
    validate([IdMapping(0, 0, 1), IdMapping(1, 1, 65536)], privileged=True, parent_mappings=parent)


def test_parent_mapping_lacks_ids():
    parent = [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)]
    error = error_of([IdMapping(0, 0, 1), IdMapping(1, 1, 70000)], privileged=True, parent_mappings=parent)
    assert error.message == (
        "uid mapping 1 (containerID=1 hostID=1 size=70000) uses host uids 65537-70000, which the caller's own "
        "user namespace does not map (it maps uids 0-0, 1-65536); a nested user namespace can map only ids "
        "of its parent, so change hostID or map more ids in the outer namespace"
    )


def test_rejects_unknown_kind():
    with pytest.raises(ValueError):
        validate([IdMapping(0, 1000, 1)], kind="pid")
