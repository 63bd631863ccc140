"""Drive Attain over HTTP only: the small client shared by `make demo` and the e2e tests.

Everything here goes through the public REST APIs of the three services (and the signed generic
CRM webhook), exactly as a frontend or a CRM would. Nothing reads a database or the broker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from devtools.tokens import mint, signing_key
from shared.config import LocalStackSettings

T = TypeVar("T")


def default_urls() -> dict[str, str]:
    """Where `make run` listens, from the same settings it reads (ATTAIN_PORT_BASE)."""
    return LocalStackSettings().urls()


#: A Standard Webhooks secret: `whsec_` + base64 of the HMAC key.
GENERIC_SECRET = "whsec_" + base64.b64encode(b"attain-e2e-and-demo-generic-secret").decode()
#: A HubSpot app's client secret (signs deliveries) for the e2e tests and demos.
HUBSPOT_SECRET = "attain-e2e-hubspot-client-secret"
#: Default pace thresholds of a team (ratios of projection to target).
DEFAULT_THRESHOLDS = {
    "at_risk_below": "0.9",
    "struggling_below": "0.7",
    "hysteresis": "0.05",
    "min_elapsed_share": "0.1",
}
#: Nobody is judged worse than before until the whole period has elapsed: lets a script feed
#: sales first and then judge everyone at one chosen moment.
HOLD_JUDGEMENT = {**DEFAULT_THRESHOLDS, "min_elapsed_share": "1"}


class ScenarioError(RuntimeError):
    """A call answered something the scenario did not expect."""


class StackUnavailable(ScenarioError):
    """A service does not answer at all."""


# ------------------------------------------------------------------------------------ helpers


def money(value: Any) -> Decimal:
    """An amount from the wire (a decimal string) as an exact Decimal."""
    return Decimal(str(value))


def wait_for(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Call probe until it returns something truthy; raise TimeoutError naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def sign_generic(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks `webhook-signature` header value for a delivery."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_hubspot(secret: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's `X-HubSpot-Signature-v3`: HMAC-SHA256 of method + public URI + body + timestamp."""
    signed = b"POST" + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def hubspot_stage_change(deal_id: str, stage: str, *, portal_id: int = 62515) -> dict[str, Any]:
    """One `deal.propertyChange` of `dealstage`, shaped like hubspot_deal_closedwon.json."""
    now_ms = int(time.time() * 1000)
    return {
        "eventId": now_ms % 2_000_000_000,
        "subscriptionId": 2881778,
        "portalId": portal_id,
        "appId": 1160452,
        "occurredAt": now_ms,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    }


