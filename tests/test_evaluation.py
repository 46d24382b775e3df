"""The figures of ``scened eval`` on hand-built records, and reading a labelled tree and TSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from scened.evaluation import (
    ClassRecall,
    Confusion,
    DatasetError,
    Failure,
    PhotoRecord,
    build_report,
    discover,
    expected_calibration_error,
    read_acceptable,
    to_json,
)

#: The model's labels as far as these tests are concerned (discovery takes them as given).
CLASSES = ("Beach", "Cat", "Coast", "Dog", "Meme", "Sky", "Sunset", "Text document")


def _record(
    truth: str,
    top: list[tuple[str, float]],
    tags: tuple[str, ...],
    acceptable: frozenset[str] = frozenset(),
) -> PhotoRecord:
    return PhotoRecord(f"{truth}/x.jpg", truth, acceptable, tuple(top), tags)


#: Six photos whose every figure is worked out by hand in the tests below.  No top-1
#: probability sits on a bin edge (a multiple of 1/15), and each falls in its own bin.
RECORDS = [
    # right, tagged right
    _record("Beach", [("Beach", 0.82), ("Coast", 0.10), ("Lake", 0.05)], ("Beach",)),
    # wrong strictly, but Coast is acceptable for this photo; both tags acceptable
    _record(
        "Beach",
        [("Coast", 0.62), ("Beach", 0.30), ("Sky", 0.05)],
        ("Coast", "Beach"),
        acceptable=frozenset({"Coast"}),
    ),
    # wrong, truth second; one of two tags right
    _record("Cat", [("Dog", 0.70), ("Cat", 0.20), ("Bird", 0.05)], ("Dog", "Cat")),
    # right, tagged right
    _record("Cat", [("Cat", 0.95), ("Dog", 0.03), ("Bird", 0.01)], ("Cat",)),
    # wrong, truth third; the policy chose no tag at all
    _record("Dog", [("Cat", 0.42), ("Bird", 0.30), ("Dog", 0.10)], ()),
    # wrong, truth third; tagged "Unknown", a written tag that is not acceptable
    _record("Dog", [("Cat", 0.36), ("Bird", 0.33), ("Dog", 0.20)], ("Unknown",)),
]


def test_every_figure_of_a_hand_built_set() -> None:
    failures = [Failure("Dog/broken.jpg", "cannot decode")]
    report = build_report(RECORDS, failures, model_id="m1", policy="default")
    assert report.photos == 6
    assert (report.top1_correct, report.top1_accuracy) == (2, 2 / 6)
    assert (report.top1_acceptable_correct, report.top1_acceptable) == (3, 3 / 6)
    assert (report.top2_correct, report.top2_accuracy) == (4, 4 / 6)
    assert (report.tag_hits, report.tag_hit_rate) == (4, 4 / 6)
    assert (report.tags_written, report.tags_acceptable) == (7, 5)
    assert report.tag_precision == 5 / 7
    assert (report.untagged, report.untagged_share) == (1, 1 / 6)
    assert report.per_class == (
        ClassRecall("Dog", 2, 0),
        ClassRecall("Beach", 2, 1),
        ClassRecall("Cat", 2, 1),
    )
    assert [c.recall for c in report.per_class] == [0.0, 0.5, 0.5]
    # Dog → Cat (2 photos) first, then ties by label and prediction; no diagonal pairs.
    assert report.confusions == (
        Confusion("Dog", "Cat", 2),
        Confusion("Beach", "Coast", 1),
        Confusion("Cat", "Dog", 1),
    )
    # Each confidence alone in its bin: ECE is the mean |correct - confidence|.
    gaps = [1 - 0.82, 0.62, 0.70, 1 - 0.95, 0.42, 0.36]
    assert report.ece == pytest.approx(sum(gaps) / 6, abs=1e-12)
    assert report.ece == pytest.approx(2.33 / 6, abs=1e-12)
    assert report.failures == tuple(failures)
    assert (report.model_id, report.policy) == ("m1", "default")


def test_json_document() -> None:
    document = to_json(build_report(RECORDS, [Failure("Dog/broken.jpg", "cannot decode")]))
    assert document == {
        "model": "",
        "policy": "",
        "photos": 6,
        "failed": 1,
        "top1_correct": 2,
        "top1_accuracy": 0.333333,
        "top1_acceptable_correct": 3,
        "top1_acceptable": 0.5,
        "top2_correct": 4,
        "top2_accuracy": 0.666667,
        "tag_hits": 4,
        "tag_hit_rate": 0.666667,
        "tags_written": 7,
        "tags_acceptable": 5,
        "tag_precision": 0.714286,
        "untagged": 1,
        "untagged_share": 0.166667,
        "ece": 0.388333,
        "ece_bins": 15,
        "per_class": [
            {"class": "Dog", "support": 2, "correct": 0, "recall": 0.0},
            {"class": "Beach", "support": 2, "correct": 1, "recall": 0.5},
            {"class": "Cat", "support": 2, "correct": 1, "recall": 0.5},
        ],
        "confusions": [
            {"truth": "Dog", "predicted": "Cat", "count": 2},
            {"truth": "Beach", "predicted": "Coast", "count": 1},
            {"truth": "Cat", "predicted": "Dog", "count": 1},
        ],
        "failures": [{"path": "Dog/broken.jpg", "reason": "cannot decode"}],
        "ignored_folders": [],
    }


def test_nothing_scored_gives_undefined_rates_not_zero() -> None:
    report = build_report([], [Failure("Cat/a.jpg", "not an image file")])
    assert report.photos == 0
    rates = [report.top1_accuracy, report.top1_acceptable, report.top2_accuracy]
    rates += [report.tag_hit_rate, report.tag_precision, report.untagged_share, report.ece]
    assert rates == [None] * 7
    assert (report.per_class, report.confusions) == ((), ())
    assert to_json(report)["top1_accuracy"] is None


def test_no_tags_written_leaves_precision_undefined() -> None:
    report = build_report([_record("Cat", [("Cat", 0.5), ("Dog", 0.4)], ())])
    assert (report.tags_written, report.untagged, report.untagged_share) == (0, 1, 1.0)
    assert report.tag_precision is None
    assert report.tag_hit_rate == 0.0


def test_ece_pools_photos_that_share_a_bin() -> None:
    # bin (13/15, 14/15]: 0.91 right, 0.93 wrong -> accuracy 0.5, confidence 0.92
    # bin (10/15, 11/15]: 0.70 and 0.72 right   -> accuracy 1.0, confidence 0.71
    ece = expected_calibration_error([0.91, 0.93, 0.72, 0.70], [True, False, True, True])
    assert ece == pytest.approx(2 / 4 * 0.42 + 2 / 4 * 0.29, abs=1e-12)


def test_ece_bins_are_fifteenths_not_tenths() -> None:
    # 0.62 is in (9/15, 10/15] and 0.68 in (10/15, 11/15]; ten bins would pool them.
    ece = expected_calibration_error([0.62, 0.68], [True, False])
    assert ece == pytest.approx(0.5 * 0.38 + 0.5 * 0.68, abs=1e-12)
    assert expected_calibration_error([0.62, 0.68], [True, False], bins=10) == pytest.approx(
        0.15, abs=1e-12
    )


def test_ece_extremes_and_empty() -> None:
    assert expected_calibration_error([0.0, 1.0], [False, True]) == 0.0
    assert expected_calibration_error([1.0, 1.0], [False, True]) == 0.5
    assert expected_calibration_error([], []) is None


def _touch(root: Path, *relative: str) -> None:
    for name in relative:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_discover_reads_class_folders(tmp_path: Path) -> None:
    _touch(tmp_path, "Cat/b.jpg", "Cat/a.JPG", "Cat/2019/c.png", "Cat/notes.txt", "Cat/.d.jpg")
    _touch(tmp_path, "Text document/scan.tif", "Cat/@eaDir/thumb.jpg", "loose.jpg")
    _touch(tmp_path, ".hidden/x.jpg")
    dataset = discover(tmp_path, CLASSES)
    assert [(p.relative, p.truth) for p in dataset.photos] == [
        ("Cat/2019/c.png", "Cat"),
        ("Cat/a.JPG", "Cat"),
        ("Cat/b.jpg", "Cat"),
        ("Text document/scan.tif", "Text document"),
    ]
    assert dataset.photos[0].path == tmp_path / "Cat" / "2019" / "c.png"
    assert dataset.ignored_folders == ()


def test_unknown_folder_is_named_with_a_hint(tmp_path: Path) -> None:
    _touch(tmp_path, "Cat/a.jpg", "beach/b.jpg")
    with pytest.raises(DatasetError) as caught:
        discover(tmp_path, CLASSES)
    assert str(caught.value) == (
        f"{tmp_path / 'beach'}: folder 'beach' is not one of the model's classes "
        "(did you mean 'Beach'?); rename it or pass --ignore-unknown-classes"
    )
    dataset = discover(tmp_path, CLASSES, ignore_unknown=True)
    assert [p.relative for p in dataset.photos] == ["Cat/a.jpg"]
    assert dataset.ignored_folders == ("beach",)


def test_empty_or_missing_tree_is_an_error(tmp_path: Path) -> None:
    _touch(tmp_path, "Cat/notes.txt")
    with pytest.raises(DatasetError, match="no photos in class folders"):
        discover(tmp_path, CLASSES)
    with pytest.raises(DatasetError, match="folder not found"):
        discover(tmp_path / "nowhere", CLASSES)


def test_acceptable_classes_from_tsv(tmp_path: Path) -> None:
    _touch(tmp_path, "Beach/a.jpg", "Beach/b.jpg", "Text document/c.jpg", "Misc/d.jpg")
    tsv = tmp_path / "acceptable.tsv"
    tsv.write_text(
        "# photo\tother classes\n\nBeach/a.jpg\tCoast, Sunset\n"
        "./Text document/c.jpg\tMeme\r\nMisc/d.jpg\tCat\n",
        encoding="utf-8",
    )
    dataset = discover(tmp_path, CLASSES, ignore_unknown=True)
    acceptable = {p.relative: p.acceptable for p in read_acceptable(tsv, dataset, CLASSES).photos}
    assert acceptable == {
        "Beach/a.jpg": frozenset({"Coast", "Sunset"}),
        "Beach/b.jpg": frozenset(),
        "Text document/c.jpg": frozenset({"Meme"}),
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Beach/a.jpg Coast\n", "line 1: expected <path><TAB><Class>[,<Class>…]"),
        ("\nBeach/a.jpg\t\n", "line 2: expected <path><TAB><Class>[,<Class>…]"),
        ("Beach/a.jpg\tCoast,\n", "line 1: expected <path><TAB><Class>[,<Class>…]"),
        ("Beach/a.jpg\tCoast\nBeach/a.jpg\tSky\n", "line 2: 'Beach/a.jpg' is also on line 1"),
        ("# c\nBeach/a.jpg\tCoastline\n", "line 2: 'Coastline' is not one of the model's classes"),
        ("Beach/zz.jpg\tCoast\n", "line 1: no photo 'Beach/zz.jpg' in "),
    ],
)
def test_malformed_tsv_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    _touch(tmp_path, "Beach/a.jpg")
    tsv = tmp_path / "acceptable.tsv"
    tsv.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        read_acceptable(tsv, discover(tmp_path, CLASSES), CLASSES)
    assert str(caught.value).startswith(f"{tsv}: {message}")
    assert caught.value.exit_code == 65


def test_unreadable_tsv(tmp_path: Path) -> None:
    _touch(tmp_path, "Beach/a.jpg")
    tsv = tmp_path / "latin1.tsv"
    tsv.write_bytes("Beach/a.jpg\tCoast \xe9\n".encode("latin-1"))
    dataset = discover(tmp_path, CLASSES)
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        read_acceptable(tsv, dataset, CLASSES)
    with pytest.raises(DatasetError, match="cannot read: No such file"):
        read_acceptable(tmp_path / "missing.tsv", dataset, CLASSES)
