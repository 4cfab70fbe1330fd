from flask_appbuilder import Model
from sqlalchemy import Column, Integer, String, Text


class AllowedAddress(Model):
    """An address or network from which operators may use the panel and API."""

    __tablename__ = "allowed_address"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    network = Column(String(50), nullable=False, unique=True)
    comment = Column(Text)

    def __str__(self):
        return self.network or ""
