"""Command-line tools: thin wrappers over services."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import db
from app.infra import uow
from app.urls import public_base_url


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_user)
    app.cli.add_command(set_password)
    app.cli.add_command(voice_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(cases_cli)
    app.cli.add_command(deliveries_cli)


# The domain packages (docs/ARCHITECTURE.md), in the order their layers build on each other.
DOMAIN_PACKAGES = (
    "infra",
    "people",
    "affairs",
    "notices",
    "screens",
    "participation",
    "assistant",
    "residents",
)


def _import_feature_modules() -> None:
    # Features register their demo data with seed_hook when their services are imported.
    import importlib
    import pkgutil
    from pathlib import Path

    here = Path(__file__).parent
    for package in DOMAIN_PACKAGES:
        for info in pkgutil.iter_modules([str(here / package)]):
            importlib.import_module(f"app.{package}.{info.name}")


@click.command("seed-demo")
@click.option("--json", "as_json", is_flag=True, help="Print the demo accounts as JSON.")
def seed_demo(as_json: bool) -> None:
    """Fill (or complete) the Chinese demo community; safe to run again."""
    from app import demo

    _import_feature_modules()
    summary = demo.seed()
    uow.commit()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, default=str))
        return
    base = public_base_url()
    click.echo("演示数据已就绪 / demo data ready\n")
    click.echo(f"  居民 长辈模式 / residents (easy mode):  {base}/easy")
    click.echo(f"  社区大屏 / lobby kiosk:                 {base}{summary['kiosk_url']}")
    click.echo(f"  工作台 / staff console:                 {base}/staff/")
    click.echo(f"  API 文档 / API docs:                    {base}/api/docs")
    click.echo("\n  演示账号 / demo accounts (role, login, password or PIN, where):")
    for account in summary["accounts"]:
        secret = account.get("password") or account.get("pin")
        click.echo(
            f"  {account['role']:<16} {account['login']:<18} {secret:<16} "
            f"{account.get('community') or ''}"
        )


@click.command("create-user")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--role",
    type=click.Choice(
        ["platform_admin", "committee_staff", "street_official", "grid_worker", "org_member"]
    ),
    required=True,
)
@click.option("--community", "community_code", help="Community code (committee staff).")
@click.option("--street-office", "office_code", help="Street office code (officials).")
@click.option("--grid-id", type=int)
@click.option("--organization-id", type=int)
@click.option("--can-write", is_flag=True, help="Officials: allow changes, not only reading.")
def create_user(
    username,
    display_name,
    password,
    role,
    community_code,
    office_code,
    grid_id,
    organization_id,
    can_write,
) -> None:
    """Create a staff-side account with one scoped role (for real deployments)."""
    from sqlalchemy import select

    from app.infra.errors import DomainError
    from app.models import Community, StreetOffice
    from app.people import people

    scope: dict = {}
    if community_code:
        community = db.session.scalar(select(Community).where(Community.code == community_code))
        if community is None:
            raise click.BadParameter(f"no community {community_code!r}", param_hint="--community")
        scope["community_id"] = community.id
    if office_code:
        office = db.session.scalar(select(StreetOffice).where(StreetOffice.code == office_code))
        if office is None:
            raise click.BadParameter(f"no street office {office_code!r}")
        scope["street_office_id"] = office.id
    try:
        person = people.create_staff_account(
            username=username, password=password, display_name=display_name
        )
        people.grant_role(
            None,
            person,
            role,
            grid_id=grid_id,
            organization_id=organization_id,
            can_write=can_write,
            **scope,
        )
    except DomainError as error:
        uow.rollback()
        raise click.ClickException(f"{error.message} {error.errors}") from None
    uow.commit()
    click.echo(f"created {username} ({role})")


@click.command("set-password")
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password(username, password) -> None:
    """Give a staff-side account a new password; its sign-ins and tokens end."""
    from sqlalchemy import select

    from app.infra.errors import DomainError
    from app.models import Person
    from app.people import people

    person = db.session.scalar(select(Person).where(Person.username == username.strip().lower()))
    if person is None:
        raise click.BadParameter(f"no account {username!r}", param_hint="--username")
    try:
        people.reset_password(person, password)
    except DomainError as error:
        uow.rollback()
        raise click.ClickException(f"{error.message} {error.errors}") from None
    uow.commit()
    click.echo(f"new password for {person.username}; its sign-ins have ended")


@click.group("voice", cls=AppGroup)
def voice_cli() -> None:
    """The voice assistant: speech model and speech output."""


@voice_cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def voice_check(as_json: bool) -> None:
    """Report the Vosk model (path, language, load time), run a self-test; non-zero on failure."""
    from app.assistant import runtime

    report = runtime.check(current_app._get_current_object())
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        model = report.get("model") or {}
        test = report.get("self_test") or {}
        tts = report.get("tts") or {}
        click.echo(f"model path:     {report['model_path'] or '(VOSK_MODEL_PATH not set)'}")
        click.echo(
            f"model language: {model.get('language', '-')} (dialog: {report['voice_language']})"
        )
        click.echo(f"load time:      {model.get('load_seconds', '-')} s")
        click.echo(f"grammar:        {model.get('grammar_supported', '-')}")
        click.echo(
            f"self-test:      {'ok' if test.get('ok') else 'FAILED'} "
            f"(expected {test.get('expected')!r}, heard {test.get('heard')!r})"
        )
        click.echo(f"speech output:  {'ok' if tts.get('ok') else 'FAILED'} {tts.get('voice', '')}")
        for warning in report["warnings"]:
            click.echo(f"warning: {warning}")
        if not report["ok"]:
            click.echo(f"error: {report.get('error')}", err=True)
    if not report["ok"]:
        raise SystemExit(1)


# --- jobs ----------------------------------------------------------------------------------------
def _describe(result) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in result.items())
    return str(result)


def _run_jobs(names) -> dict:
    from app.infra import jobs

    try:
        return jobs.run_due(only=names)
    except KeyError as error:
        raise click.BadParameter(error.args[0], param_hint="NAMES") from None


@click.group("jobs", cls=AppGroup)
def jobs_cli() -> None:
    """Jobs that run on a clock (app/infra/jobs.py)."""


@jobs_cli.command("run")
@click.argument("names", nargs=-1)
def jobs_run(names: tuple[str, ...]) -> None:
    """Run every job (or the NAMES given) now: case deadlines and auto-close, announcement
    schedule boundaries, purges of what has expired, the speech cache's size. From cron or a
    systemd timer, at least hourly (every few minutes fires announcements on time without a
    connected screen)."""
    for name, result in _run_jobs(names or None).items():
        click.echo(f"{name}: {_describe(result)}")


@jobs_cli.command("list")
def jobs_list() -> None:
    """The registered jobs, and which of them each process's feed watcher also runs."""
    from app.infra import jobs

    for job in jobs.registered():
        where = f"watcher every {job.every:g} s" if job.loop else "flask jobs run only"
        click.echo(f"{job.name:<24} {where}")


