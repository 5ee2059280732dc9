"""Form fields shared by several features."""
from __future__ import annotations

import re

from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

_SEPARATORS = re.compile(r"[,\n\r]+")


def parse_tags(text: str | None) -> list[str]:
    """Items separated by commas or new lines: trimmed, empties dropped, duplicates (in
    any letter case) dropped keeping the first spelling, order kept."""
    seen: set[str] = set()
    items: list[str] = []
    for item in _SEPARATORS.split(text or ""):
        item = item.strip()
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            items.append(item)
    return items


class TagListField(TextAreaField):
    """A list of short free-text items typed as "a, b, c" or one per line; `data` is the
    normalised list of strings (see parse_tags)."""

    def __init__(self, label=None, validators=None, max_items: int = 100,
                 max_length: int = 200, **kwargs):
        kwargs.setdefault("description", "Separate items with commas or new lines.")
        super().__init__(label, validators, **kwargs)
        self.max_items, self.max_length = max_items, max_length

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = parse_tags(valuelist[0])

    def _value(self) -> str:
        return ", ".join(self.data or [])

    def pre_validate(self, form):
        if len(self.data or []) > self.max_items:
            raise ValidationError(f"At most {self.max_items} items.")
        too_long = [item for item in self.data or [] if len(item) > self.max_length]
        if too_long:
            raise ValidationError(f"Items are limited to {self.max_length} characters "
                                  f"({too_long[0][:20]}… is longer).")


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as a group of check boxes (easier than a multi-select
    list with the keyboard and on touch screens); render the options one by one."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
