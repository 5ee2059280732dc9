"""The 6R engine on hand-made assets whose right answer a consultant would agree with, plus
determinism, learning from overrides, confidence, criteria, estimates and grouping."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from portal.assessment import sixr
from portal.assessment.sixr import (FACTORS, STRATEGIES, AssetFacts, Criteria,
                                    LearnedChoices, recommend, recommend_application,
                                    recommend_uncached, similarity_key)

MODERATE = Criteria()


def windows_2008_app_server(**changes) -> AssetFacts:
    facts = AssetFacts(
        asset_id="a-1", name="billing-app-01", asset_type="server", environment="production",
        os_name="Windows Server", os_version="2008 R2", business_criticality="medium",
        tech_debt_status="unsupported", tech_debt_score=95.0, cpu_cores=4, memory_gb=16.0,
        storage_gb=200.0, cpu_utilization_pct=25.0, memory_utilization_pct=40.0,
        power_state="on", application="Billing", depends_on_count=1, dependents_count=2)
    return replace(facts, **changes)


def containerised_service(**changes) -> AssetFacts:
    facts = AssetFacts(
        asset_id="a-2", name="orders-api", asset_type="server", environment="production",
        os_name="Ubuntu", os_version="22.04", business_criticality="high",
        tech_debt_status="supported", tech_debt_score=10.0, cpu_cores=8, memory_gb=32.0,
        storage_gb=100.0, cpu_utilization_pct=45.0, memory_utilization_pct=60.0,
        power_state="on", application="Orders", depends_on_count=2, dependents_count=3,
        tags=("kubernetes", "docker"))
    return replace(facts, **changes)


def decommissioned_box(**changes) -> AssetFacts:
    facts = AssetFacts(
        asset_id="a-3", name="old-report-01", asset_type="server", environment="production",
        os_name="Red Hat Enterprise Linux", os_version="7", business_criticality="low",
        tech_debt_status="extended_support_only", tech_debt_score=50.0, cpu_cores=2,
        memory_gb=4.0, storage_gb=50.0, cpu_utilization_pct=2.0,
        memory_utilization_pct=10.0, power_state="off", dependents_count=0)
    return replace(facts, **changes)


def mainframe(**changes) -> AssetFacts:
    facts = AssetFacts(
        asset_id="a-4", name="core-ledger", asset_type="server", environment="production",
        os_name="z/OS", os_version="2.5", business_criticality="critical",
        tech_debt_status="supported", tech_debt_score=10.0, cpu_cores=16, memory_gb=256.0,
        storage_gb=10_000.0, cpu_utilization_pct=60.0, memory_utilization_pct=70.0,
        power_state="on", depends_on_count=5, dependents_count=40, in_cycle=True)
    return replace(facts, **changes)


def borderline_linux_server(**changes) -> AssetFacts:
    """Replatform narrowly ahead of refactor: the kind of call consultants' habits settle."""
    facts = AssetFacts(
        asset_id="a-5", name="quotes-01", asset_type="server", environment="test",
        os_name="CentOS", os_version="7", business_criticality="medium",
        tech_debt_status="unsupported", tech_debt_score=94.0, cpu_cores=4, memory_gb=8.0,
        storage_gb=80.0, cpu_utilization_pct=40.0, memory_utilization_pct=50.0,
        power_state="on", answers={"change_frequency": "high", "cloud_native_target": "yes"})
    return replace(facts, **changes)


# --- hand-made cases -----------------------------------------------------------------------

def test_unsupported_windows_2008_app_server_is_replatformed_for_its_end_of_life():
    rec = recommend(windows_2008_app_server(), MODERATE)
    assert rec.primary == "replatform"
    assert rec.scores["replatform"] > rec.scores["rehost"] > rec.scores["retain"]
    assert "Windows Server 2008 R2 is past end of life (2020-01-14)" in rec.rationale
    assert "OS and platform currency" in rec.rationale
    # the end of life is what holds plain rehost back, and the rationale says so
    assert "Next best: rehost" in rec.rationale and "held back because Windows Server" \
        in rec.rationale
    currency = {c.strategy: c.points for c in rec.contributions
                if c.factor == "platform_currency"}
    assert currency["replatform"] > 0 > currency["rehost"] and currency["retain"] < 0
    assert any(r["factor"] == "platform_currency" and r["severity"] == "high"
               for r in rec.risk_factors)