@click.group("deliveries", cls=AppGroup)
def deliveries_cli() -> None:
    """SMS and e-mail deliveries of notices (app/people/delivery.py); addresses masked."""


@deliveries_cli.command("list")
@click.option("--status", type=click.Choice(["queued", "sending", "sent", "failed", "skipped"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def deliveries_list(status: str | None, limit: int) -> None:
    """The newest deliveries: id, status, channel, masked address, kind, tries, last error."""
    from app.people import delivery

    for row in delivery.list_deliveries(status=status, limit=limit):
        click.echo(
            f"{row['id']:>6} {row['status']:<8} {row['channel']:<5} {row['address'] or '-':<24} "
            f"{row['kind']:<16} tries {row['attempts']}  {row['last_error'] or ''}".rstrip()
        )


@deliveries_cli.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
def deliveries_retry(ids: tuple[int, ...]) -> None:
    """Queue failed or skipped deliveries again (a sent one never goes twice)."""
    from app.infra import uow
    from app.infra.errors import DomainError
    from app.people import delivery

    for record_id in ids:
        try:
            delivery.retry_delivery(record_id)
        except DomainError as error:
            uow.rollback()
            raise click.ClickException(f"{record_id}: {error.message}") from None
    uow.commit()
    click.echo(f"queued again: {len(ids)}")


@click.group("cases", cls=AppGroup)
def cases_cli() -> None:
    """Older names of the case jobs (`flask jobs run` runs them all)."""


@cases_cli.command("escalate")
def escalate_command() -> None:
    """The job case_deadlines: due-soon reminders, overdue notices, escalations."""
    counts = _run_jobs(["case_deadlines"])["case_deadlines"]
    click.echo(
        f"due-soon reminders: {counts['due_soon']}, "
        f"overdue notices: {counts['overdue']}, escalated: {counts['escalated']}"
    )


@cases_cli.command("auto-close")
def auto_close_command() -> None:
    """The job case_auto_close: close resolved cases nobody confirmed in time."""
    counts = _run_jobs(["case_auto_close"])["case_auto_close"]
    click.echo(f"auto-closed: {counts['auto_closed']}")
