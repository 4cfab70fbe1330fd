"""The address directory's questions."""
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.addresses.models import Block, Neighbourhood, Technology
from app.extensions import db


def coverage(neighbourhood_id=None):
    """(technologies, rows) where rows are (block, {technology id: available})."""
    technologies = db.session.scalars(select(Technology).order_by(Technology.name)).all()
    query = (
        select(Block)
        .join(Neighbourhood)
        .options(selectinload(Block.technologies), selectinload(Block.neighbourhood).selectinload(Neighbourhood.city))
        .order_by(Neighbourhood.name, Block.name)
    )
    if neighbourhood_id:
        query = query.where(Block.neighbourhood_id == neighbourhood_id)
    rows = [
        (block, {technology.id for technology in block.technologies})
        for block in db.session.scalars(query)
    ]
    return technologies, rows


def neighbourhoods():
    return db.session.scalars(
        select(Neighbourhood).options(selectinload(Neighbourhood.city)).order_by(Neighbourhood.name)
    ).all()