def test_the_same_server_on_a_supported_os_is_rehosted():
    rec = recommend(windows_2008_app_server(os_version="2022", tech_debt_status="supported",
                                            tech_debt_score=5.0), MODERATE)
    assert rec.primary == "rehost"


def test_containerised_service_is_rehosted_onto_managed_kubernetes():
    rec = recommend(containerised_service(), MODERATE)
    assert rec.primary == "rehost"
    assert "already runs in containers (docker, kubernetes)" in rec.rationale
    assert "managed Kubernetes" in rec.rationale
    platform = {c.strategy: c.points for c in rec.contributions if c.factor == "platform"}
    assert platform["rehost"] > 0 > platform["rearchitect"]


def test_decommissioned_idle_box_without_dependents_is_retired():
    rec = recommend(decommissioned_box(), MODERATE)
    assert rec.primary == "retire"
    assert "powered off" in rec.rationale
    assert "CPU under 5%: barely used" in rec.rationale
    assert "no other asset depends on it" in rec.rationale
    assert rec.cost["target_monthly"] == 0.0


def test_decommissioned_environment_alone_retires_a_running_box():
    rec = recommend(decommissioned_box(power_state="on", environment="decommissioned",
                                       cpu_utilization_pct=35.0), MODERATE)
    assert rec.primary == "retire"
    assert 'environment is "decommissioned"' in rec.rationale


def test_dependents_keep_an_idle_box_from_being_retired():
    rec = recommend(decommissioned_box(power_state="on", dependents_count=40), MODERATE)
    assert rec.primary != "retire"


@pytest.mark.parametrize("os_name, os_version", [("z/OS", "2.5"), ("AIX", "7.2")])
def test_critical_mainframe_like_system_with_many_dependents_is_retained(os_name,
                                                                          os_version):
    rec = recommend(mainframe(os_name=os_name, os_version=os_version), MODERATE)
    assert rec.primary == "retain"
    assert "20 to 49 other assets depend on it" in rec.rationale
    assert "business criticality is critical" in rec.rationale
    assert "dependency cycle" in rec.rationale
    severities = {(r["factor"], r["severity"]) for r in rec.risk_factors}
    assert ("dependencies", "high") in severities and ("criticality", "high") in severities


# --- determinism and memoisation -------------------------------------------------------------

def test_same_facts_give_equal_recommendations_memoised_or_not():
    sixr.clear_memo()
    facts = windows_2008_app_server()
    first = recommend(facts, MODERATE)
    second = recommend(replace(facts), MODERATE)  # equal facts, another object: memo hit
    uncached = recommend_uncached(facts, MODERATE)
    assert first == second == uncached
    assert json.dumps(first.sixr_row(), sort_keys=True) == \
        json.dumps(uncached.sixr_row(), sort_keys=True)


def test_memoised_results_keep_each_assets_identity_and_never_name_it():
    twin = windows_2008_app_server(asset_id="a-99", name="billing-app-02")
    first, second = recommend(windows_2008_app_server(), MODERATE), recommend(twin, MODERATE)
    assert (first.asset_id, second.asset_id) == ("a-1", "a-99")
    assert first.rationale == second.rationale
    assert "billing-app" not in first.rationale


def test_tag_and_answer_order_does_not_matter():
    one = containerised_service(tags=("kubernetes", "docker"), answers={
        "business_value": "high", "saas_alternative": "no"})
    other = containerised_service(tags=("Docker", "kubernetes"), answers={
        "saas_alternative": "no", "business_value": "high"})
    assert one == other and recommend(one, MODERATE) == recommend(other, MODERATE)


def test_recommendation_values_are_read_only_and_serialise():
    rec = recommend(windows_2008_app_server(), MODERATE)
    with pytest.raises(TypeError):
        rec.scores["retain"] = 100.0  # type: ignore[index]
    row = json.loads(json.dumps(rec.sixr_row()))
    assert row["primary_recommendation"] == "replatform"
    assert set(row["analysis_criteria"]["scores"]) == set(STRATEGIES)
    stored = row["analysis_criteria"]["contributions"]
    assert stored[0].keys() == {"factor", "points", "detail"}
    # Stored once per finding with its points per strategy: nothing lost in the grouping.
    assert sorted((c["factor"], s, p, c["detail"]) for c in stored
                  for s, p in c["points"].items()) == \
        sorted((c.factor, c.strategy, c.points, c.detail) for c in rec.contributions)
    assert [o["strategy"] for o in row["alternative_options"]] == \
        [a["strategy"] for a in rec.alternatives]
    assert "replatform" not in [o["strategy"] for o in row["alternative_options"]]


