"""Forms of the 6R pages: the results' filters (a GET form), an override, and starting an
assessment with its scope and criteria."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (DecimalField, IntegerField, RadioField, SelectChoice, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from portal.assessment.criteria import (ASSESSMENT_TYPES, FACTOR_LABELS, FACTORS, MAX_WEIGHT,
                                        RISK_TOLERANCES)
from portal.assessment.overrides import REASON_MAX
from portal.assessment.results import SORTS, ResultFilter
from portal.client_accounts import CLOUDS, COMPLIANCE_REQUIREMENTS
from portal.inventory import CRITICALITIES, FLAGGED
from portal.models import STRATEGIES
from portal.web.fields import CheckboxListField

STRATEGY_CHOICES = [SelectChoice(s, s.capitalize()) for s in STRATEGIES]


def _any(choices: list[SelectChoice]) -> list[SelectChoice]:
    return [SelectChoice("", "Any"), *choices]


class ResultFilterForm(FlaskForm):
    """Filters, sort and page of the results table (all in the query string)."""

    class Meta:
        csrf = False  # a GET that changes nothing

    strategy = SelectField("Strategy", default="", choices=_any(STRATEGY_CHOICES))
    min_confidence = IntegerField("Confidence at least (%)", validators=[
        Optional(), NumberRange(0, 100, "Confidence is a percentage from 0 to 100.")])
    app = StringField("Application", validators=[Optional(), Length(max=255)])
    overridden = SelectField("Decided by", default="", choices=[
        SelectChoice("", "Anyone"), SelectChoice("yes", "Consultant (overridden)"),
        SelectChoice("no", "Engine")])
    sort = SelectField("Sort", default="name", choices=[SelectChoice(k, label) for k, (label, _)
                                                        in SORTS.items()])
    desc = SelectField(default="", choices=[SelectChoice("", "Ascending"),
                                            SelectChoice("1", "Descending")])
    page = IntegerField(default=1, validators=[Optional(), NumberRange(1, 1_000_000)])

    FILTERS = ("strategy", "min_confidence", "app", "overridden")

    def to_filter(self) -> ResultFilter:
        confidence = self.min_confidence.data
        return ResultFilter(
            strategy=self.strategy.data or None,
            min_confidence=confidence / 100 if confidence is not None else None,
            application=(self.app.data or "").strip() or None,
            overridden={"yes": True, "no": False}.get(self.overridden.data))

    def args(self, **changes) -> dict[str, str]:
        """The query-string arguments of the current view (empty ones left out)."""
        values = {name: self[name].data for name in (*self.FILTERS, "sort", "desc", "page")}
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


class OverrideForm(FlaskForm):
    strategy = SelectField("Decision", choices=STRATEGY_CHOICES,
                           validators=[InputRequired("Choose a strategy.")])
    reason = TextAreaField("Reason", validators=[
        InputRequired("Say why: the reason is kept with the decision."),
        Length(max=REASON_MAX)], description="Kept with the decision and shown to others.")


def _weight_field(factor: str) -> DecimalField:
    return DecimalField(FACTOR_LABELS[factor], places=1, default=1.0, validators=[
        InputRequired(f"Give {FACTOR_LABELS[factor].lower()} a weight."),
        NumberRange(0, MAX_WEIGHT, f"Weights go from 0 (ignored) to {MAX_WEIGHT:g}.")])


class AssessmentForm(FlaskForm):
    """Start an assessment: what to assess and how (the criteria are saved for the
    engagement and seed the next assessment's form)."""

    name = StringField("Name", default="Assessment",
                       validators=[InputRequired("Give the assessment a name."), Length(max=255)])
    assessment_type = RadioField("Assessment type", default="comprehensive", choices=[
        SelectChoice(t, t.capitalize()) for t in ASSESSMENT_TYPES])
    scope = RadioField("Scope", default="all", choices=[
        SelectChoice("all", "Every asset of the engagement"),
        SelectChoice("filter", "Assets matching filters"),
        SelectChoice("applications", "Chosen applications")])
    environment = StringField("Environment", validators=[Optional(), Length(max=100)])
    asset_type = StringField("Asset type", validators=[Optional(), Length(max=100)])
    criticality = SelectField("Criticality", default="", choices=_any(
        [SelectChoice(c, c.capitalize()) for c in CRITICALITIES]))
    tech_debt = SelectField("Tech debt", default="", choices=_any(
        [SelectChoice(FLAGGED, "Any flag"), SelectChoice("unsupported", "Unsupported")]))
    applications = CheckboxListField("Applications", choices=[])
    risk_tolerance = SelectField("Risk tolerance", choices=[
        SelectChoice(r, r.capitalize()) for r in RISK_TOLERANCES])
    preferred_clouds = CheckboxListField("Preferred clouds", choices=[
        SelectChoice(c, c.upper() if len(c) <= 3 else c.capitalize()) for c in CLOUDS])
    compliance_requirements = CheckboxListField("Compliance requirements", choices=[
        SelectChoice(c, c.upper()) for c in COMPLIANCE_REQUIREMENTS])

    def validate_applications(self, field) -> None:
        if self.scope.data == "applications" and not field.data:
            raise ValidationError("Choose at least one application.")

    @property
    def weight_fields(self):
        return [self[f"weight_{factor}"] for factor in FACTORS]

    def scope_dict(self) -> dict:
        if self.scope.data == "filter":
            chosen = {"environment": self.environment.data, "asset_type": self.asset_type.data,
                      "criticality": self.criticality.data, "tech_debt": self.tech_debt.data}
            return {"kind": "filter",
                    "filter": {k: v.strip() for k, v in chosen.items() if v and v.strip()}}
        if self.scope.data == "applications":
            return {"kind": "applications", "applications": list(self.applications.data)}
        return {"kind": "all"}

    def criteria(self) -> dict:
        """What the engagement saves: the criteria the form can change."""
        return {"risk_tolerance": self.risk_tolerance.data,
                "preferred_clouds": list(self.preferred_clouds.data),
                "compliance_requirements": list(self.compliance_requirements.data),
                "weights": {factor: float(self[f"weight_{factor}"].data)
                            for factor in FACTORS}}


for _factor in FACTORS:
    setattr(AssessmentForm, f"weight_{_factor}", _weight_field(_factor))
