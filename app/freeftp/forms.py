"""FREEFTP's forms: the settings (panel) and the public pages' registration and password forms."""
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional


class SettingsForm(FlaskForm):
    enabled = BooleanField(_l("FREEFTP is on"), description=_l(
        "Off: the public pages say registration is closed and registered accounts cannot log in "
        "(FTP-type subscriptions still can)."))
    allowed_networks = TextAreaField(
        _l("Allowed source networks"), validators=[Optional(), Length(max=5000)], widget=BS3TextAreaFieldWidget(),
        description=_l("Networks registration is allowed from, one per line (e.g. 10.0.0.0/8). "
                       "Empty: the networks of the Networks module."))
    email_pattern = StringField(
        _l("E-mail pattern"), validators=[Optional(), Length(max=300)], widget=BS3TextFieldWidget(),
        description=_l("E.g. *@example.bg; several separated by commas. Empty: any e-mail."))
    email_must_be_client = BooleanField(_l("The e-mail must be an existing client's"))
    confirm_email = BooleanField(_l("Confirm the e-mail by a link"), default=True, description=_l(
        "New registrations always confirm their e-mail by a link: the page never says whether an address has "
        "an account. This decides whether accounts registered unconfirmed earlier may log in."))
    download_kbps = IntegerField(_l("Download speed per session (KB/s)"), validators=[Optional()],
                                 widget=BS3TextFieldWidget(), description=_l("Empty: unlimited."))
    max_sessions = IntegerField(_l("Concurrent sessions per account"), default=2,
                                validators=[Optional(), NumberRange(min=1, max=100)], widget=BS3TextFieldWidget())
    ftp_root = StringField(_l("FTP folder"), validators=[Optional(), Length(max=500)], widget=BS3TextFieldWidget(),
                           description=_l("The folder served read-only to registered accounts and indexed for "
                                          "the search, e.g. /srv/ftp."))
    homes_root = StringField(_l("Folder of the subscriptions' homes"), validators=[Optional(), Length(max=500)],
                             widget=BS3TextFieldWidget(),
                             description=_l("FTP-type subscriptions get a writable folder here, named by "
                                            "their username."))
    home_quota_mb = IntegerField(_l("Quota of a home (MB)"), default=1024,
                                 validators=[Optional(), NumberRange(min=1)], widget=BS3TextFieldWidget())
    page_text = TextAreaField(_l("Text of the public page"), validators=[Optional(), Length(max=5000)],
                              widget=BS3TextAreaFieldWidget())


class RegistrationForm(FlaskForm):
    username = StringField(_l("Username"), validators=[Length(max=100)])
    password = PasswordField(_l("Password"), validators=[Length(max=200)])
    email = StringField(_l("E-mail"), validators=[Length(max=250)])


class ResetRequestForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[Length(max=250)])
