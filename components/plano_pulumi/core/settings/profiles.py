"""What each stack profile's safety rests on: values that are not configurable on purpose."""

from __future__ import annotations

from dataclasses import dataclass

from plano_pulumi.core.settings.keys import Profile


# Values the safety of each profile rests on; not configurable on purpose.
@dataclass(frozen=True)
class ProfilePolicy:
    multi_az: bool
    deletion_protection: bool
    skip_final_snapshot: bool
    performance_insights: bool
    log_exports: tuple[str, ...]
    apply_immediately: bool
    protect: bool
    secret_recovery_window_days: int
    autoscaling: bool
    min_tasks: int


POLICIES = {
    Profile.DEV: ProfilePolicy(
        multi_az=False,
        deletion_protection=False,
        skip_final_snapshot=True,
        performance_insights=False,
        log_exports=(),
        apply_immediately=True,
        protect=False,
        secret_recovery_window_days=0,
        autoscaling=False,
        min_tasks=1,
    ),
    Profile.PROD: ProfilePolicy(
        multi_az=True,
        deletion_protection=True,
        skip_final_snapshot=False,
        performance_insights=True,
        log_exports=("postgresql", "upgrade"),
        apply_immediately=False,
        protect=True,
        secret_recovery_window_days=30,
        autoscaling=True,
        min_tasks=2,
    ),
    # Docker on a workstation: nothing in AWS; what is kept on destroy is plano:localKeepDataVolume.
    Profile.LOCAL: ProfilePolicy(
        multi_az=False,
        deletion_protection=False,
        skip_final_snapshot=True,
        performance_insights=False,
        log_exports=(),
        apply_immediately=True,
        protect=False,
        secret_recovery_window_days=0,
        autoscaling=False,
        min_tasks=1,
    ),
}
