"""The one decision: does a photo need work?"""

from __future__ import annotations

from scened.daemon.decision import Known, Verdict, verdict

SIG = (1, 2, 3, 4)


def test_every_case_of_the_decision() -> None:
    assert verdict(None, SIG) is Verdict.NEEDS_WORK  # new
    assert verdict(Known((1, 2, 3, 5), True, True), SIG) is Verdict.NEEDS_WORK  # changed
    assert verdict(Known(SIG, False, True), SIG) is Verdict.NEEDS_WORK  # other model/policy
    assert verdict(Known(SIG, True, True), SIG) is Verdict.UNCHANGED
    assert verdict(Known(SIG, True, False), SIG) is Verdict.FAILED_BEFORE
    assert verdict(Known(SIG, True, False), SIG, retry_failed=True) is Verdict.NEEDS_WORK
