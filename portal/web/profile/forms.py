from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, Length


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(),
                                                                     Length(max=1024)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(), EqualTo("new_password", message="the two passwords differ")])


class DefaultsForm(FlaskForm):
    """Choices are filled per request from the user's accounts and engagements."""

    default_client_id = SelectField("Default account", choices=[], validate_choice=False)
    default_engagement_id = SelectField("Default engagement", choices=[], validate_choice=False)
