"""Imports every model so that mappers and versioning see them all."""
from flask_appbuilder.security.sqla import models as security_models  # noqa: F401

from app.addresses import models as addresses_models  # noqa: F401
from app.audit import models as audit_models  # noqa: F401
from app.billing import models as billing_models  # noqa: F401
from app.cashdesk import models as cashdesk_models  # noqa: F401
from app.catalog import models as catalog_models  # noqa: F401
from app.collectors import models as collectors_models  # noqa: F401
from app.clients import models as clients_models  # noqa: F401
from app.contracts import models as contracts_models  # noqa: F401
from app.core import counters, duties, files, one_time_links  # noqa: F401
from app.dealers import models as dealers_models  # noqa: F401
from app.epay import models as epay_models  # noqa: F401
from app.freeftp import models as freeftp_models  # noqa: F401
from app.imports import models as imports_models  # noqa: F401
from app.invoices import models as invoices_models  # noqa: F401
from app.networks import models as networks_models  # noqa: F401
from app.notifications import models as notifications_models  # noqa: F401
from app.organizer import models as organizer_models  # noqa: F401
from app.portal import models as portal_models  # noqa: F401
from app.protection import models as protection_models  # noqa: F401
from app.reports import models as reports_models  # noqa: F401
from app.security import models as operator_models  # noqa: F401
