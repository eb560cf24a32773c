"""Form fields every domain's forms share."""

from django import forms

LONGEST = "At most {max} characters."


class _NoBrowserCut:
    """Leave maxlength out of the page: the browser would cut a longer value without a word, the server says why."""

    def widget_attrs(self, widget):
        """Return the widget's attributes without maxlength."""
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


class LengthCheckedField(_NoBrowserCut, forms.CharField):
    """A text whose length the server checks and explains."""


class LengthCheckedEmailField(_NoBrowserCut, forms.EmailField):
    """An email whose length the server checks and explains."""