def test_scores_come_from_the_recorded_contributions():
    rec = recommend(windows_2008_app_server(), MODERATE)
    for strategy in STRATEGIES:
        total = sixr.BASE_SCORES[strategy] + sum(c.points for c in rec.contributions
                                                 if c.strategy == strategy)
        assert rec.scores[strategy] == round(min(100.0, max(0.0, total)), 1)
    assert {c.factor for c in rec.contributions} <= set(FACTORS)
    ranked = [a["score"] for a in rec.alternatives]
    assert ranked == sorted(ranked, reverse=True) and rec.scores[rec.primary] >= ranked[0]


# --- learning from overrides -----------------------------------------------------------------

def test_overrides_move_a_similar_borderline_asset_and_the_rationale_says_so():
    facts = borderline_linux_server()
    before = recommend(facts, MODERATE)
    assert before.primary == "replatform" and before.learned is None
    learned = LearnedChoices({similarity_key(facts): {"refactor": 3}})
    after = recommend(facts, MODERATE, learned)
    assert after.primary == "refactor"
    assert ("consultants in this account chose refactor for 3 similar assets "
            "(linux / server / test)").lower() in after.rationale.lower()
    assert after.learned["strategy"] == "refactor" and after.learned["count"] == 3
    assert after.sixr_row()["analysis_criteria"]["learned"]["key"] == \
        ["linux", "server", "test"]


def test_overrides_for_another_key_leave_an_asset_alone():
    facts = borderline_linux_server()
    learned = LearnedChoices({("linux", "server", "production"): {"refactor": 3},
                              ("windows", "server", "test"): {"refactor": 5}})
    assert recommend(facts, MODERATE, learned) == recommend(facts, MODERATE)


def test_overrides_never_outweigh_a_decisive_fact():
    facts = mainframe()
    learned = LearnedChoices({similarity_key(facts): {"rehost": 50}})
    rec = recommend(facts, MODERATE, learned)
    assert rec.primary == "retain"
    assert "chose rehost for 50 similar assets" in rec.rationale


def test_similarity_key_uses_os_family_type_and_environment():
    assert similarity_key(windows_2008_app_server()) == ("windows", "server", "production")
    assert similarity_key(mainframe()) == ("mainframe", "server", "production")
    assert similarity_key(AssetFacts("x", "x")) == ("unknown", "unknown", "unknown")


# --- confidence and missing inputs -----------------------------------------------------------

def test_missing_inputs_are_listed_and_lower_confidence():
    full = recommend(windows_2008_app_server(), MODERATE)
    sparse = recommend(windows_2008_app_server(cpu_utilization_pct=None,
                                               memory_utilization_pct=None,
                                               power_state=None, storage_gb=None), MODERATE)
    assert full.missing_inputs == ()
    assert set(sparse.missing_inputs) == {"cpu_utilization_pct", "memory_utilization_pct",
                                          "power_state", "storage_gb"}
    assert sparse.confidence < full.confidence
    assert "missing inputs: storage_gb, cpu_utilization_pct" in sparse.rationale
    assert "assumed storage" in sparse.cost["basis"]


def test_low_completeness_lowers_confidence_and_an_empty_asset_is_unsure():
    full = recommend(windows_2008_app_server(), MODERATE)
    patchy = recommend(windows_2008_app_server(completeness=0.4), MODERATE)
    assert patchy.confidence < full.confidence
    empty = recommend(AssetFacts("x", "x"), MODERATE)
    assert 0.0 <= empty.confidence < 0.5
    assert "os_name" in empty.missing_inputs and "tech_debt_status" in empty.missing_inputs


def test_quick_assessments_do_not_expect_measurements():
    facts = windows_2008_app_server(cpu_utilization_pct=None, memory_utilization_pct=None,
                                    power_state=None)
    quick = recommend(facts, Criteria(assessment_type="quick"))
    targeted = recommend(facts, Criteria(assessment_type="targeted"))
    assert quick.missing_inputs == ()
    assert {"cpu_utilization_pct", "power_state", "questionnaire"} <= \
        set(targeted.missing_inputs)


# --- criteria --------------------------------------------------------------------------------

