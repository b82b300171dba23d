"""Load balancer layout (pure): which ports open, where they go, and the idle timeout."""

from __future__ import annotations

from plano_pulumi.aws.ingress import alb_listeners, endpoint_urls, idle_timeout_s
from plano_pulumi.core.plano_config import Listener, primary_listener

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
