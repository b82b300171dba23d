"""The task count of a service without autoscaling follows the config on the next `pulumi up`
(issue 17, finding 14): turning the schedule off brings a sleeping service back, and a new
plano:desiredCount applies at once, not at the next wake.

Pulumi sends an update only for inputs that differ from what it last wrote (minus ignore_changes);
the scheduled actions change the running count behind its back. So these tests check, on the
resources the program registers, that each of those config changes is a difference Pulumi sends
to the scalable target, whose registration with a minimum above the running count starts tasks.
"""

from __future__ import annotations

from typing import Any

from plano_tools.simulate import Registered, Run

from tests.conftest import plain, run_with, stack_run

TARGET = "aws:appautoscaling/target:Target"
ACTION = "aws:appautoscaling/scheduledAction:ScheduledAction"
SERVICE = "aws:ecs/service:Service"


def _target(run: Run) -> Registered:
    assert run.error is None, run.error
    return run.one(TARGET)


def _sent(before: Registered, after: Registered) -> dict[str, tuple[Any, Any]]:
    """Inputs that differ between two runs and that ignore_changes does not hide: what `up` sends."""
    old, new = plain(before.inputs), plain(after.inputs)
    return {
        key: (old.get(key), new.get(key))
        for key in set(old) | set(new)
        if old.get(key) != new.get(key) and key not in after.ignore_changes
    }


def test_turning_the_schedule_off_re_registers_the_desired_count() -> None:
    scheduled = _target(stack_run("dev"))
    always = _target(run_with("dev", values={"activeHours": "always"}))
    assert scheduled.urn == always.urn  # the same target: updated, not deleted (which would leave 0 tasks)
    assert _sent(scheduled, always), "turning the schedule off must change the target, or a sleeping service stays at 0"
    inputs = plain(always.inputs)
    assert inputs["minCapacity"] == inputs["maxCapacity"] == 1  # dev's desiredCount: registering it starts the tasks
    assert inputs["suspendedState"]["scheduledScalingSuspended"] is True
    assert run_with("dev", values={"activeHours": "always"}).of_type(ACTION) == []


def test_turning_the_schedule_on_again_is_a_change_too() -> None:
    always = _target(run_with("dev", values={"activeHours": "always"}))
    scheduled = _target(stack_run("dev"))
    assert "suspendedState" in _sent(always, scheduled)


def test_a_new_desired_count_is_sent_on_the_next_up_with_and_without_a_schedule() -> None:
    for values in ({}, {"activeHours": "always"}):
        one = _target(run_with("dev", values={**values, "desiredCount": 1, "maxCount": 2}))
        two = _target(run_with("dev", values={**values, "desiredCount": 2, "maxCount": 2}))
        sent = _sent(one, two)
        assert sent.get("minCapacity") == (1, 2) and sent.get("maxCapacity") == (1, 2), values
    actions = {
        r.name: plain(r.inputs) for r in run_with("dev", values={"desiredCount": 2, "maxCount": 2}).of_type(ACTION)
    }
    assert actions["wake"]["scalableTargetAction"] == {"minCapacity": 2, "maxCapacity": 2}


def test_an_ordinary_up_sends_nothing_to_the_target() -> None:
    """The same config twice: no difference, so `pulumi up` at night leaves the service asleep."""
    assert _sent(_target(stack_run("dev")), _target(run_with("dev"))) == {}


def test_the_service_leaves_the_count_to_the_schedule_only_while_there_is_one() -> None:
    assert "desiredCount" in stack_run("dev").one(SERVICE).ignore_changes
    assert "desiredCount" not in run_with("dev", values={"activeHours": "always"}).one(SERVICE).ignore_changes


def test_autoscaled_prod_keeps_its_own_scaling_target_only() -> None:
    run = stack_run("prod")
    targets = run.of_type(TARGET)
    assert len(targets) == 1 and "wake_command" not in run.outputs
    inputs = plain(targets[0].inputs)
    assert inputs["minCapacity"] == 2 and inputs["maxCapacity"] == 6
