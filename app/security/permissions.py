"""Every right an operator can hold, and the built-in roles, declared as data.

Two kinds of rights make up the role × permission matrix:
- view permissions FAB creates for each view (can_list/can_show/can_add/
  can_edit/can_delete on a view's class_permission_name; the REST API of the
  same name answers to the same ones);
- business rights, held as permissions on the OPERATIONS view menu and
  checked on the server with app.security.rights.may(actor, right).
Rights that are naturally a view permission (manage operators, manage
protection, read the log) are that view permission, so the matrix never has
two rows for one right.
"""
from flask_babel import lazy_gettext as _l

OPERATIONS = "Operations"

RECORD_PAYMENT = "record_payment"
REVERSE_PAYMENT = "reverse_payment"
SEE_CASH_BALANCE = "see_cash_balance"
CHANGE_TECHNICAL = "change_technical_parameters"
ADD_SUBSCRIPTIONS = "add_subscriptions"
PRINT_CONTRACTS = "print_contracts"
EXPORT_REPORTS = "export_reports"
SEE_PERSONAL_DATA = "see_personal_data"
MANAGE_OPERATORS = "manage_operators"
MANAGE_PROTECTION = "manage_protection"
READ_LOG = "read_log"
OVERRIDE_TECHNOLOGY = "override_technology"
ADD_CHARGES = "add_charges"
SEE_ALL_CASH_DESKS = "see_all_cash_desks"
# Every task of the dealer scope, assigning technicians, cancelling; without it an operator (a technician)
# sees and works on only the tasks assigned to them (app.organizer.services).
PLAN_TASKS = "plan_tasks"
# Held by a role, it makes its operators log in with a one-time code too (app.security.two_factor).
TWO_FACTOR_LOGIN = "two_factor_login"
# Logging a fault the client reports, from the card (a head-office cashier takes the call); the task lands among the
# unplanned for a planner to give it a technician and a day. The desk then sees the client's tasks on the card.
REPORT_FAULTS = "report_faults"
# Bringing an ISP's clients and subscriptions in from a file (app.imports): administrators only by default.
IMPORT_DATA = "import_data"

# right → (permission, view menu)
RIGHTS = {
    RECORD_PAYMENT: (RECORD_PAYMENT, OPERATIONS),
    REVERSE_PAYMENT: (REVERSE_PAYMENT, OPERATIONS),
    SEE_CASH_BALANCE: (SEE_CASH_BALANCE, OPERATIONS),
    CHANGE_TECHNICAL: (CHANGE_TECHNICAL, OPERATIONS),
    ADD_SUBSCRIPTIONS: (ADD_SUBSCRIPTIONS, OPERATIONS),
    PRINT_CONTRACTS: (PRINT_CONTRACTS, OPERATIONS),
    EXPORT_REPORTS: (EXPORT_REPORTS, OPERATIONS),
    SEE_PERSONAL_DATA: (SEE_PERSONAL_DATA, OPERATIONS),
    OVERRIDE_TECHNOLOGY: (OVERRIDE_TECHNOLOGY, OPERATIONS),
    ADD_CHARGES: (ADD_CHARGES, OPERATIONS),
    SEE_ALL_CASH_DESKS: (SEE_ALL_CASH_DESKS, OPERATIONS),
    TWO_FACTOR_LOGIN: (TWO_FACTOR_LOGIN, OPERATIONS),
    PLAN_TASKS: (PLAN_TASKS, OPERATIONS),
    IMPORT_DATA: (IMPORT_DATA, OPERATIONS),
    REPORT_FAULTS: (REPORT_FAULTS, OPERATIONS),
    MANAGE_OPERATORS: ("can_edit", "Operator"),
    MANAGE_PROTECTION: ("can_edit", "AllowedAddress"),
    READ_LOG: ("can_list", "LogEntry"),
}

BUSINESS_RIGHTS = [right for right, (_perm, view) in RIGHTS.items() if view == OPERATIONS]

