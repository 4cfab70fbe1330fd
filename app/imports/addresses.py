"""An imported address matched to the neighbourhoods' blocks: "гр. София, ж.к. Младост 1, бл. 105, вх. А, ап. 12"
becomes the block 105 of ж.к. Младост 1 with its entrance, floor and apartment — the client's structured address,
which the technicians' plans and the block's list read — when the neighbourhood and the block are in the
Addresses module; otherwise it stays free text, as typed, and the report lists it.
"""
import re

from sqlalchemy import select

from app.addresses.models import Block, City, Neighbourhood
from app.extensions import db

# The parts of a Bulgarian address, each a marker and its value up to the next comma.
NEIGHBOURHOOD = re.compile(r"(?:^|[,\s])(?:ж\.?\s*к\.?|жк|кв\.|квартал)\s*([^,]+?)"
                           r"(?=\s+(?:бл\.?|блок|вх\.?|ет\.?|ап\.?)\s|\s*,|\s*$)", re.IGNORECASE)
CITY = re.compile(r"(?:^|[,\s])(?:гр\.|град|с\.|село)\s*([^,]+)", re.IGNORECASE)
PARTS = {
    "block": re.compile(r"(?:^|[,\s])(?:бл\.?|блок)\s*([^\s,]+)", re.IGNORECASE),
    "entrance": re.compile(r"(?:^|[,\s])(?:вх\.?|вход)\s*([^\s,]+)", re.IGNORECASE),
    "floor": re.compile(r"(?:^|[,\s])(?:ет\.?|етаж)\s*([^\s,]+)", re.IGNORECASE),
    "apartment": re.compile(r"(?:^|[,\s])(?:ап\.?|апартамент)\s*([^\s,]+)", re.IGNORECASE),
}
# The client's columns: a longer entrance, floor or apartment is no structured address.
WIDTHS = {"entrance": 5, "floor": 5, "apartment": 10}


def _key(text):
    return re.sub(r"\s+", " ", str(text or "")).strip().casefold()


class BlockIndex:
    """Every block of the neighbourhoods, read once for a whole file: {(neighbourhood, block): [(city, id)]}."""

    def __init__(self):
        self.blocks = {}
        rows = db.session.execute(select(Block.id, Block.name, Neighbourhood.name, City.name)
                                  .join(Neighbourhood, Neighbourhood.id == Block.neighbourhood_id)
                                  .join(City, City.id == Neighbourhood.city_id))
        for block_id, block, neighbourhood, city in rows:
            self.blocks.setdefault((_key(neighbourhood), _key(block)), []).append((_key(city), block_id))

    def match(self, text):
        """{block_id, entrance, floor, apartment, address_text: None} of a matching address, or None."""
        if not text or not self.blocks:
            return None
        neighbourhood, block = NEIGHBOURHOOD.search(text), PARTS["block"].search(text)
        if neighbourhood is None or block is None:
            return None
        candidates = self.blocks.get((_key(neighbourhood.group(1)), _key(block.group(1))), [])
        city = CITY.search(text)
        if city is not None:
            candidates = [candidate for candidate in candidates if candidate[0] == _key(city.group(1))]
        if len(candidates) != 1:  # none, or the same neighbourhood and block in two cities and no city named
            return None
        fields = {"block_id": candidates[0][1], "address_text": None}
        for part, width in WIDTHS.items():
            found = PARTS[part].search(text)
            value = found.group(1).strip() if found else None
            if value and len(value) > width:
                return None
            fields[part] = value or None
        return fields
