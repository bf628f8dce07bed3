"""Form widgets for long lists. Django renders each <option> of a Select through a template of its own, which a
list of 600 time zones or 1,000 clusters pays on every page view; these write the same markup in one join."""

import html

from django import forms
from django.forms.utils import flatatt
from django.utils.safestring import mark_safe


class QuickSelect(forms.Select):
    """A single-choice <select> with flat (ungrouped) choices, rendered without a template per option."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs["name"] = name
        chosen = {str(v) for v in self.format_value(value)}
        options = "".join(
            f'<option value="{html.escape(str(choice))}"{" selected" if str(choice) in chosen else ""}>'
            f"{html.escape(str(label))}</option>"
            for choice, label in self.choices
        )
        return mark_safe(f"<select{flatatt(final_attrs)}>{options}</select>")  # every value and label escaped


class NamesInput(forms.TextInput):
    """One text box for several names (commas or spaces between them) that also reads the name repeated, as a
    list of checkboxes posted it: value_from_datadict gives every posted value."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if values is None or isinstance(values, str):
            return values
        return " ".join(values)
