from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app.accounts.passwords import password_problem


def _valid_email(form, field):
    from app.values import InvalidValue, parse_value

    try:
        field.data = parse_value("email", field.data or "")
    except InvalidValue as e:
        raise ValidationError(str(e.message))
    if not field.data:
        raise ValidationError(_l("Enter your email address."))


def _strong_password(form, field):
    email = form.email.data if hasattr(form, "email") else ""
    problem = password_problem(field.data or "", email or "")
    if problem:
        raise ValidationError(str(problem))


LANGUAGE_CHOICES = [("zh_CN", "简体中文"), ("en", "English")]


class SignupForm(FlaskForm):
    company = StringField(_l("Company name"), validators=[DataRequired(_l("Enter your company's name.")), Length(max=120)])
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter your name.")), Length(max=80)])
    email = StringField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), _valid_email])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Choose a password.")), _strong_password])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default="zh_CN")
    template = SelectField(_l("Card template to start from"))


class LoginForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(_l("Enter your email address."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])
    remember = BooleanField(_l("Keep me signed in"))


class ForgotForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), _valid_email])


class ResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Choose a password.")), _strong_password])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[EqualTo("password", _l("The two passwords differ."))])


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))])
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Choose a password.")), _strong_password])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[EqualTo("password", _l("The two passwords differ."))])


class ProfileForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter your name.")), Length(max=80)])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(_l("Give the token a name.")), Length(max=80)])
