from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from app.clients.numbers import validate_number_pattern

# Common zones for firms in and around China; the stored value is the IANA name.
TIMEZONES = [
    ("Asia/Shanghai", _l("China (Beijing, Shanghai) UTC+8")),
    ("Asia/Hong_Kong", _l("Hong Kong UTC+8")),
    ("Asia/Macau", _l("Macau UTC+8")),
    ("Asia/Taipei", _l("Taipei UTC+8")),
    ("Asia/Singapore", _l("Singapore UTC+8")),
    ("Asia/Kuala_Lumpur", _l("Kuala Lumpur UTC+8")),
    ("Asia/Manila", _l("Manila UTC+8")),
    ("Asia/Tokyo", _l("Tokyo UTC+9")),
    ("Asia/Seoul", _l("Seoul UTC+9")),
    ("Asia/Bangkok", _l("Bangkok UTC+7")),
    ("Asia/Ho_Chi_Minh", _l("Ho Chi Minh City UTC+7")),
    ("Asia/Jakarta", _l("Jakarta UTC+7")),
    ("Asia/Kolkata", _l("India UTC+5:30")),
    ("Asia/Dubai", _l("Dubai UTC+4")),
    ("Europe/Moscow", _l("Moscow UTC+3")),
    ("Europe/Berlin", _l("Central Europe (Berlin, Paris)")),
    ("Europe/London", _l("London")),
    ("America/New_York", _l("US Eastern (New York)")),
    ("America/Chicago", _l("US Central (Chicago)")),
    ("America/Los_Angeles", _l("US Pacific (Los Angeles)")),
    ("America/Sao_Paulo", _l("São Paulo")),
    ("Australia/Sydney", _l("Sydney")),
    ("Pacific/Auckland", _l("Auckland")),
    ("UTC", _l("UTC")),
]


def _valid_pattern(form, field):
    field.data = (field.data or "").strip()
    problem = validate_number_pattern(field.data)
    if problem:
        raise ValidationError(str(problem))


class SettingsForm(FlaskForm):
    company = StringField(_l("Company name"), validators=[DataRequired(_l("Enter your company's name.")),
                                                           Length(max=120)])
    timezone = SelectField(_l("Time zone"), choices=TIMEZONES, default="Asia/Shanghai")
    number_pattern = StringField(_l("Client number pattern"), validators=[_valid_pattern])
    visibility = RadioField(_l("What members see"), default="all", choices=[
        ("all", _l("All clients of the company")),
        ("own", _l("Only the clients they own or co-own")),
    ])
    sensitive_reason = RadioField(_l("Opening confidential sections"), default="always", choices=[
        ("always", _l("Always ask for a reason, and log it")),
        ("never", _l("Never ask")),
    ])


class StageForm(FlaskForm):
    name = StringField(_l("Stage"))
