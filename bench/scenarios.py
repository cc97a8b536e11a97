"""The registry of scenarios: add one with :func:`register` (see docs/performance.md)."""

from __future__ import annotations

from bench.harness import BenchError, Scenario, SetupContext

API = "/api/v1"

# Every scenario is measured beside this one. /healthz touches neither the database nor any
# service, so it measures what uvicorn, the middleware, the routing and the client cost alone.
BASELINE = Scenario(
    name="baseline",
    method="GET",
    path="/healthz",
    description="GET /healthz: the cheapest request the app can answer",
)

SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    if scenario.name in SCENARIOS or scenario.name == BASELINE.name:
        raise ValueError(f"scenario {scenario.name!r} is already registered")
    SCENARIOS[scenario.name] = scenario
    return scenario


register(
    Scenario(
        name="framework",
        method="GET",
        path=f"{API}/framework",
        description="GET the whole framework tree (~20 kB of JSON, cached in process)",
        # Served from memory, it should cost about what a static file costs.
        min_rps_ratio=0.5,
    )
)


async def _remember_etag(ctx: SetupContext) -> None:
    response = await ctx.client.get(f"{API}/framework")
    etag = response.headers.get("etag")
    if response.status_code != 200 or not etag:
        raise BenchError(f"GET {API}/framework gave {response.status_code} without an ETag")
    ctx.headers["If-None-Match"] = etag


register(
    Scenario(
        name="framework-etag",
        method="GET",
        path=f"{API}/framework",
        expected_status=304,
        description="GET the framework tree with a matching If-None-Match: 304, no body",
        setup=_remember_etag,
    )
)
