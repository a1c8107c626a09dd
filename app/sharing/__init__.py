"""Card PDFs, client briefs (客户简报) and read-only share links."""
from flask import Blueprint

bp = Blueprint("sharing", __name__)
