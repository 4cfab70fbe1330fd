"""Pages that other modules add parts to, without the page's module importing them.

The client card is the clients module's page; its payments part belongs to
billing, its contracts to contracts, and RADIUS and the organizer will add
theirs. The page's module declares `CARD = PageSections()`; each
contributing module calls `CARD.add(template, provider)` in its register().
The page renders every part's template with the values its provider returns.
"""


class PageSections:
    def __init__(self):
        self._parts = []

    def add(self, template, provider, order):
        """A part of the page: `template` to include, `provider(record, actor)` → its template values.

        Parts show in ascending `order`, whatever order the modules register in.
        """
        part = (order, template, provider)
        if part not in self._parts:
            self._parts.append(part)
            self._parts.sort(key=lambda item: item[0])

    def context(self, record, actor, **known):
        """The values of every part for this record, and `section_templates`: what to include, in order."""
        values = {"section_templates": [template for _order, template, _provider in self._parts]}
        for _order, _template, provider in self._parts:
            values.update(provider(record, actor, **known))
        return values