def test_criteria_from_account_preferences_and_engagement_overrides():
    preferences = {"discovery_depth": "comprehensive", "automation_level": "assisted",
                   "risk_tolerance": "high", "preferred_clouds": ["gcp", "azure"],
                   "compliance_requirements": ["pci-dss"]}
    criteria = Criteria.from_preferences(preferences, {"weights": {"utilisation": 0.5},
                                                       "preferred_clouds": ["azure"]},
                                         assessment_type="quick")
    assert criteria.risk_tolerance == "aggressive"  # the account's "high"
    assert criteria.preferred_clouds == ("azure",)
    assert criteria.assessment_type == "quick"
    assert criteria.weights["utilisation"] == 0.5 and criteria.weights["platform"] == 1.0
    assert Criteria.from_preferences(criteria.as_dict()) == criteria
    assert json.loads(json.dumps(criteria.as_dict())) == criteria.as_dict()
    assert Criteria.from_preferences(None) == Criteria()


@pytest.mark.parametrize("preferences, overrides, message", [
    ({"risk_tolerance": "reckless"}, None, "risk tolerance 'reckless' is not one of"),
    ({"colour": "blue"}, None, "unknown setting 'colour'"),
    (None, {"weights": {"astrology": 2}}, "unknown factor 'astrology'"),
    (None, {"weights": {"utilisation": 7}}, "weight of utilisation must be a number"),
    (None, {"preferred_clouds": ["moon"]}, "cloud 'moon' is not one of"),
    (None, {"preferred_clouds": "aws"}, "clouds must be a list"),
    (None, {"assessment_type": "deep"}, "assessment type 'deep' is not one of"),
    ({"discovery_depth": "abyssal"}, None, "discovery depth 'abyssal'"),
])
def test_criteria_reject_unknown_keys_and_values_readably(preferences, overrides, message):
    with pytest.raises(ValueError, match=message):
        Criteria.from_preferences(preferences, overrides)


def test_risk_tolerance_shifts_risky_strategies_in_the_documented_direction():
    facts = borderline_linux_server()
    conservative = recommend(facts, Criteria(risk_tolerance="conservative"))
    moderate = recommend(facts, MODERATE)
    aggressive = recommend(facts, Criteria(risk_tolerance="aggressive"))
    for strategy in ("refactor", "rearchitect", "rebuild"):
        assert conservative.scores[strategy] < moderate.scores[strategy] < \
            aggressive.scores[strategy]
    assert conservative.scores["retain"] >= moderate.scores["retain"]
    assert "risk tolerance is aggressive" in " ".join(c.detail for c in
                                                      aggressive.contributions)


def test_weights_scale_a_factor_and_zero_switches_it_off():
    facts = decommissioned_box()
    off = recommend(facts, Criteria(weights={"power_state": 0.0}))
    assert not [c for c in off.contributions if c.factor == "power_state"]
    double = recommend(facts, Criteria(weights={"power_state": 2.0}))
    points = {c.strategy: c.points for c in double.contributions if c.factor == "power_state"}
    assert points["retire"] == 70.0


def test_compliance_penalises_saas_and_residency_favours_retain_and_rehost():
    facts = windows_2008_app_server(answers={"saas_alternative": "yes"})
    plain = recommend(facts, MODERATE)
    regulated = recommend(replace(facts, compliance=("pci-dss",)), MODERATE)
    resident = recommend(replace(facts, answers={"saas_alternative": "yes",
                                                 "data_residency": "Germany"}), MODERATE)
    assert regulated.scores["repurchase"] < plain.scores["repurchase"]
    assert resident.scores["repurchase"] < plain.scores["repurchase"]
    assert resident.scores["retain"] > plain.scores["retain"]
    assert resident.scores["rehost"] > plain.scores["rehost"]
    assert "its data must stay in Germany" in {c.detail for c in resident.contributions}
    account_wide = recommend(facts, Criteria(compliance_requirements=("hipaa",)))
    assert plain.scores["repurchase"] > account_wide.scores["repurchase"] > \
        regulated.scores["repurchase"]


# --- estimates -------------------------------------------------------------------------------

def test_cost_retire_is_free_retain_costs_what_it_does_today():
    retired = recommend(decommissioned_box(), MODERATE)
    assert retired.primary == "retire" and retired.cost["target_monthly"] == 0.0
    assert retired.cost["current_monthly"] > 0
    retained = recommend(mainframe(), MODERATE)
    assert retained.primary == "retain"
    assert retained.cost["target_monthly"] == retained.cost["current_monthly"] > 0
    assert retained.cost["target"] is None


