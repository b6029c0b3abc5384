"""Unit tests for IdMapping, SubordinateRange and the mapping computations."""

from __future__ import annotations

import pickle

import pytest

from userrunc.idmap import (
    ID_LIMIT,
    IdMapping,
    InvalidMapping,
    RangesTooSmall,
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


def test_id_mapping_fields():
    mapping = IdMapping(1, 100000, 65536)
    assert mapping.container_id == 1
    assert mapping.host_id == 100000
    assert mapping.size == 65536
    assert tuple(mapping) == (1, 100000, 65536)
    assert repr(mapping) == "IdMapping(container_id=1, host_id=100000, size=65536)"


def test_id_mapping_is_immutable():
    mapping = IdMapping(0, 1000, 1)
    with pytest.raises(AttributeError):
        mapping.size = 2  # type: ignore[misc]


def test_id_mapping_equality_and_pickle():
    assert IdMapping(0, 1000, 1) == IdMapping(0, 1000, 1)
    assert IdMapping(0, 1000, 1) != IdMapping(0, 1000, 2)
    assert len({IdMapping(0, 1000, 1), IdMapping(0, 1000, 1)}) == 1
    restored = pickle.loads(pickle.dumps(IdMapping(5, 6, 7)))
    assert isinstance(restored, IdMapping)
    assert restored == IdMapping(5, 6, 7)


def test_id_mapping_spec_round_trip():
    spec = {"containerID": 1, "hostID": 100000, "size": 65536}
    mapping = IdMapping.from_spec(spec)
    assert mapping == IdMapping(1, 100000, 65536)
    assert mapping.to_spec() == spec


def test_from_spec_missing_key():
    with pytest.raises(InvalidMapping) as info:
        IdMapping.from_spec({"containerID": 0, "size": 1}, kind="uid", index=2)
    assert info.value.message == (
        "uid mapping 2 {'containerID': 0, 'size': 1} is invalid: hostID is missing; "
        "give containerID, hostID and size as integers"
    )
    assert info.value.index == 2
    assert info.value.kind == "uid"


def test_from_spec_wrong_type():
    with pytest.raises(InvalidMapping) as info:
        IdMapping.from_spec({"containerID": 0, "hostID": "1000", "size": 1})
    assert str(info.value) == (
        "id mapping {'containerID': 0, 'hostID': '1000', 'size': 1} is invalid: hostID is '1000', "
        "not an integer; give containerID, hostID and size as integers"
    )


def test_from_spec_rejects_bool():
    with pytest.raises(InvalidMapping) as info:
        IdMapping.from_spec({"containerID": 0, "hostID": 1000, "size": True}, kind="gid")
    assert str(info.value) == (
        "gid mapping {'containerID': 0, 'hostID': 1000, 'size': True} is invalid: size is True, "
        "not an integer; give containerID, hostID and size as integers"
    )


def test_from_spec_not_a_dict():
    with pytest.raises(InvalidMapping) as info:
        IdMapping.from_spec([0, 1000, 1])  # type: ignore[arg-type]
    assert str(info.value) == (
        "id mapping [0, 1000, 1] is invalid: containerID is missing; give containerID, hostID and size as integers"
    )


def test_subordinate_range_fields():
    subordinate = SubordinateRange(100000, 65536)
    assert subordinate.start == 100000
    assert subordinate.count == 65536
    assert subordinate.end == 165536
    assert subordinate.describe() == "100000-165535"
    assert repr(subordinate) == "SubordinateRange(start=100000, count=65536)"


def test_subordinate_range_value_semantics():
    subordinate = SubordinateRange(100000, 65536)
    assert subordinate == SubordinateRange(100000, 65536)
    assert subordinate != SubordinateRange(100000, 1)
    assert subordinate != (100000, 65536)
    assert len({subordinate, SubordinateRange(100000, 65536)}) == 1
    start, count = subordinate
    assert (start, count) == (100000, 65536)
    assert pickle.loads(pickle.dumps(subordinate)) == subordinate


def test_subordinate_range_is_immutable():
    subordinate = SubordinateRange(100000, 65536)
    with pytest.raises(AttributeError):
        subordinate.count = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del subordinate.start


def test_single_mapping_defaults_to_root():
    assert single_mapping(1000) == [IdMapping(0, 1000, 1)]


def test_single_mapping_other_container_id():
    assert single_mapping(1000, container_id=1000) == [IdMapping(1000, 1000, 1)]


def test_automatic_one_range():
    result = automatic_mappings(1000, [SubordinateRange(100000, 65536)])
    assert result == [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)]


