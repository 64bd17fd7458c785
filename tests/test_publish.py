"""Publication rules and masking: every rule, with a record that triggers exactly it."""

from __future__ import annotations

import datetime as dt

import pytest
from audit_fixtures import entity, licence, penalty
from liushuang.generator.publish import Publisher, mask_id, mask_name, scrub_text

from liushuang.policy import load_policy

BUILD = dt.date(2025, 6, 30)


def pub() -> Publisher:
    return Publisher(load_policy(), BUILD)


@pytest.mark.parametrize("record,reason", [
    (penalty("P1", "2025-01-02", "2025-01-03", kinds=("警告",)), "warning-only"),
    (penalty("P2", "2025-01-02", "2025-01-03", procedure="简易程序"), "summary-procedure"),
    (penalty("P3", "2025-01-02", "2025-01-03", revoked_on="2025-02-01", revocation_kind="撤销"), "revoked"),
    (penalty("P4", "2024-01-02", "2024-01-03", fine_amount_wan=0.1), "expired"),  # low fine: 3 months
    (penalty("P5", "2025-01-02", "2025-01-03", publicity_until="2025-06-29"), "expired"),  # explicit end wins
    (penalty("P6", "2025-06-28", None), "not-yet-published"),
    (penalty("P7", "2025-06-28", "2025-07-02"), "not-yet-published"),
    (penalty("P8", "2024-01-02", "2024-01-03", fine_amount_wan=50.0), None),  # 3 years
    (penalty("P9", "2025-01-02", "2025-01-03", fine_amount_wan=0.1, sector="消防"), None),  # fire: at least 1 year
    (penalty("P10", "2024-01-02", "2024-01-03", fine_amount_wan=0.1, sector="消防"), "expired"),
    (penalty("P11", "2025-01-02", "2025-01-03", publicity_until="2025-06-30"), None),  # last public day
])
def test_penalty_rules(record, reason):
    p = pub()
    assert p.withheld_reason("penalties", record) == reason
    assert (p.decide("penalties", record) is None) == (reason is not None)
    assert sum(p.decisions.published.values()) + sum(sum(c.values()) for c in p.decisions.withheld.values()) == 1


def test_revoked_licence_withheld_and_valid_one_published():
    p = pub()
    assert p.decide("licenses", licence("L1", "2025-01-02", "2025-01-03", revoked_on="2025-03-01", revocation_kind="撤销")) is None
    assert p.decide("licenses", licence("L2", "2025-01-02", "2025-01-03"))["decision_number"] == "L2"
    assert p.decisions.published["licenses"] == 1 and p.decisions.withheld["licenses"]["revoked"] == 1


def test_personal_data_never_published():
    rec = penalty("P1", "2025-01-02", "2025-01-03", legal_rep_id_number="11010519491231002X", legal_representative="王伟")
    out = pub().decide("penalties", rec)
    assert "legal_rep_id_number" not in out and out["legal_representative"] == "王伟"
    person = penalty("P2", "2025-01-02", "2025-01-03", subject_category="自然人", subject_name="张三丰", uscc=None,
                     person_id_type="身份证", person_id_number="21028119800101123X")
    out = pub().decide("penalties", person)
    assert out["subject_name"] == "张**" and out["person_id_masked"] == "210281********123X"
    assert "21028119800101123X" not in str(out)
    ent = entity(1, kind="个体工商户", legal_representative={"name": "李四", "id_type": "身份证", "id_number": "11010519491231002X"},
                 phone="13912345678", address="中山区某路 1 号")
    out = pub().public_form("entities", ent)
    assert "phone" not in out and "address" not in out and out["legal_representative"] == {"name": "李*", "id_type": "身份证"}


def test_free_text_is_scrubbed():
    text = "当事人身份证号11010519491231002X，电话13912345678，罚款1000元"
    assert scrub_text(text) == "当事人身份证号110105********002X，电话139****5678，罚款1000元"
    rec = penalty("P1", "2025-01-02", "2025-01-03")
    rec["violation_facts"] = text
    out = pub().decide("penalties", rec)
    assert "11010519491231002X" not in out["violation_facts"] and "13912345678" not in out["violation_facts"]


def test_codes_are_not_taken_for_id_numbers():
    """An all-digit USCC has the shape of an ID number: codes are published as they are, free text is still scrubbed."""
    rec = penalty("P1", "2025-01-02", "2025-01-03")
    assert rec["uscc"].isdigit() and len(rec["uscc"]) == 18
    rec["violation_facts"] = f"当事人（{rec['uscc']}）"
    out = pub().decide("penalties", rec)
    assert out["uscc"] == rec["uscc"] and out["authority_uscc"] == rec["authority_uscc"]
    assert rec["uscc"] not in out["violation_facts"]


def test_masking_helpers():
    assert mask_id("21028119800101123X") == "210281********123X"
    assert mask_name("欧阳娜娜", "surname") == "欧***" and mask_name("王伟", "hide") == "自然人" and mask_name("王伟", "none") == "王伟"
