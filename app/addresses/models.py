from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import relationship

NEIGHBOURHOOD_KINDS = ("ж.к.", "кв.")


class Technology(Model):
    """User-defined: cable internet over CATV (DOCSIS), over LAN, cable TV, FTTH…"""

    __tablename__ = "technology"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    description = Column(Text)

    def __str__(self):
        return self.name or ""


class City(Model):
    __tablename__ = "city"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)

    def __str__(self):
        return self.name or ""


class Neighbourhood(Model):
    """A ж.к. or кв. of a city, e.g. ж.к. Младост 1."""

    __tablename__ = "neighbourhood"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    city_id = Column(Integer, ForeignKey("city.id", ondelete="RESTRICT"), nullable=False, index=True)
    city = relationship("City", lazy="joined")
    kind = Column(String(10), nullable=False, default="ж.к.")
    name = Column(String(100), nullable=False)
    blocks = relationship("Block", back_populates="neighbourhood", order_by="Block.name")

    __table_args__ = (
        UniqueConstraint("city_id", "name", name="uq_neighbourhood_city_name"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.kind} {self.name}" if self.kind else (self.name or "")


block_technology = Table(
    "block_technology",
    Model.metadata,
    Column("block_id", Integer, ForeignKey("block.id", ondelete="CASCADE"), primary_key=True),
    Column("technology_id", Integer, ForeignKey("technology.id", ondelete="CASCADE"), primary_key=True),
)


class Block(Model):
    """A building (бл.) with its entrances and the technologies available in it."""

    __tablename__ = "block"
    __versioned__ = {"exclude": ["technologies"]}

    id = Column(Integer, primary_key=True)
    neighbourhood_id = Column(Integer, ForeignKey("neighbourhood.id", ondelete="RESTRICT"), nullable=False, index=True)
    neighbourhood = relationship("Neighbourhood", back_populates="blocks", lazy="joined")
    name = Column(String(30), nullable=False)  # "105", "3А"
    entrances = Column(String(50))  # "А, Б, В"
    street_address = Column(String(200))
    comment = Column(Text)
    technologies = relationship("Technology", secondary=block_technology, order_by="Technology.name")

    __table_args__ = (
        UniqueConstraint("neighbourhood_id", "name", name="uq_block_neighbourhood_name"),
        {"extend_existing": True},
    )

    def has_technology(self, technology_id):
        return any(technology.id == technology_id for technology in self.technologies)

    def __str__(self):
        return f"{self.neighbourhood}, бл. {self.name}" if self.neighbourhood else f"бл. {self.name}"
