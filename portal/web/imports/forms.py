from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField


class UploadForm(FlaskForm):
    file = FileField("Inventory file", validators=[FileRequired("Choose a file to upload.")])


class MappingForm(FlaskForm):
    """One column's mapping; choices are filled from the canonical fields."""

    source = HiddenField()
    target = SelectField("Field", choices=[], validate_choice=False)
    unit = SelectField("Unit", choices=[], validate_choice=False)


class AcceptForm(FlaskForm):
    all_or_nothing = BooleanField("All or nothing: import no row if any row fails")
