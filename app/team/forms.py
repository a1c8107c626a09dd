from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.accounts.forms import LANGUAGE_CHOICES, _strong_password
from app.team.services import ROLE_LABELS


def role_choices(roles) -> list[tuple[str, str]]:
    return [(r, ROLE_LABELS[r]) for r in roles]


class InviteForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(_l("Enter your colleague's email address."))])
    role = SelectField(_l("Role"), default="member")


class AcceptInviteForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter your name.")), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Choose a password.")), _strong_password])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[EqualTo("password", _l("The two passwords differ."))])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default="zh_CN")
