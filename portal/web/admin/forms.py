"""Client account forms: the account admin's settings, the platform admin's full edit form
(subscription, quotas, features) and the creation form (the same plus the slug).

Each form turns itself into the `changes` dictionary `portal.client_accounts` expects (and
validates again), and fills itself from an account with `initial_data`."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (HiddenField, IntegerField, SelectChoice, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import ColorInput

from portal import client_accounts as ca
from portal.models import ClientAccount
from portal.web.fields import CheckboxListField, TagListField

# Words that do not capitalise well on their own.
LABELS = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oci": "Oracle Cloud (OCI)",
          "ibm": "IBM Cloud", "private": "Private cloud", "gdpr": "GDPR", "hipaa": "HIPAA",
          "pci-dss": "PCI DSS", "sox": "SOX", "iso27001": "ISO 27001", "fedramp": "FedRAMP",
          "nis2": "NIS2", "sixr_overrides": "6R overrides", "tech_debt": "Tech debt",
          "assessment": "Assessment (6R)"}
NO_CHOICE = SelectChoice("", "—")
DEFAULT_HEADER_COLOUR = "#212529"  # Bootstrap's bg-dark: choosing nothing changes nothing


def _choices(values: tuple[str, ...], *, blank: bool = False) -> list[SelectChoice]:
    options = [SelectChoice(v, LABELS.get(v, v.replace("_", " ").capitalize()))
               for v in values]
    return [NO_CHOICE, *options] if blank else options


def _quota_field(label: str) -> IntegerField:
    return IntegerField(label, [Optional(), NumberRange(min=0, max=ca.MAX_QUOTA)],
                        description="Empty for no limit.")


def _tags(label: str) -> TagListField:
    return TagListField(label, max_items=ca.MAX_LIST_ITEMS, max_length=ca.MAX_ITEM_LENGTH)


class AccountSettingsForm(FlaskForm):
    """What an account admin may change about their own account."""

    name = StringField("Name", [DataRequired(), Length(max=255)])
    description = TextAreaField("Description", [Optional(), Length(max=ca.DESCRIPTION_LENGTH)])
    industry = SelectField("Industry", choices=_choices(ca.INDUSTRIES, blank=True))
    company_size = SelectField("Company size (employees)",
                               choices=_choices(ca.COMPANY_SIZES, blank=True))
    branding_name = StringField("Display name in the header",
                                [Optional(), Length(max=ca.BRANDING_NAME_LENGTH)],
                                description="Empty to show the account name.")
    branding_colour = StringField(
        "Header colour", [Optional(), Regexp(ca.COLOUR_PATTERN.pattern + r"\Z",
                                             message="Use a colour of the form #rrggbb.")],
        widget=ColorInput(), default=DEFAULT_HEADER_COLOUR)
    primary_goals = _tags("Primary goals")
    timeframe = StringField("Timeframe", [Optional(), Length(max=ca.TIMEFRAME_LENGTH)],
                            description="For example: 18 months, by Q4 2027.")
    success_metrics = _tags("Success metrics")
    constraints = _tags("Constraints")
    discovery_depth = SelectField("Discovery depth", choices=_choices(ca.DISCOVERY_DEPTHS),
                                  default="comprehensive")
    automation_level = SelectField("Automation level", choices=_choices(ca.AUTOMATION_LEVELS),
                                   default="assisted")
    risk_tolerance = SelectField("Risk tolerance", choices=_choices(ca.RISK_TOLERANCES),
                                 default="moderate")
    preferred_clouds = CheckboxListField("Preferred clouds", choices=_choices(ca.CLOUDS))
    compliance_requirements = CheckboxListField(
        "Compliance requirements", choices=_choices(ca.COMPLIANCE_REQUIREMENTS))
    lock_version = HiddenField()

    @classmethod
    def initial_data(cls, account: ClientAccount) -> dict[str, Any]:
        """The form's values for `account`, as it is stored."""
        objectives = account.business_objectives or {}
        preferences = account.agent_preferences or {}
        branding = account.branding or {}
        return {
            "name": account.name, "description": account.description,
            "industry": account.industry or "", "company_size": account.company_size or "",
            "branding_name": branding.get("name", ""),
            "branding_colour": ca.valid_colour(branding.get("colour"))
            or DEFAULT_HEADER_COLOUR,
            **{key: objectives.get(key, []) for key in
               ("primary_goals", "success_metrics", "constraints")},
            "timeframe": objectives.get("timeframe", ""),
            **{key: preferences[key] for key in
               ("discovery_depth", "automation_level", "risk_tolerance",
                "preferred_clouds", "compliance_requirements") if key in preferences},
            "lock_version": account.lock_version,
        }

    def changes(self) -> dict[str, Any]:
        """The submitted values as `portal.client_accounts` changes."""
        return {
            "name": self.name.data, "description": self.description.data,
            "industry": self.industry.data, "company_size": self.company_size.data,
            "branding": {"name": self.branding_name.data, "colour": self.branding_colour.data},
            "business_objectives": {
                "primary_goals": self.primary_goals.data, "timeframe": self.timeframe.data,
                "success_metrics": self.success_metrics.data,
                "constraints": self.constraints.data},
            "agent_preferences": {
                "discovery_depth": self.discovery_depth.data,
                "automation_level": self.automation_level.data,
                "risk_tolerance": self.risk_tolerance.data,
                "preferred_clouds": self.preferred_clouds.data,
                "compliance_requirements": self.compliance_requirements.data},
        }


class AccountForm(AccountSettingsForm):
    """The platform admin's form: also the subscription, its quotas and the features."""

    subscription_tier = SelectField("Subscription tier", choices=_choices(ca.SUBSCRIPTION_TIERS),
                                    default="standard")
    max_users = _quota_field("Max users")
    max_engagements = _quota_field("Max engagements")
    storage_quota_gb = _quota_field("Storage quota (GB)")
    api_quota_monthly = _quota_field("API calls per month")
    # A new account starts with every feature; edits show what the account has.
    features = CheckboxListField("Enabled features", choices=_choices(ca.FEATURES),
                                 default=list(ca.FEATURES))

    @classmethod
    def initial_data(cls, account: ClientAccount) -> dict[str, Any]:
        enabled = account.features_enabled or {}
        return {**super().initial_data(account),
                "subscription_tier": account.subscription_tier or "standard",
                **{field: getattr(account, field) for field in ca.QUOTA_FIELDS},
                "features": [f for f in ca.FEATURES if enabled.get(f) is True]}

    def changes(self) -> dict[str, Any]:
        return {**super().changes(),
                "subscription_tier": self.subscription_tier.data,
                **{field: self[field].data for field in ca.QUOTA_FIELDS},
                "features_enabled": {f: f in (self.features.data or []) for f in ca.FEATURES}}


class NewAccountForm(AccountForm):
    """Creating an account: the slug is chosen once and never changes."""

    slug = StringField("Slug", [DataRequired(), Length(max=100),
                                Regexp(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
                                       message="Lowercase letters, digits and hyphens.")],
                       description="Used in URLs and on the command line; cannot be changed.")