def half_elapsed_period(today: date | None = None, *, days: int = 60) -> tuple[date, date]:
    """First and last day of a period that started days/2 ago and ends days/2 from now (UTC)."""
    today = today or datetime.now(UTC).date()
    starts_on = today - timedelta(days=days // 2)
    return starts_on, starts_on + timedelta(days=days - 1)


# ------------------------------------------------------------------------------------- models


@dataclass
class Rep:
    """A member of a team and the token they use."""

    id: str
    name: str
    email: str
    token: str
    crm_ids: dict[str, str] = field(default_factory=dict)


@dataclass
class Team:
    """A team, its manager's token and its reps."""

    id: str
    name: str
    currency: str
    manager_id: str
    manager_token: str
    reps: list[Rep]

    def rep(self, name: str) -> Rep:
        """A rep by name."""
        return next(r for r in self.reps if r.name == name)

    def ordered(self, rows: Iterable[dict]) -> list[dict]:
        """Rows with a member_id, in the order the reps joined."""
        rank = {r.id: i for i, r in enumerate(self.reps)}
        return sorted(rows, key=lambda row: rank.get(row["member_id"], len(rank)))

    def name_of(self, member_id: str) -> str:
        """The name of a member id (for printing)."""
        return next((r.name for r in self.reps if r.id == member_id), member_id[:8])


@dataclass
class Delivery:
    """One signed webhook delivery (re-sent with the same webhook-id on a retry)."""

    webhook_id: str
    body: bytes
    payload: dict[str, Any]


# ------------------------------------------------------------------------------------- client


class Attain:
    """An HTTP client for one organisation on a running stack."""

    def __init__(
        self,
        urls: Mapping[str, str] | None = None,
        *,
        org: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        # Read once, first: the same secret and audience the services verify with (or a
        # refusal, before any connection is opened).
        self.signing_key = signing_key()
        self.urls = dict(urls or default_urls())
        self.org = org or str(uuid.uuid4())
        self.http = httpx.Client(timeout=timeout)
        self.admin_sub = str(uuid.uuid4())
        self.admin_token = self.token(roles=["admin"], sub=self.admin_sub)

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()

    def __enter__(self) -> Attain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------

    def token(
        self, *, roles: Sequence[str], sub: str | None = None, teams: Iterable[str] = ()
    ) -> str:
        """A development token of this org."""
        return mint(
            org=self.org,
            sub=sub or str(uuid.uuid4()),
            roles=list(roles),
            teams=list(teams),
            key=self.signing_key,
        )

    def check_running(self) -> None:
        """Raise StackUnavailable naming every service that does not answer /readyz."""
        down = []
        for name, url in self.urls.items():
            try:
                response = self.http.get(f"{url}/readyz", timeout=3)
                if response.status_code != 200:
                    down.append(f"{name} at {url} is not ready: {response.text[:200]}")
            except httpx.HTTPError as error:
                down.append(f"{name} at {url} does not answer ({type(error).__name__})")
        if down:
            raise StackUnavailable("; ".join(down))

    def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        expect: Iterable[int] | None = (200, 201, 202),
    ) -> httpx.Response:
        """One request; unless expect is None, an unexpected status raises with the problem."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        url = self.urls[service] + path
        try:
            response = self.http.request(
                method,
                url,
                json=json_body,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=all_headers,
                content=content,
            )
        except httpx.ConnectError as error:
            raise StackUnavailable(f"{service} at {self.urls[service]} does not answer") from error
        if expect is not None and response.status_code not in set(expect):
            raise ScenarioError(
                f"{method} {service}{path} answered {response.status_code}: {response.text[:800]}"
            )
        return response

    def get(self, service: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        """GET and return the JSON body."""
        return self.call("GET", service, path, token=token or self.admin_token, **kw).json()

    def post(self, service: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        """POST JSON and return the JSON body."""
        return self.call(
            "POST", service, path, token=token or self.admin_token, json_body=body
        ).json()

    def put(self, service: str, path: str, body: Any, *, token: str | None = None) -> Any:
        """PUT JSON and return the JSON body."""
        return self.call(
            "PUT", service, path, token=token or self.admin_token, json_body=body
        ).json()

    # -- goals ---------------------------------------------------------------------------------

    def create_team(
        self, name: str, reps: Sequence[Mapping[str, Any]], *, currency: str = "EUR"
    ) -> Team:
        """A team with a manager of its own and reps ({name, email, crm_ids?, capacity?, ramp?})."""
        manager_id = str(uuid.uuid4())
        team = self.post(
            "goals", "/v1/teams", {"name": name, "currency": currency, "manager_id": manager_id}
        )
        manager_token = self.token(roles=["manager"], sub=manager_id, teams=[team["id"]])
        members = []
        for spec in reps:
            body = {"capacity": "1", "ramp": "1", "crm_ids": {}, **spec}
            row = self.post("goals", f"/v1/teams/{team['id']}/members", body, token=manager_token)
            token = self.token(roles=["rep"], sub=row["id"], teams=[team["id"]])
            crm = {k: v for k, v in (row.get("crm_ids") or {}).items() if v}
            members.append(Rep(row["id"], row["name"], row["email"], token, crm))
        return Team(team["id"], name, currency, manager_id, manager_token, members)

    def record_result(
        self,
        team: Team,
        rep: Rep,
        *,
        period_name: str,
        starts_on: date,
        ends_on: date,
        achieved: str,
    ) -> dict:
        """A past result of a rep (what historical allocation weighs)."""
        body = {
            "period_name": period_name,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "achieved": achieved,
        }
        return self.post("goals", f"/v1/members/{rep.id}/results", body, token=team.manager_token)

    def define_period(self, name: str, starts_on: date, ends_on: date, tz: str = "UTC") -> dict:
        """An org-wide period (admin)."""
        body = {
            "name": name,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "timezone": tz,
        }
        return self.post("goals", "/v1/periods", body)

    def put_plan(
        self,
        team: Team,
        period_id: str,
        *,
        target: str,
        summary: str = "",
        initiatives: Sequence[str] = (),
        measures: Sequence[str] = (),
    ) -> dict:
        """The team's target, strategy and measures for a period."""
        body = {
            "target": target,
            "strategy": {"summary": summary, "initiatives": list(initiatives)},
            "measures": list(measures),
        }
        return self.put(
            "goals", f"/v1/teams/{team.id}/plans/{period_id}", body, token=team.manager_token
        )

    def allocate(
        self, team: Team, period_id: str, method: str, *, dry_run: bool, **params: Any
    ) -> dict:
        """Break the team target down (a preview when dry_run)."""
        body: dict[str, Any] = {"method": method, "dry_run": dry_run}
        if params:
            body["params"] = params
        return self.post(
            "goals",
            f"/v1/teams/{team.id}/plans/{period_id}/allocation",
            body,
            token=team.manager_token,
        )

    def publish(self, team: Team, period_id: str) -> dict:
        """Publish the plan: every rep gets their target."""
        return self.post(
            "goals", f"/v1/teams/{team.id}/plans/{period_id}/publish", token=team.manager_token
        )

    def plan(self, team: Team, period_id: str) -> dict:
        """The plan with every target and who acknowledged it."""
        return self.get("goals", f"/v1/teams/{team.id}/plans/{period_id}", token=team.manager_token)

    def targets(self, team: Team, period_id: str) -> dict[str, dict]:
        """Each rep's target in goals, by member id."""
        return {t["member_id"]: t for t in self.plan(team, period_id)["targets"]}

    def acknowledge(self, rep: Rep, target_id: str) -> dict:
        """The rep acknowledges their own target."""
        return self.post("goals", f"/v1/targets/{target_id}/acknowledgement", token=rep.token)

    def target_history(self, team: Team, target_id: str) -> list[dict]:
        """A target's ledger, oldest first."""
        page = self.get(
            "goals",
            f"/v1/targets/{target_id}/history",
            token=team.manager_token,
            params={"limit": 200},
        )
        return page["items"]

    def set_policy(self, team: Team, mode: str, *, cooldown_hours: int = 0, **extra: Any) -> dict:
        """The team's rebalance policy: auto, propose or off."""
        body = {"mode": mode, "cooldown_hours": cooldown_hours, **extra}
        return self.put(
            "goals", f"/v1/teams/{team.id}/rebalance-policy", body, token=team.manager_token
        )

    def rebalances(self, team: Team, status: str | None = None) -> list[dict]:
        """The team's rebalances, newest first as goals lists them."""
        page = self.get(
            "goals",
            f"/v1/teams/{team.id}/rebalances",
            token=team.manager_token,
            params={"status": status, "limit": 200},
        )
        return page["items"]

    def approve(self, team: Team, rebalance_id: str) -> dict:
        """The manager approves a proposed rebalance."""
        return self.post(
            "goals", f"/v1/rebalances/{rebalance_id}/approval", token=team.manager_token
        )

    def accept_offer(self, rep: Rep, rebalance_id: str, amount: str) -> dict:
        """A rep takes all or part of the uplift offered to them (0 declines)."""
        return self.post(
            "goals",
            f"/v1/rebalances/{rebalance_id}/offers/{rep.id}/acceptance",
            {"amount": amount},
            token=rep.token,
        )

    # -- performance ---------------------------------------------------------------------------

    def set_generic_secret(self, secret: str = GENERIC_SECRET) -> dict:
        """Set the org's generic webhook secret (admin)."""
        return self.put("performance", "/v1/webhook-secrets/generic", {"secret": secret})

    def sale_delivery(
        self,
        *,
        email: str,
        amount: str,
        closed_at: datetime,
        external_id: str | None = None,
        currency: str = "EUR",
        customer: str = "Tailspin Toys",
    ) -> Delivery:
        """A `sale.closed` delivery in the generic format (shaped like generic_sale.json)."""
        payload = {
            "type": "sale.closed",
            "external_id": external_id or f"INV-{uuid.uuid4().hex[:12].upper()}",
            "owner": {"email": email},
            "amount": amount,
            "currency": currency,
            "closed_at": closed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "customer": customer,
            "product": "Platform subscription",
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Delivery(webhook_id=f"msg_{uuid.uuid4().hex}", body=body, payload=payload)

    def deliver(
        self, delivery: Delivery, *, secret: str = GENERIC_SECRET, expect: Any = (202,)
    ) -> httpx.Response:
        """Send (or re-send) a delivery, signed now, to the org's generic webhook."""
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_generic(
                secret, delivery.webhook_id, timestamp, delivery.body
            ),
        }
        return self.call(
            "POST",
            "performance",
            f"/v1/webhooks/{self.org}/generic",
            headers=headers,
            content=delivery.body,
            expect=expect,
        )

    def set_hubspot_secret(self, *, api_token: str, secret: str = HUBSPOT_SECRET) -> dict:
        """Connect HubSpot (admin): the app's client secret and a private-app token."""
        body = {"secret": secret, "api_token": api_token}
        return self.put("performance", "/v1/webhook-secrets/hubspot", body)

    def deliver_hubspot(
        self, events: Sequence[Mapping[str, Any]], *, secret: str = HUBSPOT_SECRET
    ) -> httpx.Response:
        """Send a batch of HubSpot deal events, v3-signed now for the public URL HubSpot calls."""
        body = json.dumps(list(events), separators=(",", ":")).encode()
        path = f"/v1/webhooks/{self.org}/hubspot"
        timestamp = str(int(time.time() * 1000))
        headers = {
            "content-type": "application/json",
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature-v3": sign_hubspot(
                secret, self.urls["performance"] + path, body, timestamp
            ),
        }
        return self.call("POST", "performance", path, headers=headers, content=body, expect=(202,))

    def processed_delivery(self, accepted: dict, *, timeout: float = 30.0) -> dict:
        """Wait until the delivery processor has taken a 202-acknowledged delivery; its view."""

        def settled() -> dict | None:
            view = self.get("performance", f"/v1/webhook-deliveries/{accepted['delivery_id']}")
            return view if view["outcome"] not in ("received", "fetching") else None

        return wait_for(
            settled, what=f"delivery {accepted['delivery_id']} processed", timeout=timeout
        )

    def attainment(self, team: Team, period_id: str) -> dict[str, dict]:
        """Each targeted rep's attainment and pace, by member id (manager's view, every page)."""
        rows: dict[str, dict] = {}
        cursor = None
        while True:
            view = self.get(
                "performance",
                f"/v1/teams/{team.id}/periods/{period_id}/attainment",
                token=team.manager_token,
                params={"limit": 200, **({"cursor": cursor} if cursor else {})},
            )
            rows.update((row["member_id"], row) for row in view["items"])
            cursor = view.get("next_cursor")
            if not cursor:
                return rows

    def set_thresholds(self, team: Team, thresholds: Mapping[str, str]) -> dict:
        """The team's pace thresholds (performance must know the team already)."""
        return self.put(
            "performance",
            f"/v1/teams/{team.id}/thresholds",
            dict(thresholds),
            token=team.manager_token,
        )

    def evaluate(self, team: Team, period_id: str, *, as_of: datetime | None = None) -> dict:
        """Evaluate the team's pace now (or as of an instant, as admin) and announce shortfalls."""
        body = {"as_of": as_of.isoformat()} if as_of else {}
        token = self.admin_token if as_of else team.manager_token
        return self.post(
            "performance", f"/v1/teams/{team.id}/periods/{period_id}/evaluation", body, token=token
        )

    def sales(self, *, period_id: str | None = None, member_id: str | None = None) -> list[dict]:
        """Every sale of the org (admin), optionally of one member or period."""
        items: list[dict] = []
        cursor = None
        while True:
            page = self.get(
                "performance",
                "/v1/sales",
                params={
                    "period_id": period_id,
                    "member_id": member_id,
                    "limit": 500,
                    "cursor": cursor,
                },
            )
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    # -- feedback ------------------------------------------------------------------------------

    def state_case(self, rep: Rep, dispute_id: str, text: str) -> dict:
        """A party submits their statement."""
        return self.post(
            "feedback", f"/v1/disputes/{dispute_id}/statements", {"text": text}, token=rep.token
        )

    def decide(
        self,
        team: Team,
        dispute_id: str,
        *,
        summary: str,
        rationale: str,
        actions: Sequence[Mapping[str, Any]] = (),
    ) -> httpx.Response:
        """The manager tries to decide; the raw response (a 409 is part of the story)."""
        body = {"summary": summary, "rationale": rationale, "actions": list(actions)}
        return self.call(
            "POST",
            "feedback",
            f"/v1/disputes/{dispute_id}/decision",
            token=team.manager_token,
            json_body=body,
            expect=None,
        )

    def competitors(self, team: Team, period_id: str | None = None) -> list[dict]:
        """The team's competitor view: deals won and lost against each, latest intel."""
        return self.get(
            "feedback",
            f"/v1/teams/{team.id}/competitors",
            token=team.manager_token,
            params={"period_id": period_id},
        )["competitors"]

    def feedback(self, team: Team, member_id: str, kind: str | None = None) -> list[dict]:
        """Feedback notes involving a member, as the team's manager sees them."""
        page = self.get(
            "feedback",
            "/v1/feedback",
            token=team.manager_token,
            params={"member_id": member_id, "kind": kind, "limit": 200},
        )
        return page["items"]

    # -- operations ----------------------------------------------------------------------------

    def metric(self, service: str, name: str) -> float:
        """The sum of every sample of a Prometheus metric of a service."""
        text = self.call("GET", service, "/metrics").text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            metric, _, value = line.rpartition(" ")
            if metric.split("{", 1)[0] == name:
                total += float(value)
        return total


