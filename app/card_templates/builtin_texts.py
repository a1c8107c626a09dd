"""One line per built-in template on who it suits, for the signup chooser (translated like every UI text)."""
from flask_babel import lazy_gettext as _l

SUITS = {
    "relationship": _l("Any small team: one short form a salesperson fills in a few minutes after a visit."),
    "key_account_company": _l("Firms selling to a few large companies: the complete 131-field file of each account."),
    "key_account_person": _l("Relationship selling to key people: a personal profile of each decision maker."),
    "real_estate_visitor": _l("Property sales offices: one warm card per visitor or caller, with buying needs."),
    "telesales": _l("Telephone sales teams: contact, call outcome, interest and the next call."),
}
