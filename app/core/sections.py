"""Pages that other modules add parts to, without the page's module importing them.

The client card is the clients module's page; its payments part belongs to
billing, its contracts to contracts, and RADIUS and the organizer will add
theirs. The page's module declares `CARD = PageSections()`; each
contributing module calls `CARD.add(template, provider)` in its register().
The page renders every part's template with the values its provider returns.

A page with several places (the card's header strip and its tabs) names
them; a part says where it goes (`place`), and the page renders each
place's parts there, in order.
"""


class PageSections:
    def __init__(self):
        self._parts = []

    def add(self, template, provider, order, place=None):
        """A part of the page: `template` to include, `provider(record, actor, **known)` → its template values
        (None: the module's other part provides them).

        Parts show in ascending `order`, whatever order the modules register in.
        """
        part = (order, template, provider, place)
        if part not in self._parts:
            self._parts.append(part)
            self._parts.sort(key=lambda item: item[0])

    def context(self, record, actor, **known):
        """The values of every part for this record; `section_templates`: what to include, in order; and
        `section_places`: the same per place ({place: [template, …]}).

        `known` is what the page has read already (the card's subscriptions), so that no part reads it again.
        """
        places = {}
        for _order, template, _provider, place in self._parts:
            places.setdefault(place, []).append(template)
        values = {"section_templates": [template for _order, template, _provider, _place in self._parts],
                  "section_places": places}
        for _order, _template, provider, _place in self._parts:
            if provider is not None:
                values.update(provider(record, actor, **known))
        return values