def test_cost_right_sizes_with_utilisation_on_the_preferred_cloud():
    busy = recommend(windows_2008_app_server(cpu_utilization_pct=90.0,
                                             memory_utilization_pct=90.0), MODERATE)
    quiet = recommend(windows_2008_app_server(), MODERATE)
    assert quiet.cost["target"] == "aws m7i.large"  # 4 cores at 25% fit in 2 vCPUs
    assert busy.cost["target_monthly"] > quiet.cost["target_monthly"]
    on_azure = recommend(windows_2008_app_server(), Criteria(preferred_clouds=("oci", "azure")))
    assert on_azure.cost["target"].startswith("azure ")
    assert on_azure.cost["currency"] == "USD" and "list prices" in on_azure.cost["basis"]


def test_effort_grows_with_strategy_size_and_dependencies():
    small = recommend(windows_2008_app_server(), MODERATE).effort["person_days"]
    tangled = recommend(windows_2008_app_server(dependents_count=4, depends_on_count=9,
                                                cpu_cores=32, memory_gb=256.0),
                        MODERATE).effort["person_days"]
    assert 0 < small < tangled
    rebuild = sixr.estimate_effort("rebuild", "server", 4, 16.0, 200.0, 3, 2, False, 30)
    rehost = sixr.estimate_effort("rehost", "server", 4, 16.0, 200.0, 3, 2, False, 30)
    assert rebuild["person_days"] > rehost["person_days"]
    assert rehost["basis"][0] == "rehost: 2 days base"


def test_complexity_and_risk_scores_are_bounded_and_ordered():
    simple = recommend(containerised_service(), MODERATE)
    hard = recommend(mainframe(), MODERATE)
    for rec in (simple, hard):
        assert 0 <= rec.complexity_score <= 100 and 0 <= rec.risk_score <= 100
    assert hard.complexity_score > simple.complexity_score
    assert hard.risk_score > simple.risk_score


# --- applications ----------------------------------------------------------------------------

def test_application_moves_as_one_weighted_by_criticality_and_size():
    web = [windows_2008_app_server(asset_id=f"w{i}", name=f"web-{i}", application="Billing",
                                   os_version="2022", tech_debt_status="supported",
                                   business_criticality="low", cpu_cores=2)
           for i in range(3)]
    database = windows_2008_app_server(asset_id="db", name="billing-db",
                                       application="Billing", business_criticality="critical",
                                       cpu_cores=16, memory_gb=64.0)
    members = [(facts, recommend(facts, MODERATE)) for facts in (*web, database)]
    assert [rec.primary for _, rec in members] == ["rehost"] * 3 + ["replatform"]
    group = recommend_application("Billing", members)
    assert group.asset_count == 4
    assert dict(group.strategy_counts) == {"rehost": 3, "replatform": 1}
    assert group.primary == "replatform"  # the critical 16-core member outweighs 3 small ones
    assert "billing-db (critical, 16 cores) recommends replatform" not in group.rationale
    assert "web-0 (low, 2 cores) recommends rehost" in group.rationale
    assert "disagree (rehost 3, replatform 1)" in group.rationale
    assert 0 < group.confidence < max(rec.confidence for _, rec in members)
    # members that differ are costed for the group's strategy
    replatformed = [sixr.estimate_cost("replatform", f.cpu_cores, f.memory_gb, f.storage_gb,
                                       25, 40, "aws")["target_monthly"] for f in web]
    assert group.target_monthly == pytest.approx(
        sum(replatformed) + members[3][1].cost["target_monthly"], abs=0.01)
    assert group.effort_person_days >= sum(rec.effort["person_days"] for _, rec in members)


def test_application_whose_members_agree_says_so():
    members = [(f, recommend(f, MODERATE)) for f in (
        containerised_service(asset_id="c1", name="api-1"),
        containerised_service(asset_id="c2", name="api-2"))]
    group = recommend_application("Orders", members)
    assert group.primary == "rehost" and group.strategy_counts == {"rehost": 2}
    assert group.rationale.startswith("All 2 assets of the application recommend rehost")
    with pytest.raises(ValueError, match="no assets"):
        recommend_application("Empty", [])
