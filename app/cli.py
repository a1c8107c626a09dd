"""Operator commands: flask --app wsgi tenant create | user add | token create | seed-demo | seed-bench."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.tenancy import tenant_context

tenant_cli = AppGroup("tenant", help="Manage tenants.")
user_cli = AppGroup("user", help="Manage users.")
token_cli = AppGroup("token", help="Manage API tokens.")


def _fail(message: str):
    raise click.ClickException(message)


@tenant_cli.command("create")
@click.option("--company", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", default="")
@click.option("--template", "template_key", default=None)
@click.option("--lang", "language", type=click.Choice(["zh_CN", "en"]), default="zh_CN")
def tenant_create(company, email, password, name, template_key, language):
    """Create a tenant with its owner; prints the new tenant id."""
    from app.accounts.passwords import password_problem
    from app.accounts.services import create_tenant, email_taken
    from app.card_templates.builtin import BUILTIN_KEYS

    if template_key and template_key not in BUILTIN_KEYS:
        _fail(f"unknown template {template_key!r}; choose one of {', '.join(BUILTIN_KEYS)}")
    if email_taken(email):
        _fail(f"{email} is already registered")
    problem = password_problem(password, email)
    if problem:
        _fail(str(problem))
    tenant, _user = create_tenant(company, name or email.split("@")[0], email, password, language, template_key)
    db.session.commit()
    click.echo(tenant.id)


@user_cli.command("add")
@click.option("--tenant", "tenant_id", type=int, required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["owner", "admin", "member", "viewer"]), default="member")
@click.option("--name", default="")
def user_add(tenant_id, email, password, role, name):
    """Add a user to a tenant; prints the new user id."""
    from app.accounts.models import Tenant
    from app.accounts.passwords import password_problem
    from app.accounts.services import add_user, email_taken

    if db.session.get(Tenant, tenant_id) is None:
        _fail(f"no tenant {tenant_id}")
    if email_taken(email):
        _fail(f"{email} is already registered")
    problem = password_problem(password, email)
    if problem:
        _fail(str(problem))
    with tenant_context(tenant_id):
        user = add_user(email, password, role, name)
        db.session.commit()
        click.echo(user.id)


@token_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="CLI")
def token_create(email, name):
    """Create an API token for a user; the token is the last line printed."""
    from app.accounts.services import create_api_token, find_user_by_email

    user = find_user_by_email(email)
    if user is None:
        _fail(f"no user {email}")
    with tenant_context(user.tenant_id):
        token = create_api_token(user, name)
        db.session.commit()
        # Still in the tenant's scope: the commit expired the user, and reloading its email needs the tenant.
        click.echo(f"API token for {user.email} (shown once):")
    click.echo(token)


@click.command("seed-demo")
@click.option("--email", default="demo@clientcard.local")
@click.option("--password", default="demo-pass-2026")
def seed_demo(email, password):
    """Load a demo tenant with realistic Chinese clients (idempotent)."""
    from app.accounts.services import find_user_by_email
    from app.demo import load_demo

    if find_user_by_email(email) is None:
        load_demo(email, password)
        click.echo("demo tenant loaded")
    else:
        click.echo("demo tenant already present")
    click.echo(f"URL:      {current_app.config['BASE_URL']}/login")
    click.echo(f"Login:    {email}")
    click.echo(f"Password: {password}")


@click.command("seed-bench")
@click.option("--tenants", type=int, default=10)
@click.option("--clients", type=int, default=1000)
@click.option("--small-clients", type=int, default=5, help="clients in each of the other tenants")
def seed_bench(tenants, clients, small_clients):
    """Generate benchmark data: one big tenant with CLIENTS clients and TENANTS small ones."""
    from app.demo import seed_bench as run

    big_id = run(tenants, clients, small_clients, echo=click.echo)
    click.echo(f"big tenant: {big_id}")


def init_app(app):
    for group in (tenant_cli, user_cli, token_cli):
        app.cli.add_command(group)
    app.cli.add_command(seed_demo)
    app.cli.add_command(seed_bench)