PERMISSION_LABELS = {
    "can_list": _l("list"),
    "can_show": _l("view"),
    "can_add": _l("add"),
    "can_edit": _l("edit"),
    "can_delete": _l("delete"),
    "menu_access": _l("menu"),
    "can_userinfo": _l("own profile"),
    "userinfoedit": _l("edit own profile"),
    "resetmypassword": _l("change own password"),
    "resetpasswords": _l("set passwords"),
    "can_this_form_get": _l("open the form"),
    "can_this_form_post": _l("submit the form"),
    "copyrole": _l("copy role"),
    "can_matrix": _l("view"),
    "can_coverage": _l("view"),
    "can_status": _l("change status"),
    "can_secret": _l("see the shared secret"),
    "can_preview": _l("preview before printing"),
    "can_get": _l("read"),
    "can_pdf": _l("PDF"),
    "can_plan": _l("day's plan and week"),
    "can_mine": _l("own tasks (phone page)"),
    "can_work": _l("mark steps, close"),
    "can_cancel": _l("cancel"),
    RECORD_PAYMENT: _l("record payment"),
    REVERSE_PAYMENT: _l("reverse payment"),
    SEE_CASH_BALANCE: _l("see cash balance"),
    CHANGE_TECHNICAL: _l("change technical parameters"),
    ADD_SUBSCRIPTIONS: _l("add subscriptions"),
    PRINT_CONTRACTS: _l("print contracts"),
    EXPORT_REPORTS: _l("export reports"),
    SEE_PERSONAL_DATA: _l("see personal data"),
    OVERRIDE_TECHNOLOGY: _l("sell without the block's technology"),
    ADD_CHARGES: _l("add manual charges"),
    SEE_ALL_CASH_DESKS: _l("see every operator's cash desk"),
    TWO_FACTOR_LOGIN: _l("must log in with a one-time code"),
    PLAN_TASKS: _l("plan tasks: see every task, assign technicians"),
    IMPORT_DATA: _l("import clients and subscriptions from a file"),
    REPORT_FAULTS: _l("log a fault the client reports"),
}

# View menus that are not a model (the model views register their labels
# with app.audit.formatting.register_entity).
VIEW_LABELS = {
    OPERATIONS: _l("Operations"),
    "Role": _l("Roles"),
    "Company": _l("Company"),
    "Security": _l("Security"),
    "Dealers": _l("Dealers"),
    "Operators": _l("Operators"),
    "Roles": _l("Roles"),
    "Log": _l("LOG"),
    "Protection": _l("Protection"),
    "Rights matrix": _l("Rights matrix"),
    "Coverage": _l("Coverage"),
    "Catalog": _l("Catalog"),
    "Addresses": _l("Addresses"),
    "Services": _l("Services"),
    "Service groups": _l("Service groups"),
    "Networks": _l("Networks"),
    "IPv6 pools": _l("IPv6 pools"),
    "NAS": _l("NAS"),
    "Nas": _l("NAS"),
    "Online now": _l("Online now"),
    "RadiusSession": _l("Online now"),
    "Neighbourhoods": _l("Neighbourhoods"),
    "Blocks": _l("Blocks"),
    "Cities": _l("Cities"),
    "Technologies": _l("Technologies"),
    "Clients": _l("Clients"),
    "Subscriptions": _l("Subscriptions"),
    "Contracts": _l("Contracts"),
    "Contract types": _l("Contract types"),
    "Payments": _l("Payments"),
    "Head office": _l("Head office"),
    "Charges": _l("Charges"),
    "Invoices": _l("Invoices"),
    "Cash desk": _l("Cash desk"),
    "CashDesk": _l("Cash desk"),
    "Payment methods": _l("Payment methods"),
    "Payment types": _l("Payment types"),
    "Currencies": _l("Currencies"),
    "Payment collectors": _l("Payment collectors"),
    "Billing cycle": _l("Billing cycle"),
    "Freezes": _l("Freezes"),
    "SubscriptionFreeze": _l("Freezes"),
    "BillingRun": _l("Billing cycle runs"),
    "Notifications": _l("Notifications"),
    "Notification": _l("Notifications"),
    "MailTemplate": _l("E-mail templates"),
    "E-mail templates": _l("E-mail templates"),
    "RightsMatrix": _l("Rights matrix"),
    "LogEntry": _l("LOG"),
    "MenuApi": _l("Menu (API)"),
    "OpenApi": _l("API description (OpenAPI)"),
    "SwaggerView": _l("API documentation"),
    "ResetMyPasswordView": _l("Change own password"),
    "ResetPasswordView": _l("Set a password"),
    "UserInfoEditView": _l("Edit own profile"),
    "Reports": _l("Reports"),
    "Export": _l("Exports"),
    "Organizer": _l("Organizer"),
    "Tasks": _l("Tasks"),
    "Task types": _l("Task types"),
    "Day plan": _l("Tasks for the day"),
    "Unplanned": _l("Unplanned tasks"),
    "FREEFTP": _l("FREEFTP"),
    "My tasks": _l("My tasks"),
    "Import": _l("Import from another system"),
}

ADMINISTRATOR = "Администратор"
CASHIER = "Касиер"
TECHNICAL_SUPPORT = "Техническа поддръжка"
TECHNICIAN = "Техник"
MANAGER = "Мениджър"
DEALER_ADMINISTRATOR = "Администратор на дилър"