# ----------------------------------------------------------------------------------- the story


@dataclass
class LoopTeam:
    """A team taken up to a published plan that performance knows about."""

    team: Team
    period: dict
    dry_run: dict
    plan: dict


#: Three reps: Ana and Ben sell, Cleo sells nothing and falls behind.
REPS = (
    {"name": "Ana", "crm_ids": {"hubspot": "51001"}, "capacity": "1", "ramp": "1"},
    {"name": "Ben", "crm_ids": {"salesforce": "0055e000001BenAA"}, "capacity": "1", "ramp": "1"},
    {"name": "Cleo", "crm_ids": {"pipedrive": "13"}, "capacity": "1", "ramp": "0.5"},
)
#: Two closed quarters per rep (Cleo is new: historical gives her the team median).
HISTORY = {
    "Ana": ("118000.00", "122000.00"),
    "Ben": ("95000.00", "85000.00"),
}


def rep_specs(team_tag: str) -> list[dict[str, Any]]:
    """The demo reps with e-mails unique to one team (the generic webhook maps by e-mail)."""
    specs = []
    for spec in REPS:
        crm = {k: f"{v}-{team_tag}" for k, v in spec["crm_ids"].items()}
        email = f"{spec['name'].lower()}.{team_tag}@example.com"
        specs.append({**spec, "email": email, "crm_ids": crm})
    return specs


