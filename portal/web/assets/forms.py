"""Forms of the asset inventory: the list's filters (a GET form: search, filters, sort and
page position, all in the query string) and the edit form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import inventory
from portal.inventory import AssetFilter
from portal.models import STRATEGIES
from portal.web.fields import TagListField

VERSION_MISSING = "The form is incomplete (no version): reload the page and try again."
# Query-string names of the filters (short: they end up in shared links).
FILTER_PARAMS = {"q": "q", "type": "asset_type", "env": "environment", "os": "os_name",
                 "app": "application", "crit": "criticality", "debt": "tech_debt",
                 "sixr": "sixr"}
TECH_DEBT_LABELS = {inventory.FLAGGED: "Any flag", "unsupported": "Unsupported",
                    "soon_unsupported": "Soon unsupported",
                    "extended_support_only": "Extended support only",
                    "supported": "Supported", "unknown": "Unknown"}
TECH_DEBT_COLOURS = {"unsupported": "danger", "soon_unsupported": "warning",
                     "extended_support_only": "warning", "supported": "success"}


def _any(pairs) -> list[SelectChoice]:
    return [SelectChoice("", "Any"), *(SelectChoice(value, label) for value, label in pairs)]


def _valid_sort(form, field) -> None:
    try:
        inventory.parse_ordering(field.data)
    except inventory.DomainError as exc:
        raise ValidationError(str(exc)) from exc


def _text(label: str) -> StringField:
    return StringField(label, validators=[Optional(), Length(max=255)])


class AssetFilterForm(FlaskForm):
    """The list's search, filters, sort and position.  The type, environment, OS and
    application lists come from the data (portal.inventory.filter_choices); any value
    is accepted, one that matches nothing shows an empty list."""

    class Meta:
        csrf = False  # a GET that changes nothing

    q = StringField("Search", validators=[Optional(), Length(max=200)],
                    description="Name, hostname or IP")
    type = _text("Type")
    env = _text("Environment")
    os = _text("OS")
    app = _text("Application")
    crit = SelectField("Criticality", default="", choices=_any(
        (value, value.capitalize()) for value in inventory.CRITICALITIES))
    debt = SelectField("Tech debt", default="", choices=_any(TECH_DEBT_LABELS.items()))
    sixr = SelectField("6R", default="", choices=_any((s, s.capitalize()) for s in STRATEGIES))
    sort = StringField(default=inventory.DEFAULT_SORT,
                       validators=[Optional(), Length(max=40), _valid_sort])
    after = StringField(validators=[Optional(), Length(max=2000)])
    before = StringField(validators=[Optional(), Length(max=2000)])

    def to_filter(self) -> AssetFilter:
        return AssetFilter(**{name: (self[param].data or "").strip() or None
                              for param, name in FILTER_PARAMS.items()})

    def filter_args(self) -> dict[str, str]:
        """The search and filters as query-string arguments (the empty ones left out)."""
        return {param: self[param].data.strip() for param in FILTER_PARAMS
                if (self[param].data or "").strip()}

    @property
    def ordering(self) -> inventory.Ordering:
        return inventory.parse_ordering(self.sort.data)


class AssetForm(FlaskForm):
    """What a member may change about an asset (the name is its identity: not here)."""

    asset_type = StringField("Type", validators=[Optional(), Length(max=100)])
    environment = StringField("Environment", validators=[Optional(), Length(max=100)])
    application = StringField("Application", validators=[Optional(), Length(max=255)])
    owner = StringField("Owner", validators=[Optional(), Length(max=255)])
    business_criticality = SelectField("Business criticality", choices=[
        SelectChoice("", "— not rated —"),
        *(SelectChoice(value, value.capitalize()) for value in inventory.CRITICALITIES)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    tags = TagListField("Tags")
    lock_version = HiddenField(validators=[InputRequired(VERSION_MISSING)])

    def __init__(self, *args, current_criticality: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if current_criticality and current_criticality not in inventory.CRITICALITIES:
            # Keep an imported value the list does not know selectable, or every save of
            # the form would silently change it.
            self.business_criticality.choices = [
                *self.business_criticality.choices,
                SelectChoice(current_criticality, f"{current_criticality} (as imported)")]

    def changes(self) -> dict:
        """The submitted values in the shape portal.inventory.update_asset expects."""
        return {name: self[name].data for name in inventory.EDITABLE}


def form_data(values: dict, lock_version: int) -> dict:
    """An asset's editable values (portal.inventory.editable_values) as form data."""
    data = {name: value for name, value in values.items() if name != "tags"}
    data["tags"] = list(values.get("tags") or [])
    data["business_criticality"] = values.get("business_criticality") or ""
    data["lock_version"] = lock_version
    return data
