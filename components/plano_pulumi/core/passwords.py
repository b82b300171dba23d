"""How the database password is generated, for every target (AWS and Docker)."""

from __future__ import annotations

from typing import Any

# Alphanumeric: the password is pasted into a URL inside YAML (Plano's envsubst) and into
# PgBouncer's auth file, neither of which can quote it (DESIGN.md 2.4).
DB_PASSWORD_RULES: dict[str, Any] = {
    "length": 40,
    "special": False,
    "min_upper": 2,
    "min_lower": 2,
    "min_numeric": 2,
}
