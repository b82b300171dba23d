"""The one way in for configuration: ``plano:*`` stack config to typed, validated, frozen settings.

- ``keys``: every key declared once (type, description, default, per-profile values);
- ``profiles``: what each profile's safety rests on; ``limits``: the AWS and Plano facts checked;
- ``model``: the frozen settings the components receive; ``reader``: typed raw access;
- ``database``, ``network``, ``ingress``, ``service``, ``secrets``: one validator per area;
- ``load``: ``load_settings`` (pure); ``source``: the Pulumi edge, the only reader of ``pulumi.Config``.

Nothing else in the program reads ``pulumi.Config``.
"""

from plano_pulumi.core.settings.keys import (
    KEYS,
    KEYS_BY_NAME,
    NAMESPACE,
    PROFILES,
    Architecture,
    Capacity,
    DbEngine,
    Ingress,
    Key,
    NatGateways,
    Profile,
    TlsMode,
    config_reference_markdown,
    pulumi_yaml_config_block,
)
from plano_pulumi.core.settings.limits import OPEN_PREFIX_BELOW, SECRET_LOOKING, is_internet_wide
from plano_pulumi.core.settings.load import load_settings
from plano_pulumi.core.settings.model import (
    DatabaseSettings,
    IngressSettings,
    LocalSettings,
    MonitoringSettings,
    NetworkSettings,
    RawConfig,
    ScheduleSettings,
    Secret,
    SecretSettings,
    ServiceSettings,
    Settings,
    UsageProfile,
)
from plano_pulumi.core.settings.profiles import POLICIES, ProfilePolicy
from plano_pulumi.core.settings.source import (
    plaintext_secret_leaves,
    raw_config_from_pulumi,
    resource_tags,
    settings_from_pulumi,
)

__all__ = [
    "KEYS",
    "KEYS_BY_NAME",
    "NAMESPACE",
    "OPEN_PREFIX_BELOW",
    "POLICIES",
    "PROFILES",
    "SECRET_LOOKING",
    "Architecture",
    "Capacity",
    "DatabaseSettings",
    "DbEngine",
    "Ingress",
    "IngressSettings",
    "Key",
    "LocalSettings",
    "MonitoringSettings",
    "NatGateways",
    "NetworkSettings",
    "Profile",
    "ProfilePolicy",
    "RawConfig",
    "ScheduleSettings",
    "Secret",
    "SecretSettings",
    "ServiceSettings",
    "Settings",
    "TlsMode",
    "UsageProfile",
    "config_reference_markdown",
    "is_internet_wide",
    "load_settings",
    "plaintext_secret_leaves",
    "pulumi_yaml_config_block",
    "raw_config_from_pulumi",
    "resource_tags",
    "settings_from_pulumi",
]
