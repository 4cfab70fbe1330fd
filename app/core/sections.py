"""Pages that other modules add parts to, without the page's module importing them.

The client card is the clients module's page; its payments part belongs to
billing, its contracts to contracts, and RADIUS and the organizer will add
theirs. The page's module declares `CARD = PageSections()`; each
contributing module calls `CARD.add(template, provider)` in its register().
The page renders every part's template with the values its provider returns.

A page with several places (the card's header strip and its tabs) names
them; a part says where it goes (`place`), and the page renders each
place's parts there, in order. A part may also count its records
(`count`), and the page shows each place's total (the tabs' badges).
"""
from sqlalchemy import select

from app.extensions import db


class PageSections:
    def __init__(self):
        self._parts = []
        self._counters = []

    def add(self, template, provider, order, place=None, count=None):
        """A part of the page: `template` to include, `provider(record, actor, **known)` → its template values
        (None: the module's other part provides them).

        Parts show in ascending `order`, whatever order the modules register in. `count(record, actor,
        **known)` → a SELECT of how many records the part holds, for the place's counter (the card's tab
        badges); None when the actor may not see them. The page asks all its counts in one statement.
        """
        part = (order, template, provider, place)
        if part not in self._parts:
            self._parts.append(part)
            self._parts.sort(key=lambda item: item[0])
        if count is not None and (place, count) not in self._counters:
            self._counters.append((place, count))

    def has_place(self, place):
        """Whether any part goes in `place`."""
        return any(part[3] == place for part in self._parts)

    def context(self, record, actor, places=None, counts=True, **known):
        """The values of every part for this record; `section_templates`: what to include, in order;
        `section_places`: the same per place ({place: [template, …]}); `section_counts`: the records each
        place holds ({place: n}, only places with a counter the actor may read).

        `places`: only the parts of these places (their templates and providers; None: all) — a page that
        shows some places at first and loads the others when opened (the card's tabs); `counts=False`: no
        counters (a place loaded on its own). `known` is what the page has read already (the card's
        subscriptions), so that no part reads it again.
        """
        parts = [part for part in self._parts if places is None or part[3] in places]
        by_place = {}
        for _order, template, _provider, place in parts:
            by_place.setdefault(place, []).append(template)
        numbers_of = {}
        queries = [] if not counts else [
            (place, query) for place, query in ((place, count(record, actor, **known))
                                                for place, count in self._counters) if query is not None]
        if queries:
            numbers = db.session.execute(select(*(query.scalar_subquery() for _place, query in queries))).one()
            for (place, _query), number in zip(queries, numbers):
                numbers_of[place] = numbers_of.get(place, 0) + (number or 0)
        values = {"section_templates": [template for _order, template, _provider, _place in parts],
                  "section_places": by_place, "section_counts": numbers_of}
        for _order, _template, provider, _place in parts:
            if provider is not None:
                values.update(provider(record, actor, **known))
        return values
