"""The reconcile runs the steps the apps register, in a fixed order, behind one guard."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from scrm.wecom import sync
from scrm.wecom.models import ReconcileHold
from scrm.wecom.sync import reconcile_step, reconcile_steps


def run_sync(*args: str) -> dict:
    out, err = StringIO(), StringIO()
    call_command("wecom_sync", "--json", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue())


@pytest.fixture
def steps(monkeypatch):
    """The registry as the apps left it, restored after the test."""
    monkeypatch.setattr(sync, "STEPS", dict(sync.STEPS))
    return sync.STEPS


def test_the_apps_register_their_steps_in_the_order_the_reconcile_needs():
    """Tags before anything reads tag ids; customers' tags after customers; groups last."""
    assert [(s.name, s.pull.__module__) for s in reconcile_steps()] == [
        ("tags", "tagging.reconcile"),
        ("staff", "contacts.reconcile"),
        ("customers", "contacts.reconcile"),
        ("customer_tags", "tagging.reconcile"),
        ("groups", "groups.reconcile"),
    ]
    assert {s.removal_kind: s.label for s in reconcile_steps() if s.removal_kind} == {
        "staff": "员工",
        "relations": "客户关系",
        "groups": "客户群",
    }


def test_the_registry_refuses_a_second_step_under_a_taken_name_or_removal_kind(steps):
    taken = steps["staff"]
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        reconcile_step("staff", 99, pull=lambda ctx: None)
    with pytest.raises(ImproperlyConfigured, match="already belongs"):
        reconcile_step(
            "staff_again", 99, pull=lambda ctx: None, end=lambda ctx: None, removal_kind="staff"
        )
    with pytest.raises(ImproperlyConfigured, match="ends none"):
        reconcile_step("probe", 99, pull=lambda ctx: None, removal_kind="probes")
    # An app's ready() running twice registers the same step again: harmless.
    assert (
        reconcile_step(
            "staff",
            taken.order,
            pull=taken.pull,
            end=taken.end,
            removal_kind=taken.removal_kind,
            label=taken.label,
        )
        is taken
    )
    assert steps["staff"] is taken and "probe" not in steps


@pytest.mark.django_db
def test_a_registered_step_is_pulled_after_the_earlier_ones_and_ended_after_the_guard(
    steps, wecom_sandbox
):
    wecom_sandbox.seed_staff("lina")
    calls: list[str] = []

    def pull(ctx):
        calls.append("pull")
        assert ctx.follow_userids == ["lina"]  # the staff step ran before
        ctx.report.add("probes_seen", 2)
        ctx.removal("probes").items = ["p1"]
        ctx.removal("probes").active = 100

    def end(ctx):
        calls.append("end")
        assert ctx.ended_at is not None
        ctx.report.add("probes_ended", len(ctx.removal("probes").items))

    reconcile_step("probe", 45, pull=pull, end=end, removal_kind="probes", label="探针")
    assert [s.name for s in reconcile_steps()][3:] == ["customer_tags", "probe", "groups"]
    assert run_sync() == {"staff_created": 1, "probes_seen": 2, "probes_ended": 1}
    assert calls == ["pull", "end"]


@pytest.mark.django_db
def test_the_guard_holds_a_mass_removal_of_a_registered_kind_with_its_label(
    steps, wecom_sandbox, settings
):
    settings.WECOM_SYNC_MIN_REMOVAL_ROWS = 50
    ended: list[str] = []

    def pull(ctx):
        ctx.removal("probes").items = [f"p{i}" for i in range(60)]
        ctx.removal("probes").active = 60

    def end(ctx):
        ended.append("end")

    reconcile_step("probe", 45, pull=pull, end=end, removal_kind="probes", label="探针")
    held = run_sync()
    assert "60 / 60 个探针" in held["held"] and ended == []
    hold = ReconcileHold.objects.get(resolved_at__isnull=True)
    assert hold.counts["probes"] == {"remove": 60, "active": 60}
    assert hold.counts["relations"] == {"remove": 0, "active": 0}

    run_sync("--confirm-mass-removal")
    assert ended == ["end"]
    hold.refresh_from_db()
    assert hold.resolution == "confirmed"
