"""Forms of the engagements feature: the engagement itself, the list's filters, and the
version-carrying buttons (close, deactivate)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timezone

from flask_wtf import FlaskForm
from wtforms import (DateField, HiddenField, SelectChoice, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import (DataRequired, InputRequired, Length, Optional, Regexp,
                                ValidationError)

from portal.accounts import EMAIL_PATTERN, SLUG_PATTERN
from portal.engagements import (ENGAGEMENT_TYPES, MIGRATION_STRATEGIES, PRIORITIES,
                                SCOPE_KEYS, STATUSES, TARGET_CLOUDS,
                                EngagementFilter)
from portal.models import Engagement, User
from portal.web.fields import CheckboxListField, TagListField

DATES = ("start_date", "target_completion_date", "actual_completion_date")
PLAIN_FIELDS = ("name", "description", "engagement_type", "status", "priority",
                "client_contact_name", "client_contact_email")
NO_LEAD = SelectChoice("", "— no lead yet —")
VERSION_MISSING = "The form is incomplete (no version): reload the page and try again."


def _labelled(values) -> list[SelectChoice]:
    return [SelectChoice(value, value.replace("_", " ").capitalize()) for value in values]


def _any(values) -> list[SelectChoice]:
    return [SelectChoice("", "Any"), *_labelled(values)]


def _later_or_same(field_name: str, what: str):
    """Validator: this date is not before the date in `field_name`."""
    def check(form, field):
        earlier = form[field_name].data
        if field.data and earlier and field.data < earlier:
            raise ValidationError(f"{what} cannot be before the start date.")
    return check


class EngagementForm(FlaskForm):
    """Create and edit an engagement.  The slug is chosen once, on create (other pages and
    the CLI name engagements by it), so an edit form has no slug field at all."""

    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    slug = StringField("Slug", description="Lowercase letters, digits and hyphens; "
                       "cannot be changed later.",
                       validators=[DataRequired(), Length(max=100), Regexp(
                           SLUG_PATTERN, message="Use lowercase letters, digits and hyphens.")])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    engagement_type = SelectField("Type", choices=_labelled(ENGAGEMENT_TYPES),
                                  default="migration")
    status = SelectField("Status", choices=_labelled(STATUSES), default="active")
    priority = SelectField("Priority", choices=_labelled(PRIORITIES), default="medium")
    start_date = DateField("Start", validators=[Optional()])
    target_completion_date = DateField("Target completion", validators=[
        Optional(), _later_or_same("start_date", "The target completion date")])
    actual_completion_date = DateField("Actual completion", validators=[
        Optional(), _later_or_same("start_date", "The actual completion date")])
    engagement_lead_id = SelectField("Engagement lead", choices=[NO_LEAD])
    client_contact_name = StringField("Client contact", validators=[Optional(),
                                                                    Length(max=255)])
    client_contact_email = StringField("Client contact e-mail", validators=[
        Optional(), Length(max=255),
        Regexp(EMAIL_PATTERN, message="Enter an e-mail address like name@example.com.")])
    target_clouds = CheckboxListField("Target clouds", choices=[
        SelectChoice(cloud, cloud.upper() if len(cloud) <= 3 else cloud.capitalize())
        for cloud in TARGET_CLOUDS])
    migration_strategies = CheckboxListField("Migration strategies",
                                             choices=_labelled(MIGRATION_STRATEGIES))
    excluded_systems = TagListField("Excluded systems")
    included_environments = TagListField("Included environments")
    business_units = TagListField("Business units")
    geographic_scope = TagListField("Geographic scope")
    # Required as submitted (not as pre-filled): a post without it must not skip the check.
    lock_version = HiddenField(validators=[InputRequired(VERSION_MISSING)])

    def __init__(self, *args, leads: list[User], creating: bool,
                 current_lead: uuid.UUID | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [NO_LEAD, *(SelectChoice(str(user.id), user.display_name) for user in leads)]
        if current_lead and current_lead not in {user.id for user in leads}:
            # Keep a lead who has left the account selectable, or every edit would fail.
            choices.append(SelectChoice(str(current_lead), "Former member of this account"))
        self.engagement_lead_id.choices = choices
        if creating:
            del self.lock_version
        else:
            del self.slug

    def changes(self) -> dict:
        """The submitted values in the shape portal.engagements expects."""
        values = {name: self[name].data for name in PLAIN_FIELDS}
        for name in ("description", "client_contact_name", "client_contact_email"):
            values[name] = (values[name] or "").strip() or None
        values.update({name: midnight_utc(self[name].data) for name in DATES})
        lead = self.engagement_lead_id.data
        values["engagement_lead_id"] = uuid.UUID(lead) if lead else None
        values["migration_scope"] = {key: list(self[key].data or []) for key in SCOPE_KEYS}
        return values


def midnight_utc(day: date | None) -> datetime | None:
    """Dates are stored as timestamps (the seed's columns): the day's start in UTC."""
    return datetime.combine(day, time.min, tzinfo=timezone.utc) if day else None


def form_data(engagement: Engagement) -> dict:
    """An engagement as the EngagementForm's initial data."""
    scope = engagement.migration_scope or {}
    data = {name: getattr(engagement, name) for name in PLAIN_FIELDS}
    data.update({name: _day(getattr(engagement, name)) for name in DATES})
    data.update({key: list(scope.get(key) or []) for key in SCOPE_KEYS})
    data["engagement_lead_id"] = str(engagement.engagement_lead_id or "")
    data["lock_version"] = engagement.lock_version
    return data


def _day(value: datetime | None) -> date | None:
    return value.astimezone(timezone.utc).date() if value else None


class EngagementFilterForm(FlaskForm):
    """The list's filters, read from the query string (parameters status, priority, type)."""

    class Meta:
        csrf = False  # a GET that changes nothing

    status = SelectField("Status", choices=_any(STATUSES), default="")
    priority = SelectField("Priority", choices=_any(PRIORITIES), default="")
    type = SelectField("Type", choices=_any(ENGAGEMENT_TYPES), default="")

    def to_filter(self) -> EngagementFilter:
        return EngagementFilter(status=self.status.data or None,
                                priority=self.priority.data or None,
                                engagement_type=self.type.data or None)


class VersionForm(FlaskForm):
    """A button that changes an engagement: CSRF token plus the version it was shown at."""

    lock_version = HiddenField(validators=[InputRequired(VERSION_MISSING)])