READ = ["can_list", "can_show"]
WRITE = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]

# What every operator may do with their own account.
SELF_SERVICE = {
    "Operator": ["can_userinfo", "userinfoedit", "resetmypassword"],
    "ResetMyPasswordView": ["can_this_form_get", "can_this_form_post"],
    "UserInfoEditView": ["can_this_form_get", "can_this_form_post"],
}

# Default grants of the built-in roles. Applied once per grant
# (app.security.services.init_roles): what an administrator later removes
# in the panel stays removed. Modules add their views' grants here.
COVERAGE = {"Coverage": ["can_coverage"]}
CATALOG_READ = {
    "Service": READ, "ServiceGroup": READ, "ServiceParameter": READ,
    "Neighbourhood": READ, "Block": READ, "City": READ, "Technology": READ, **COVERAGE,
}

SUBSCRIPTION_WORK = ["can_list", "can_show", "can_add", "can_edit", "can_status"]
# Printing also needs the PRINT_CONTRACTS right.
CONTRACT_WORK = READ + ["can_add", "can_preview", "can_pdf"]

# Recording, reversing, receipts and invoices of payments are governed by the
# business rights; the view permissions only open the pages.
PAYMENTS_READ = {"Payment": READ, "Charge": READ, "Invoice": READ, "CashDesk": ["can_list"]}
# The desk takes vacation requests: freezing a subscription.
FREEZE_WORK = {"SubscriptionFreeze": READ + ["can_add"]}

# A technician works on the tasks assigned to them; planners (PLAN_TASKS) see and change every task.
TASK_WORK = {"Task": READ + ["can_plan", "can_mine", "can_work"], "TaskType": READ}
TASK_PLANNING = {"Task": READ + ["can_add", "can_edit", "can_plan", "can_mine", "can_work", "can_cancel"],
                 "TaskType": READ, "TaskTypeStep": READ}

ROLE_DEFAULTS = {
    CASHIER: {
        "rights": [RECORD_PAYMENT, PRINT_CONTRACTS, SEE_CASH_BALANCE, REPORT_FAULTS],
        "views": {"Dealer": READ, **CATALOG_READ, "Client": ["can_list", "can_show", "can_add", "can_edit"],
                  "Subscription": READ, "Contract": CONTRACT_WORK, **PAYMENTS_READ, "Notification": READ,
                  "RadiusSession": READ, **FREEZE_WORK},
    },
    TECHNICAL_SUPPORT: {
        "rights": [CHANGE_TECHNICAL, PLAN_TASKS, REPORT_FAULTS],
        "views": {"Dealer": READ, **CATALOG_READ, "Network": READ, "Block": WRITE, "Client": READ,
                  "Subscription": ["can_list", "can_show", "can_edit", "can_status"], "RadiusSession": READ,
                  **TASK_PLANNING},
    },
    TECHNICIAN: {
        "rights": [],
        "views": {"Neighbourhood": READ, "Block": READ, **COVERAGE, **TASK_WORK},
    },
    MANAGER: {
        "rights": [EXPORT_REPORTS, SEE_CASH_BALANCE, SEE_ALL_CASH_DESKS],
        "views": {"Dealer": READ, "Operator": READ, "LogEntry": READ, **CATALOG_READ, "Network": READ,
                  "Client": READ, "Subscription": READ, "Contract": READ, **PAYMENTS_READ, "CurrencyRate": READ,
                  "PaymentMethod": READ, "PaymentType": READ, "BillingRun": READ, "Notification": READ,
                  "RadiusSession": READ,
                  "SubscriptionFreeze": READ, "Reports": ["can_list"], "Export": ["can_list"]},
    },
    DEALER_ADMINISTRATOR: {
        "rights": [RECORD_PAYMENT, REVERSE_PAYMENT, ADD_SUBSCRIPTIONS, PRINT_CONTRACTS,
                   SEE_PERSONAL_DATA, SEE_CASH_BALANCE, SEE_ALL_CASH_DESKS, CHANGE_TECHNICAL, ADD_CHARGES,
                   EXPORT_REPORTS, PLAN_TASKS, REPORT_FAULTS],
        "views": {"Dealer": READ, "Operator": WRITE + ["resetpasswords"], "LogEntry": READ,
                  **CATALOG_READ, "Network": READ, "Client": WRITE, "Subscription": SUBSCRIPTION_WORK,
                  "Contract": CONTRACT_WORK, **PAYMENTS_READ, "Charge": READ + ["can_add"], "Notification": READ,
                  "RadiusSession": READ, "Reports": ["can_list"], "Export": ["can_list"],
                  **FREEZE_WORK, **TASK_PLANNING},
    },
}