def record_history(api: Attain, team: Team, period_starts_on: date) -> None:
    """Two closed quarters before the period for the reps that have history."""
    for rep in team.reps:
        for i, achieved in enumerate(HISTORY.get(rep.name, ())):
            ends_on = period_starts_on - timedelta(days=1 + 91 * i)
            starts_on = ends_on - timedelta(days=90)
            api.record_result(
                team,
                rep,
                period_name=f"Q-{i + 1}",
                starts_on=starts_on,
                ends_on=ends_on,
                achieved=achieved,
            )


def set_up_team(
    api: Attain,
    *,
    name: str,
    period: dict,
    target: str = "300000.00",
    method: str = "historical",
    policy: str = "auto",
) -> LoopTeam:
    """Team, reps, history, plan, previewed then applied allocation, publish, policy; then wait
    until performance knows every target and hold pace judgement while sales come in."""
    tag = uuid.uuid4().hex[:6]
    team = api.create_team(name, rep_specs(tag))
    record_history(api, team, date.fromisoformat(period["starts_on"]))
    api.put_plan(
        team,
        period["id"],
        target=target,
        summary="Grow the installed base before the renewal season",
        initiatives=["Partner-led webinars", "Upsell the top 20 accounts"],
        measures=["10 discovery calls a week", "3 demos a week"],
    )
    preview = api.allocate(team, period["id"], method, dry_run=True)
    api.allocate(team, period["id"], method, dry_run=False)
    plan = api.publish(team, period["id"])
    api.set_policy(team, policy)
    wait_until_performance_knows(api, team, period["id"], plan)
    # Performance evaluates pace after every sale; hold judgement until all sales are in.
    api.set_thresholds(team, HOLD_JUDGEMENT)
    return LoopTeam(team, period, preview, plan)


