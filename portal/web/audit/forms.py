"""The audit log's filter form, read from the query string (GET: no CSRF token needed,
nothing changes)."""
from __future__ import annotations

import uuid

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import UUID, Optional, ValidationError

from portal.audit import OPERATIONS, AuditFilter, InvalidCursor, decode_cursor

UUID_PATTERN = "[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}"


class AuditFilterForm(FlaskForm):
    table = SelectField("Table", default="")
    operation = SelectField("Operation", default="", choices=[SelectChoice("", "All operations")]
                            + [SelectChoice(op) for op in OPERATIONS])
    user = StringField("User id", validators=[Optional(), UUID("Not a valid user id.")],
                       render_kw={"pattern": UUID_PATTERN, "list": "audit-people",
                                  "placeholder": "any user", "autocomplete": "off"})
    date_from = DateField("From (UTC)", validators=[Optional()])
    date_to = DateField("To (UTC, inclusive)", validators=[Optional()])
    scope = BooleanField("All accounts")
    cursor = StringField(validators=[Optional()])

    def __init__(self, formdata, tables: list[str]):
        super().__init__(formdata, meta={"csrf": False})
        self.table.choices = [SelectChoice("", "All tables")] + [SelectChoice(t) for t in tables]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

    def validate_cursor(self, field) -> None:
        try:
            decode_cursor(field.data)
        except InvalidCursor as exc:
            raise ValidationError(str(exc)) from exc

    def to_filter(self) -> AuditFilter:
        """The validated values as the domain's filter."""
        return AuditFilter(table_name=self.table.data or None,
                           operation=self.operation.data or None,
                           user_id=uuid.UUID(self.user.data) if self.user.data else None,
                           date_from=self.date_from.data, date_to=self.date_to.data)

    def all_accounts(self, platform_admin: bool) -> bool:
        """Every account's entries: only platform admins may ask (others get their own)."""
        return platform_admin and bool(self.scope.data)

    def query_args(self, platform_admin: bool) -> dict[str, str]:
        """The current filters as query parameters (no cursor): for links that keep them."""
        args = {name: self[name].raw_data[0] for name in
                ("table", "operation", "user", "date_from", "date_to")
                if self[name].raw_data and self[name].raw_data[0]}
        if self.all_accounts(platform_admin):
            args["scope"] = "all"
        return args
