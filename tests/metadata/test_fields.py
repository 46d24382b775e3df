"""The merge plans: user keywords stay, only scened's own are replaced or removed."""

from __future__ import annotations

from typing import Any

from scened.metadata.fields import (
    CARRIED_OF,
    HIERARCHICAL,
    IPTC_CHARSET,
    IPTC_KEYWORDS,
    IPTC_UTF8,
    RECORD_OF,
    SUBJECT,
    TAGS_LIST,
    KeywordOptions,
    changes,
    plan_tag,
    plan_untag,
    truncate_utf8,
)


def apply(current: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """What a file would hold after the worker carried out ``plan``."""
    after = dict(current)
    for key, value in plan.items():
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    return after


USER = {
    SUBJECT: ["Holiday", "Beach"],
    HIERARCHICAL: ["Trips|Holiday"],
    IPTC_KEYWORDS: ["Holiday", "Beach"],
    IPTC_CHARSET: IPTC_UTF8,
    "Iptc.Application2.City": "Nice",
}


def test_tagging_adds_after_user_keywords_and_records_only_new_values() -> None:
    after = apply(USER, plan_tag(USER, ["Beach", "Sky"], KeywordOptions(), "m1"))
    assert after[SUBJECT] == ["Holiday", "Beach", "Sky"]
    assert after[RECORD_OF[SUBJECT]] == ["Sky"]  # the user's own "Beach" stays the user's
    assert after[HIERARCHICAL] == ["Trips|Holiday", "Scenes|Beach", "Scenes|Sky"]
    # digiKam reads TagsList alone once it exists: the user's keywords are carried in
    assert after[TAGS_LIST] == ["Trips/Holiday", "Beach", "Scenes/Beach", "Scenes/Sky"]
    assert after[CARRIED_OF[TAGS_LIST]] == ["Trips/Holiday", "Beach"]
    assert after[IPTC_KEYWORDS] == ["Holiday", "Beach", "Sky"]


def test_flat_keywords_are_carried_into_a_hierarchy_scened_creates() -> None:
    flat = {SUBJECT: ["Trip2026"]}
    after = apply(flat, plan_tag(flat, ["Lake"], KeywordOptions(), "m1"))
    assert after[HIERARCHICAL] == ["Trip2026", "Scenes|Lake"]
    assert after[TAGS_LIST] == ["Trip2026", "Scenes/Lake"]
    assert apply(after, plan_untag(after)) == flat


def test_a_users_own_tags_list_is_left_as_theirs_and_nothing_is_carried() -> None:
    mine = {SUBJECT: ["Oma"], TAGS_LIST: ["People/Oma"]}
    after = apply(mine, plan_tag(mine, ["Portrait"], KeywordOptions(), "m1"))
    assert after[TAGS_LIST] == ["People/Oma", "Scenes/Portrait"]
    assert CARRIED_OF[TAGS_LIST] not in after


def test_a_carried_keyword_the_user_drops_is_dropped_at_the_next_tag() -> None:
    tagged = apply(USER, plan_tag(USER, ["Sky"], KeywordOptions(), "m1"))
    tagged[SUBJECT] = [v for v in tagged[SUBJECT] if v != "Beach"]  # removed in Lightroom
    tagged[IPTC_KEYWORDS] = [v for v in tagged[IPTC_KEYWORDS] if v != "Beach"]
    again = apply(tagged, plan_tag(tagged, ["Sky"], KeywordOptions(), "m1"))
    assert again[TAGS_LIST] == ["Trips/Holiday", "Scenes/Sky"]


def test_retag_replaces_only_scened_values() -> None:
    first = apply(USER, plan_tag(USER, ["Beach", "Sky"], KeywordOptions(), "m1"))
    second = apply(first, plan_tag(first, ["Forest"], KeywordOptions(root="Szenen"), "m2"))
    assert second[SUBJECT] == ["Holiday", "Beach", "Forest"]
    assert second[HIERARCHICAL] == ["Trips|Holiday", "Szenen|Forest"]
    assert second["Xmp.scened.Model"] == "m2"


def test_untag_restores_exactly_the_user_state() -> None:
    tagged = apply(USER, plan_tag(USER, ["Beach", "Sky", "Night"], KeywordOptions(), "m1"))
    assert apply(tagged, plan_untag(tagged)) == USER


def test_untag_removes_the_charset_only_when_scened_set_it_and_nothing_needs_it() -> None:
    bare: dict[str, Any] = {}
    tagged = apply(bare, plan_tag(bare, ["Sky"], KeywordOptions(), "m1"))
    assert tagged[IPTC_CHARSET] == IPTC_UTF8
    assert apply(tagged, plan_untag(tagged)) == {}
    tagged["Iptc.Application2.City"] = "Köln"  # the user added IPTC since
    assert apply(tagged, plan_untag(tagged))[IPTC_CHARSET] == IPTC_UTF8


def test_tagging_twice_changes_nothing() -> None:
    tagged = apply(USER, plan_tag(USER, ["Sky"], KeywordOptions(), "m1"))
    assert changes(tagged, plan_tag(tagged, ["Sky"], KeywordOptions(), "m1")) == {}


def test_other_iptc_charset_is_left_alone_and_xmp_still_written() -> None:
    latin = {IPTC_CHARSET: "\x1b.A", IPTC_KEYWORDS: ["Caf\xe9"]}
    plan = plan_tag(latin, ["Sky"], KeywordOptions(), "m1")
    assert IPTC_KEYWORDS not in plan and IPTC_CHARSET not in plan
    assert plan[SUBJECT] == ["Caf\xe9", "Sky"]  # the user's IPTC keyword carried into XMP


def test_iptc_keywords_are_cut_on_a_utf8_boundary() -> None:
    tag = "é" * 40  # 80 bytes
    cut = truncate_utf8(tag, 64)
    assert cut == "é" * 32
    assert len(truncate_utf8("a" + "é" * 40, 64).encode()) == 63  # never half a character
    plan = plan_tag({}, [tag], KeywordOptions(), "")
    assert plan[IPTC_KEYWORDS] == [cut]
    assert plan[SUBJECT] == [tag]  # XMP keeps the whole keyword


def test_without_iptc_option_no_iptc_is_planned() -> None:
    plan = plan_tag({}, ["Sky"], KeywordOptions(iptc=False), "")
    assert not any(key.startswith("Iptc.") for key in plan)
    assert RECORD_OF[IPTC_KEYWORDS] not in plan