def wait_until_performance_knows(
    api: Attain, team: Team, period_id: str, plan: dict, *, timeout: float = 30.0
) -> dict[str, dict]:
    """Poll performance until it holds every published target (it learns them from events)."""
    wanted = {t["member_id"]: t["version"] for t in plan["targets"]}

    def probe() -> dict[str, dict] | None:
        response = api.call(
            "GET",
            "performance",
            f"/v1/teams/{team.id}/periods/{period_id}/attainment",
            token=team.manager_token,
            params={"limit": 200},  # the loop's teams are small: one page holds them
            expect=None,
        )
        if response.status_code != 200:
            return None
        rows = {r["member_id"]: r for r in response.json()["items"]}
        ok = all(m in rows and rows[m]["target_version"] >= v for m, v in wanted.items())
        return rows if ok else None

    return wait_for(probe, what=f"performance to learn the targets of {team.name}", timeout=timeout)


def open_dispute_when_known(
    api: Attain,
    by: Rep,
    team: Team,
    *,
    kind: str,
    subject: str,
    parties: Sequence[Rep],
    related: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> dict:
    """Open a dispute once feedback knows the team and its members (it learns them from events).

    Until then the opening is refused (404 team, 422 unknown parties) and nothing is stored,
    so trying again is safe.
    """
    body = {
        "team_id": team.id,
        "kind": kind,
        "subject": subject,
        "parties": [p.id for p in parties],
        "related": dict(related) if related else None,
    }

    refusals: list[str] = []

    def probe() -> dict | None:
        response = api.call(
            "POST", "feedback", "/v1/disputes", token=by.token, json_body=body, expect=None
        )
        if response.status_code in (404, 422):
            refusals.append(response.text)
            return None
        if response.status_code != 201:
            raise ScenarioError(
                f"opening a dispute answered {response.status_code}: {response.text}"
            )
        return response.json()

    try:
        return wait_for(probe, what=f"feedback to accept a dispute in {team.name}", timeout=timeout)
    except TimeoutError as error:
        raise ScenarioError(f"{error}; last refusal: {refusals[-1][:500]}") from None


def followed_targets(
    api: Attain, team: Team, period_id: str
) -> Callable[[], tuple[dict[str, dict], dict[str, dict]] | None]:
    """A probe: (goals targets, performance attainment) once performance shows goals' targets."""

    def probe() -> tuple[dict[str, dict], dict[str, dict]] | None:
        goals = api.targets(team, period_id)
        perf = api.attainment(team, period_id)
        same = all(
            m in perf
            and perf[m]["target_version"] == t["version"]
            and money(perf[m]["target"]) == money(t["amount"])
            for m, t in goals.items()
        )
        return (goals, perf) if same else None

    return probe


# ---------------------------------------------------------------------------- an org of teams


@dataclass
class OrgTeam:
    """A team of a simulated org and its published plan."""

    team: Team
    plan: dict


def set_up_org(
    api: Attain,
    period: dict,
    *,
    teams: int,
    reps: int,
    target: str = "1000000.00",
    policy: str = "auto",
) -> list[OrgTeam]:
    """Teams of equal reps with published `equal` plans, known to performance, judgement held."""
    org = []
    for t in range(teams):
        tag = uuid.uuid4().hex[:6]
        specs = [{"name": f"R{i}", "email": f"r{i}.{tag}@example.com"} for i in range(reps)]
        team = api.create_team(f"Team {t + 1}", specs)
        api.put_plan(team, period["id"], target=target, summary="Simulated org")
        api.allocate(team, period["id"], "equal", dry_run=False)
        org.append(OrgTeam(team, api.publish(team, period["id"])))
        api.set_policy(team, policy)
    for member in org:
        wait_until_performance_knows(api, member.team, period["id"], member.plan)
        api.set_thresholds(member.team, HOLD_JUDGEMENT)
    return org


def sell_to_org(
    api: Attain, org: Sequence[OrgTeam], amount_of: Callable[[int, int], str | None]
) -> int:
    """Signed generic deliveries: amount_of(team index, rep index) per rep (None: no sale)."""
    closed_at = datetime.now(UTC) - timedelta(days=3)
    accepted = []
    for t, member in enumerate(org):
        for r, rep in enumerate(member.team.reps):
            amount = amount_of(t, r)
            if amount is not None:
                delivery = api.sale_delivery(email=rep.email, amount=amount, closed_at=closed_at)
                accepted.append(api.deliver(delivery).json())
    # Intake only stores: what comes next (evaluation) must see every sale applied.
    for answer in accepted:
        api.processed_delivery(answer, timeout=120)
    return len(accepted)


def evaluate_org(api: Attain, org: Sequence[OrgTeam], period_id: str) -> dict[str, dict]:
    """Judge every team with the real thresholds; each team's evaluation by team id."""
    evaluations = {}
    for member in org:
        api.set_thresholds(member.team, DEFAULT_THRESHOLDS)
        evaluations[member.team.id] = api.evaluate(member.team, period_id)
    return evaluations


def org_settled(
    api: Attain, org: Sequence[OrgTeam], period_id: str, evaluations: Mapping[str, dict]
) -> Callable[[], dict[str, list[dict]] | None]:
    """A probe: every team with shortfalls has its rebalance, and performance shows its targets."""

    def probe() -> dict[str, list[dict]] | None:
        rows = {}
        for member in org:
            if evaluations[member.team.id]["shortfalls_detected"]:
                found = api.rebalances(member.team)
                if not found:
                    return None
                rows[member.team.id] = found
        for member in org:
            if member.team.id in rows and followed_targets(api, member.team, period_id)() is None:
                return None
        return rows

    return probe
