"""The organizer's test world: task types with steps, a client in a block, technicians."""
from datetime import time
from html.parser import HTMLParser

from app.addresses.models import Block, City, Neighbourhood
from app.extensions import db
from app.organizer.models import ASKS_NOTE, ASKS_VALUE, PURPOSE_FAULT, PURPOSE_INSTALLATION, TaskType, TaskTypeStep
from app.organizer.services import create_task
from tests.factories import head_office_cashier, make_client, make_operator

PASSWORD = "operator-pass-123"


def make_installation_type(name="Нова инсталация"):
    task_type = TaskType(name=name, purpose=PURPOSE_INSTALLATION, duration_minutes=90, colour="#5cb85c", steps=[
        TaskTypeStep(position=1, name="Прокарване на кабел", required=True),
        TaskTypeStep(position=2, name="Монтаж на модем", required=True, asks=ASKS_VALUE, value_label="MAC на модема"),
        TaskTypeStep(position=3, name="Ниво на сигнала", required=False, asks=ASKS_VALUE,
                     value_label="Сигнал, dBmV"),
        TaskTypeStep(position=4, name="Подпис на клиента", required=True, asks=ASKS_NOTE),
    ])
    db.session.add(task_type)
    db.session.commit()
    return task_type


def make_fault_type(name="Повреда"):
    task_type = TaskType(name=name, purpose=PURPOSE_FAULT, duration_minutes=45, colour="#d9534f", steps=[
        TaskTypeStep(position=1, name="Диагностика", required=True, asks=ASKS_NOTE),
        TaskTypeStep(position=2, name="Подмяна на кабел", required=False),
    ])
    db.session.add(task_type)
    db.session.commit()
    return task_type


def make_block(neighbourhood_name, block_name):
    city = db.session.query(City).filter_by(name="София").first() or City(name="София")
    neighbourhood = (db.session.query(Neighbourhood).filter_by(name=neighbourhood_name).first()
                     or Neighbourhood(city=city, kind="ж.к.", name=neighbourhood_name))
    block = Block(neighbourhood=neighbourhood, name=block_name)
    db.session.add(block)
    db.session.commit()
    return block


def make_technician(tag, dealer=None):
    return make_operator(dealer, tag, "Техник", username=f"tech-{tag}")


def make_task(task_type, client, technicians=(), day=None, start=None, end=None, **values):
    task = create_task(head_office_cashier(), task_type=task_type, client=client, technicians=list(technicians),
                       scheduled_on=day, time_from=time(*start) if start else None,
                       time_to=time(*end) if end else None, **values)
    db.session.commit()
    return task


def client_in(neighbourhood, block, name, **values):
    return make_client(None, name, block=make_block(neighbourhood, block), entrance="Б", floor="3", apartment="12",
                       phone="0888 123 456", **values)


class _FormReader(HTMLParser):
    """The values a browser would send with the page's form: inputs, checked boxes, selected options."""

    def __init__(self):
        super().__init__()
        self.values, self._select, self._textarea = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and (attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs):
            self.values.setdefault(name, attrs.get("value") or "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values.setdefault(self._select, attrs.get("value") or "")
        elif tag == "textarea":
            self._textarea = name
            self.values.setdefault(name, "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html):
    reader = _FormReader()
    reader.feed(html)
    return reader.values
