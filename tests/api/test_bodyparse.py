"""The bounded parse of a ``POST /classify`` body: same answers as JSON, no big structures."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from scened.api.bodyparse import MAX_OTHER_VALUES, parse_images_body
from scened.api.errors import ApiError

MAX_IMAGES = 4


def parse(body: bytes | str) -> list[object]:
    return parse_images_body(body.encode() if isinstance(body, str) else body, MAX_IMAGES)


def error(body: bytes | str) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        parse(body)
    return caught.value.status, caught.value.code.value


@pytest.mark.parametrize(
    "document",
    [
        {"images": []},
        {"images": ["aGVsbG8=", "data:image/png;base64,AAAA"]},
        {"images": ['d\u00e9j\u00e0 "vu" \\ \n'], "extra": 1, "more": [1, "two", None]},
        {"options": {"a": 1.5e3, "b": True}, "images": ["x"]},
        {"images": ["first"], "images2": [], "z": "\U0001f600"},
    ],
)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_a_valid_body_gives_what_json_gives(document: object, ascii_only: bool) -> None:
    body = json.dumps(document, ensure_ascii=ascii_only, indent=1)
    assert parse(body) == json.loads(body)["images"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32-le"])
def test_the_encodings_json_detects_are_read(encoding: str) -> None:
    assert parse(json.dumps({"images": ["eA=="]}).encode(encoding)) == ["eA=="]


def test_the_last_images_member_counts_as_in_json() -> None:
    assert parse('{"images": ["a"], "images": ["b", "c"]}') == ["b", "c"]
    assert parse('{"im\\u0061ges": ["q"]}') == ["q"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"images": [1]}', [0]),
        ('{"images": ["a", 2.5, "never read"', ["a", 0.0]),
        ('{"images": ["a", "b", null]}', ["a", "b", None]),
        ('{"images": ["a", true]}', ["a", True]),
        ('{"images": [[1, 2, 3]]}', [[]]),
        ('{"images": ["a", {"b": 1}] garbage', ["a", {}]),
    ],
    ids=["int", "float-then-garbage", "null", "bool", "list", "object"],
)
def test_a_non_string_entry_ends_the_parse_with_a_stand_in_of_its_type(
    body: str, expected: list[object]
) -> None:
    """decode_image then names the entry and its type, as when the whole body was parsed."""
    images = parse(body)

    assert images == expected
    assert [type(i) for i in images] == [type(e) for e in expected]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("", 400, "malformed_json"),
        ("   ", 400, "malformed_json"),
        ("{not json", 400, "malformed_json"),
        ('{"images": [', 400, "malformed_json"),
        ('{"images": ["a",]}', 400, "malformed_json"),
        ('{"images": ["a"],}', 400, "malformed_json"),
        ('{"images": ["a"]} trailing', 400, "malformed_json"),
        ('{"images": ["a\\x"]}', 400, "malformed_json"),
        ('{"images": ["tab\there"]}', 400, "malformed_json"),
        (b'{"images": ["\xff"]}', 400, "malformed_json"),
        (b"\xff\xfe\x00garbage", 400, "malformed_json"),
        ('{"images": [tru]}', 400, "malformed_json"),
        ("[" * 1000, 400, "malformed_json"),
        ('{"a": {"b": {}}, "images": []}', 400, "malformed_json"),
        ('[[["deep"]]] ', 400, "malformed_json"),
        ("{}", 400, "missing_images"),
        ('["aGVsbG8="]', 400, "missing_images"),
        ('"images"', 400, "missing_images"),
        ('{"pictures": ["a"]}', 400, "missing_images"),
        ('{"images": "a"}', 400, "images_not_a_list"),
        ('{"images": {"0": "a"}}', 400, "images_not_a_list"),
        ('{"images": null}', 400, "images_not_a_list"),
        ('{"images": ["a", "b", "c", "d", "e"]}', 413, "too_many_images"),
    ],
)
def test_what_is_not_an_images_request_gets_the_usual_error(
    body: str | bytes, status: int, code: str
) -> None:
    assert error(body) == (status, code)


def test_more_values_besides_images_than_allowed_are_refused() -> None:
    allowed = json.dumps({"images": [], **{str(i): i for i in range(MAX_OTHER_VALUES // 2 - 1)}})
    too_many = json.dumps({"images": [], "x": list(range(MAX_OTHER_VALUES))})

    assert parse(allowed) == []
    assert error(too_many) == (400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"images": [' + b",".join([b'"ab"'] * 500_000) + b"]}",
        b'{"images": ["a", ' + b",".join([b"1.5"] * 500_000) + b"]}",
        b"[" + b",".join([b"0.5"] * 500_000) + b"]",
        b'{"images": [], "x": [' + b",".join([b"0"] * 500_000) + b"]}",
        b"{" + b",".join(b'"%d":0' % i for i in range(200_000)) + b"}",
    ],
    ids=["short-strings", "floats", "top-level-list", "extra-list", "keys"],
)
def test_a_body_of_many_small_values_is_refused_without_building_them(body: bytes) -> None:
    """``json.loads`` of these allocates ten times their size; this parse almost nothing."""
    tracemalloc.start()
    try:
        outcome: object = parse_images_body(body, 64)
    except ApiError as exc:
        outcome = (exc.status, exc.code.value)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    assert outcome in (["a", 0.0], (413, "too_many_images"), (400, "malformed_json"))
    assert peak < len(body) // 10, f"{peak:,} bytes allocated for a {len(body):,}-byte body"
