"""The e-mail templates' pages (/mail-templates/): the kinds of message, and editing one with a preview."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.widgets import TextArea

from app.audit.services import record_history
from app.core.actors import current_operator
from app.core.errors import FieldErrors
from app.core.formatting import format_datetime
from app.core.sandbox import TemplateProblem
from app.core.transaction import discard
from app.core.views import show_refusal_on_form
from app.notifications import templates
from app.notifications.models import MailTemplate


class TallTextArea(TextArea):
    def __call__(self, field, **kwargs):
        kwargs.setdefault("rows", 22)
        kwargs.setdefault("class", "form-control")
        kwargs.setdefault("style", "font-family: monospace; width: 100%")
        return super().__call__(field, **kwargs)


class MailTemplateForm(FlaskForm):
    subject = StringField(_l("Subject"), render_kw={"class": "form-control"})
    body = TextAreaField(_l("Text"), widget=TallTextArea())


class MailTemplateView(BaseView):
    route_base = "/mail-templates"
    class_permission_name = "MailTemplate"
    default_view = "list"
    method_permission_name = {"list": "list", "edit": "edit"}
    base_permissions = ["can_list", "can_edit"]

    @expose("/")
    @has_access
    def list(self):
        rows = {row.kind: row for row in MailTemplate.query.all()}
        kinds = [(kind, rows.get(kind.key)) for kind in templates.KINDS.values()]
        return self.render_template("notifications/mail_templates.html", kinds=kinds, format_datetime=format_datetime,
                                    title=_l("E-mail templates"))

    @expose("/edit/<key>", methods=["GET", "POST"])
    @has_access
    def edit(self, key):
        if key not in templates.KINDS:
            abort(404)
        kind = templates.kind_of(key)
        form = MailTemplateForm()
        preview = None
        if request.method == "GET":
            form.subject.data, form.body.data = templates.sources(key)
        elif form.validate_on_submit():
            action = request.form.get("action")
            try:
                if action == "reset":
                    templates.reset(current_operator(), key)
                    flash(gettext("The default text is used again."), "info")
                    return redirect(url_for("MailTemplateView.edit", key=key))
                if action == "preview":
                    errors = templates.check(key, form.subject.data, form.body.data)
                    if errors:
                        raise FieldErrors(errors)
                    preview = templates.render(key, kind.sample(), (form.subject.data, form.body.data))
                else:
                    templates.save(current_operator(), key, form.subject.data, form.body.data)
                    flash(gettext("Saved. Messages from now on use this text."), "info")
                    return redirect(url_for("MailTemplateView.edit", key=key))
            except (FieldErrors, TemplateProblem) as refusal:
                discard()
                if isinstance(refusal, TemplateProblem):
                    refusal = FieldErrors({"body": [str(refusal)]})
                show_refusal_on_form(form, refusal)
        row = templates.edited(key)
        history = record_history(MailTemplate, row.id) if row is not None else []
        return self.render_template("notifications/mail_template.html", kind=kind, form=form, preview=preview,
                                    edited=row is not None, history=history, title=kind.name)
