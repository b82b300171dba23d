"""Load balancer layout (pure): which ports open, where they go, and the idle timeout; the
user's own domain name (an alias record when a Route 53 zone is given)."""

from __future__ import annotations

import pytest
from plano_pulumi.aws.ingress import alb_listeners, endpoint_urls, idle_timeout_s
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.plano_config import Listener, primary_listener

from tests.conftest import run_with, stack_run

MODEL = Listener("llm", "model", 12000, 300)
AGENT = Listener("agents", "agent", 8001)
PROMPT = Listener("prompts", "prompt", 10000)


def test_https_serves_the_model_listener_on_443_and_redirects_80() -> None:
    plan = alb_listeners((AGENT, MODEL), https=True)
    assert [(p.port, p.protocol, p.target.name if p.target else None) for p in plan] == [
        (443, "HTTPS", "llm"),
        (80, "HTTP", None),
        (8001, "HTTPS", "agents"),
    ]


def test_plain_http_serves_on_80_and_the_other_listeners_on_their_ports() -> None:
    plan = alb_listeners((MODEL, PROMPT), https=False)
    assert [(p.port, p.protocol) for p in plan] == [(80, "HTTP"), (10000, "HTTP")]
    # No model listener: the agent listener, which answers /healthz, stands for the deployment (the
    # endpoint URL, port 443 and the health check agree on one listener).
    assert primary_listener((PROMPT, AGENT)) == AGENT
    assert primary_listener((PROMPT, MODEL, AGENT)) == MODEL


def test_idle_timeout_covers_plano_streams_and_longer_listener_timeouts() -> None:
    assert idle_timeout_s((AGENT,)) == 300
    assert idle_timeout_s((Listener("slow", "agent", 8002, 900),)) == 905
    assert idle_timeout_s((Listener("huge", "agent", 8002, 99_999),)) == 4000  # the ALB maximum


def test_endpoint_urls_name_each_listener() -> None:
    urls = endpoint_urls("lb.example", (MODEL, AGENT), https=True)
    assert urls == {"llm": "https://lb.example", "agents": "https://lb.example:8001"}


# --- your own domain (plano:domainName, plano:hostedZoneId) -------------------------------------------

RECORD = "aws:route53/record:Record"
ALB = "aws:lb/loadBalancer:LoadBalancer"
DOMAIN = "plano.acme-widgets.io"
ZONE = "Z04517273AHR7XK1QJ2PM"


def test_a_hosted_zone_gets_an_alias_record_and_the_endpoint_uses_the_domain() -> None:
    run = run_with("prod", values={"domainName": DOMAIN, "hostedZoneId": ZONE})
    assert run.error is None, run.error
    record = run.one(RECORD)
    alb = run.one(ALB)
    assert (record.inputs["zoneId"], record.inputs["name"], record.inputs["type"]) == (ZONE, DOMAIN, "A")
    [alias] = record.inputs["aliases"]
    assert alias["evaluateTargetHealth"] is True
    assert alias["name"] == run.outputs["alb_dns_name"]  # the load balancer's own name, from the mocks
    assert record.parent == alb.parent  # a child of the LoadBalancer component
    assert run.outputs["endpoint_url"] == f"https://{DOMAIN}"
    assert all(url.startswith(f"https://{DOMAIN}") for url in run.outputs["endpoint_urls"].values())


def test_a_domain_without_a_zone_changes_the_urls_and_creates_no_record() -> None:
    run = run_with("prod", values={"domainName": DOMAIN.upper() + "."})
    assert run.error is None, run.error
    assert run.of_type(RECORD) == []
    assert run.outputs["endpoint_url"] == f"https://{DOMAIN}"
    assert run.outputs["alb_dns_name"] and DOMAIN not in run.outputs["alb_dns_name"]  # what the CNAME points at


def test_without_a_domain_the_endpoint_is_the_load_balancers_name() -> None:
    run = stack_run("prod")
    assert run.of_type(RECORD) == []
    assert run.outputs["endpoint_url"] == f"https://{run.outputs['alb_dns_name']}"


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"domainName": "https://plano.acme-widgets.io/v1"}, "plano:domainName", "is not a DNS name"),
        ({"domainName": DOMAIN, "hostedZoneId": "/hostedzone/Z123"}, "plano:hostedZoneId", "hosted zone id"),
        ({"hostedZoneId": ZONE}, "plano:hostedZoneId", "without plano:domainName"),
        ({"domainName": "plano.example.com"}, "plano:domainName", "documentation placeholder"),
    ],
)
def test_bad_domain_settings_stop_the_program_naming_the_key(values: dict[str, str], key: str, words: str) -> None:
    run = run_with("prod", values=values)
    assert isinstance(run.error, ConfigError) and run.resources == []
    assert run.error.where == key and words in str(run.error)
    assert "pulumi config set" in run.error.fix


def test_dev_only_warns_about_an_example_domain() -> None:
    run = run_with(
        "dev",
        values={"ingress": "alb", "allowedCidrs": ["10.0.0.0/8"], "domainName": "plano.example.com"},
    )
    assert run.error is None, run.error
    assert any(w.startswith("plano:domainName holds a documentation placeholder") for w in run.warnings)
    assert run.outputs["endpoint_url"] == "http://plano.example.com"
