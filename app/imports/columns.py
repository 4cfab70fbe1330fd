"""The import's templates: each kind's columns, by their Bulgarian header, with an example row.

A file's columns are matched by header (any order, any letter case, extra
spaces and a trailing ":" or "*" ignored), also by the few other names old
systems and spreadsheets give them. A column no template knows is listed in
the report, never dropped silently.
"""
import csv
import io
import re
from dataclasses import dataclass

from app.imports.models import BALANCES, CLIENTS, PAYMENTS, SUBSCRIPTIONS


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    example: str
    required: bool = False
    aliases: tuple = ()
    note: str = ""


CLIENT_COLUMNS = (
    Column("source_key", "Клиентски номер", "10045", True, ("номер на клиент", "клиент №", "абонатен номер"),
           "номерът на клиента в старата система; по него повторният внос намира клиента"),
    Column("kind", "Вид", "физическо лице", note="„физическо лице“ (или празно) или „фирма“"),
    Column("name", "Име", "Иван Петров Иванов", True, ("име и фамилия", "наименование", "име на фирмата")),
    Column("egn", "ЕГН", "7501020018", note="на физическо лице; проверява се като във формата"),
    Column("id_card", "Лична карта", "645123987"),
    Column("eik", "ЕИК", "", aliases=("булстат", "еик/булстат"), note="задължителен за фирма"),
    Column("mol", "МОЛ", ""),
    Column("company_address", "Адрес на фирмата", ""),
    Column("vat_number", "ДДС номер", "", aliases=("ин по ддс", "номер по ддс"),
           note="попълнен: фирмата е регистрирана по ДДС"),
    Column("phone", "Телефон", "0888 123 456", aliases=("телефони", "gsm", "мобилен")),
    Column("email", "Имейл", "ivan@example.bg", aliases=("e-mail", "email", "е-поща", "ел. поща")),
    Column("address_text", "Адрес", "гр. София, ж.к. Младост 1, бл. 105, вх. А, ап. 12"),
    Column("comment", "Бележка", "", aliases=("коментар", "забележка")),
)

SUBSCRIPTION_COLUMNS = (
    Column("source_key", "Номер на абонамента", "5501", True, ("абонамент №", "номер на услугата"),
           "номерът на абонамента в старата система; по него повторният внос го намира"),
    Column("client_key", "Клиентски номер", "10045", True, ("номер на клиент", "клиент №", "абонатен номер"),
           "клиентският номер от файла с клиентите (внесени преди това)"),
    Column("service", "Услуга", "Интернет 100", True, ("тарифа", "тарифен план"),
           "името на услугата в каталога или нейният номер"),
    Column("status", "Статус", "активен", note="активен, спрян, чака инсталация или прекратен; празно: активен"),
    Column("activation_date", "Активиран на", "15.03.2021", aliases=("дата на активиране", "активиране"),
           note="дд.мм.гггг или гггг-мм-дд"),
    Column("paid_until", "Платено до", "31.01.2027", note="дд.мм.гггг или гггг-мм-дд"),
    Column("monthly_fee", "Месечна такса", "12,90",
           note="по желание: проверява се, че е таксата на услугата (десетична запетая или точка)"),
    Column("username", "Потребителско име", "ivan.petrov", aliases=("потребител", "username")),
    Column("password", "Парола", "tajna-123", aliases=("password",), note="пази се както е: входът продължава"),
    Column("mac_address", "MAC адрес", "AA:BB:CC:DD:EE:01", aliases=("mac",)),
    Column("ip_addresses", "IP адреси", "10.20.0.15", aliases=("ip адрес", "ip"),
           note="разделени със запетая или интервал; от мрежите на модула „Мрежи“, незаети"),
    Column("delivery_address", "Адрес на услугата", "", aliases=("адрес на доставка",)),
)

BALANCE_COLUMNS = (
    Column("source_key", "Клиентски номер", "10045", True, ("номер на клиент", "клиент №", "абонатен номер"),
           "клиентът (внесен преди това); салдото му е едно и повторният внос го поправя"),
    Column("debt", "Задължение", "25,80", aliases=("дълг", "дължи", "дължима сума"),
           note="какво дължи клиентът в старата система: открито задължение „Задължение от предишната система“"),
    Column("credit", "Аванс", "", aliases=("кредит", "надплатено", "предплатено"),
           note="какво е платил напред: аванс, който цикълът харчи за следващите периоди; попълва се едното от двете"),
    Column("day", "Към дата", "30.11.2026", aliases=("дата", "дата на салдото"),
           note="денят на салдото (дд.мм.гггг или гггг-мм-дд); празно: днес"),
    Column("currency", "Валута", "EUR", note="EUR, BGN или USD; празно: EUR"),
)

PAYMENT_COLUMNS = (
    Column("source_key", "Номер на плащането", "880123", True, ("плащане №", "номер на плащане", "id на плащането"),
           "номерът на плащането в старата система; по него повторният внос го намира"),
    Column("client_key", "Клиентски номер", "10045", True, ("номер на клиент", "клиент №", "абонатен номер"),
           "клиентският номер от файла с клиентите (внесени преди това)"),
    Column("day", "Дата", "15.10.2026", True, ("дата на плащане", "платено на"),
           note="денят на плащането, днес или по-рано (дд.мм.гггг или гггг-мм-дд)"),
    Column("amount", "Сума", "12,90", True, ("платена сума",)),
    Column("currency", "Валута", "EUR", note="EUR, BGN или USD; празно: EUR"),
    Column("method", "Начин на плащане", "В брой", aliases=("начин",),
           note="име или код на начин на плащане; празно: „Пренесено от предишната система“"),
    Column("note", "Бележка", "", aliases=("коментар", "забележка", "основание")),
)

COLUMNS = {CLIENTS: CLIENT_COLUMNS, SUBSCRIPTIONS: SUBSCRIPTION_COLUMNS, BALANCES: BALANCE_COLUMNS,
           PAYMENTS: PAYMENT_COLUMNS}
# The column the refused rows' file adds; read back without complaint when the corrected file comes in.
REASON_HEADER = "Причина за отказ"
HEADERS = {kind: {column.field: column.header for column in columns} for kind, columns in COLUMNS.items()}


def header_key(text):
    """A header as it is compared: lower case, single spaces, without a trailing ":" or "*"."""
    return re.sub(r"\s+", " ", str(text or "")).strip().rstrip(":*").strip().lower()


def map_header(header, kind):
    """({field: column index}, unknown headers, missing required headers) of a file's header row."""
    names = {}
    for column in COLUMNS[kind]:
        for name in (column.header, *column.aliases):
            names[header_key(name)] = column.field
    mapping, unknown = {}, []
    for index, title in enumerate(header):
        key = header_key(title)
        if not key or key == header_key(REASON_HEADER):
            continue
        field = names.get(key)
        if field is None or field in mapping:
            unknown.append(str(title))
        else:
            mapping[field] = index
    missing = [column.header for column in COLUMNS[kind] if column.required and column.field not in mapping]
    return mapping, unknown, missing


def write_csv(header, rows):
    """A CSV as Bulgarian Excel opens it: UTF-8 with a BOM, `;` between the columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def template_csv(kind):
    """The kind's template: its header and one example row."""
    columns = COLUMNS[kind]
    return write_csv([column.header for column in columns], [[column.example for column in columns]])
