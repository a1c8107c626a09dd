"""Card templates: each tenant's sections and fields, the built-in templates, the editor."""
from flask import Blueprint

bp = Blueprint("card_templates", __name__, url_prefix="/template")