def test_automatic_ranges_in_order():
    ranges = [SubordinateRange(300000, 10), SubordinateRange(100000, 65536)]
    result = automatic_mappings(1000, ranges)
    assert result == [IdMapping(0, 1000, 1), IdMapping(1, 300000, 10), IdMapping(11, 100000, 65536)]


def test_automatic_without_ranges():
    assert automatic_mappings(1000, []) == [IdMapping(0, 1000, 1)]


def test_automatic_skips_overlapping_host_ids():
    ranges = [SubordinateRange(100000, 100), SubordinateRange(100050, 100)]
    result = automatic_mappings(1000, ranges)
    assert result == [IdMapping(0, 1000, 1), IdMapping(1, 100000, 100), IdMapping(101, 100100, 50)]


def test_automatic_skips_duplicate_range():
    ranges = [SubordinateRange(100000, 100), SubordinateRange(100000, 100)]
    assert automatic_mappings(1000, ranges) == [IdMapping(0, 1000, 1), IdMapping(1, 100000, 100)]


def test_automatic_skips_own_id_inside_range():
    result = automatic_mappings(100005, [SubordinateRange(100000, 10)])
    assert result == [IdMapping(0, 100005, 1), IdMapping(1, 100000, 5), IdMapping(6, 100006, 4)]


def test_automatic_with_size():
    ranges = [SubordinateRange(100000, 10), SubordinateRange(200000, 10)]
    result = automatic_mappings(1000, ranges, size=15)
    assert result == [IdMapping(0, 1000, 1), IdMapping(1, 100000, 10), IdMapping(11, 200000, 4)]


def test_automatic_size_one_is_single():
    assert automatic_mappings(1000, [SubordinateRange(100000, 10)], size=1) == [IdMapping(0, 1000, 1)]


def test_automatic_size_exactly_available():
    result = automatic_mappings(1000, [SubordinateRange(100000, 10)], size=11)
    assert result == [IdMapping(0, 1000, 1), IdMapping(1, 100000, 10)]


def test_automatic_ranges_too_small():
    ranges = [SubordinateRange(100000, 10), SubordinateRange(200000, 5)]
    with pytest.raises(RangesTooSmall) as info:
        automatic_mappings(1000, ranges, size=65536, kind="uid")
    assert str(info.value) == (
        "subordinate uid ranges (100000-100009, 200000-200004) provide 15 usable ids, but mapping 65536 "
        "container ids needs 65535 besides container id 0 -> 1000; request at most 16 ids, "
        "or grant more with usermod --add-subuids FIRST-LAST USER"
    )
    assert isinstance(info.value, InvalidMapping)


def test_automatic_too_small_without_ranges():
    with pytest.raises(RangesTooSmall) as info:
        automatic_mappings(1000, [], size=2, kind="gid")
    assert str(info.value) == (
        "subordinate gid ranges (none) provide 0 usable ids, but mapping 2 container ids needs 1 besides "
        "container id 0 -> 1000; request at most 1 ids, or grant more with usermod --add-subgids FIRST-LAST USER"
    )


def test_automatic_rejects_size_zero():
    with pytest.raises(ValueError):
        automatic_mappings(1000, [], size=0)


def test_automatic_stops_at_container_limit():
    result = automatic_mappings(0, [SubordinateRange(1, ID_LIMIT - 1)])
    assert result == [IdMapping(0, 0, 1), IdMapping(1, 1, ID_LIMIT - 1)]
    last = result[-1]
    assert last.container_id + last.size == ID_LIMIT


def test_to_host_and_back():
    mappings = [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)]
    assert to_host(mappings, 0) == 1000
    assert to_host(mappings, 1) == 100000
    assert to_host(mappings, 65536) == 165535
    assert to_host(mappings, 65537) is None
    assert to_container(mappings, 1000) == 0
    assert to_container(mappings, 165535) == 65536
    assert to_container(mappings, 999) is None


def test_is_mapped():
    mappings = [IdMapping(0, 1000, 1)]
    assert is_mapped(mappings, 0)
    assert not is_mapped(mappings, 1)
    assert not is_mapped([], 0)


def test_format_and_parse_map():
    mappings = [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)]
    text = format_map(mappings)
    assert text == "0 1000 1\n1 100000 65536\n"
    assert parse_map(text) == mappings


def test_parse_map_padded_columns():
    text = "         0       1000          1\n         1     100000      65536\n"
    assert parse_map(text) == [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536)]


def test_read_map_own_process():
    mappings = read_map("uid")
    assert mappings
    assert all(isinstance(m, IdMapping) for m in mappings)


def test_read_map_rejects_bad_kind():
    with pytest.raises(ValueError):
        read_map("pid")
