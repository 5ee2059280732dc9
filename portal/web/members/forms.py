from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

ROLE_CHOICES = [SelectChoice("member", "Member — uploads, runs flows, edits"),
                SelectChoice("viewer", "Viewer — read only"),
                SelectChoice("admin", "Admin — also manages this account's people and settings")]


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    first_name = StringField("First name", validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=100)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="member")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(c.value) for c in ROLE_CHOICES])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("Repeat it", validators=[
        DataRequired(), EqualTo("password", message="the two passwords differ")])
