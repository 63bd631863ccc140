"""Auth, problem+json, Idempotency-Key, pagination and If-Match through a real app and database."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import APIRouter, Header, Query
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import select

from shared.app import create_service_app
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.config import DEV_JWT_SECRET
from shared.domain_errors import NotFound
from shared.http import Page, check_if_match, etag_of, keyset, page_of
from shared.idempotency import purge_idempotency_keys
from tests.conftest import broker_settings
from tests.harness import as_admin, authorization, bearer, serving
from tests.integration.probe import Thing, emit_committed, probe_runtime, thing, unpublished

pytestmark = pytest.mark.integration


class ThingIn(BaseModel):
    name: str


class ThingOut(BaseModel):
    id: uuid.UUID
    name: str
    version: int


def things_router() -> APIRouter:
    router = APIRouter(prefix="/v1/things", tags=["things"])

    @router.post("", status_code=201)
    async def create_thing(
        body: ThingIn, principal: ManagerPrincipal, request: Request
    ) -> ThingOut:
        async with request.app.state.runtime.uow() as uow:
            row = Thing(org_id=principal.org, name=body.name)
            uow.session.add(row)
            await uow.commit()
        return ThingOut.model_validate(row, from_attributes=True)

    @router.get("")
    async def list_things(
        principal: CurrentPrincipal,
        request: Request,
        limit: int = Query(2, ge=1),
        cursor: str | None = None,
    ) -> Page[ThingOut]:
        async with request.app.state.runtime.uow() as uow:
            stmt = keyset(
                select(Thing).where(Thing.org_id == principal.org),
                [Thing.name, Thing.id],
                cursor,
                limit,
            )
            rows = (await uow.session.exec(stmt)).all()
        items, next_cursor = page_of(rows, limit, lambda t: (t.name, t.id))
        return Page[ThingOut](
            items=[ThingOut.model_validate(t, from_attributes=True) for t in items],
            next_cursor=next_cursor,
        )

    @router.put("/{thing_id}")
    async def rename_thing(
        thing_id: uuid.UUID,
        body: ThingIn,
        principal: ManagerPrincipal,
        request: Request,
        if_match: Annotated[str | None, Header()] = None,
    ) -> ThingOut:
        async with request.app.state.runtime.uow() as uow:
            row = await uow.session.get(Thing, thing_id)
            if row is None or row.org_id != principal.org:
                raise NotFound("no such thing")
            check_if_match(if_match, row.version)
            row.name, row.version = body.name, row.version + 1
            await uow.commit()
        return ThingOut.model_validate(row, from_attributes=True)

    @router.get("/{thing_id}")
    async def get_thing(
        thing_id: uuid.UUID, principal: CurrentPrincipal, request: Request, response: Response
    ) -> ThingOut:
        async with request.app.state.runtime.uow() as uow:
            row = await uow.session.get(Thing, thing_id)
        if row is None or row.org_id != principal.org:
            raise NotFound("no such thing")
        response.headers["ETag"] = etag_of(row.version)
        return ThingOut.model_validate(row, from_attributes=True)

    @router.get("/-/deadlock")
    async def deadlock(principal: CurrentPrincipal) -> None:
        class Orig(Exception):
            sqlstate = "40P01"

        raise OperationalError("UPDATE attainment ...", {}, Orig("deadlock detected"))

    @router.get("/-/race")
    async def race(principal: CurrentPrincipal) -> None:
        class Orig(Exception):
            sqlstate = "23505"

        raise IntegrityError("INSERT INTO target_change ...", {}, Orig("duplicate key"))

    @router.get("/-/boom")
    async def boom(principal: CurrentPrincipal) -> None:
        raise RuntimeError("secret internal detail")

    return router


from fastapi import Request, Response  # noqa: E402  (names used in string annotations above)


@pytest.fixture
async def client(db_url):
    runtime = probe_runtime(db_url=db_url, broker=broker_settings("127.0.0.1:1"), handler=None)
    runtime.settings.run_workers = False
    app = create_service_app(
        runtime=runtime,
        title="probe",
        description="probe",
        routers=[things_router()],
        configure_logs=False,
    )
    async with serving(app) as probe_client:
        probe_client.runtime = runtime
        yield probe_client


ORG = uuid.uuid4()
MANAGER = bearer(org=ORG, roles=["manager"])


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_missing_token_is_401_problem(client):
    body = _problem(await client.get(f"/v1/things/{uuid.uuid4()}"), 401)
    assert "token" in body["detail"]


async def test_token_signed_with_another_key_is_401(client):
    forged = jwt.encode(
        {"sub": "x", "org": str(ORG), "exp": time.time() + 60},
        "another-secret-of-32-bytes-length!",
        algorithm="HS256",
    )
    _problem(
        await client.get(f"/v1/things/{uuid.uuid4()}", headers=authorization(forged)),
        401,
    )


async def test_unsigned_alg_none_token_is_401(client):
    unsigned = jwt.encode(
        {"sub": "x", "org": str(ORG), "roles": ["admin"], "exp": time.time() + 60},
        None,
        algorithm="none",
    )
    _problem(
        await client.get(f"/v1/things/{uuid.uuid4()}", headers=authorization(unsigned)),
        401,
    )


async def test_expired_token_is_401(client):
    expired = jwt.encode(
        {"sub": "x", "org": str(ORG), "exp": time.time() - 5}, DEV_JWT_SECRET, algorithm="HS256"
    )
    _problem(
        await client.get(f"/v1/things/{uuid.uuid4()}", headers=authorization(expired)),
        401,
    )


async def test_token_without_exp_is_401(client):
    eternal = jwt.encode({"sub": "x", "org": str(ORG)}, DEV_JWT_SECRET, algorithm="HS256")
    _problem(
        await client.get(f"/v1/things/{uuid.uuid4()}", headers=authorization(eternal)),
        401,
    )


async def test_rep_is_forbidden_from_manager_routes(client):
    _problem(
        await client.post("/v1/things", json={"name": "a"}, headers=bearer(org=ORG, roles=["rep"])),
        403,
    )


async def test_other_orgs_ids_answer_404(client):
    created = await client.post("/v1/things", json={"name": "mine"}, headers=MANAGER)
    assert created.status_code == 201
    thing_id = created.json()["id"]
    assert (await client.get(f"/v1/things/{thing_id}", headers=MANAGER)).status_code == 200
    _problem(
        await client.get(f"/v1/things/{thing_id}", headers=as_admin(uuid.uuid4())),
        404,
    )


async def test_validation_errors_are_422_problems_with_field_errors(client):
    body = _problem(await client.post("/v1/things", json={"nom": 1}, headers=MANAGER), 422)
    assert body["errors"][0]["loc"] == ["body", "name"]


async def test_unexpected_errors_are_500_problems_without_internals(client):
    response = await client.get("/v1/things/-/boom", headers=MANAGER)
    body = _problem(response, 500)
    assert "secret internal detail" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]


async def test_unknown_route_is_404_problem(client):
    _problem(await client.get("/v1/nothing-here"), 404)


async def test_same_idempotency_key_and_body_replays_the_first_response(client):
    headers = {**MANAGER, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/things", json={"name": "once"}, headers=headers)
    second = await client.post("/v1/things", json={"name": "once"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/v1/things?limit=50", headers=MANAGER)).json()["items"]
    assert [t["name"] for t in listed].count("once") == 1


async def test_same_idempotency_key_with_another_body_is_422(client):
    headers = {**MANAGER, "Idempotency-Key": "k-2"}
    assert (await client.post("/v1/things", json={"name": "a"}, headers=headers)).status_code == 201
    _problem(await client.post("/v1/things", json={"name": "b"}, headers=headers), 422)


async def test_cursor_pagination_walks_every_item_once(client):
    for name in ["c", "a", "e", "b", "d"]:
        await client.post("/v1/things", json={"name": name}, headers=MANAGER)
    seen, cursor = [], None
    while True:
        page = (
            await client.get(
                "/v1/things",
                params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                headers=MANAGER,
            )
        ).json()
        seen += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["a", "b", "c", "d", "e"]
    _problem(await client.get("/v1/things", params={"cursor": "!!"}, headers=MANAGER), 422)


async def test_stale_if_match_is_412_and_current_one_passes(client):
    thing_id = (await client.post("/v1/things", json={"name": "v1"}, headers=MANAGER)).json()["id"]
    etag = (await client.get(f"/v1/things/{thing_id}", headers=MANAGER)).headers["etag"]
    ok = await client.put(
        f"/v1/things/{thing_id}", json={"name": "v2"}, headers={**MANAGER, "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = await client.put(
        f"/v1/things/{thing_id}", json={"name": "v3"}, headers={**MANAGER, "If-Match": etag}
    )
    assert _problem(stale, 412)["current_etag"] == '"2"'


async def test_health_and_metrics_are_served(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "unreachable"
    assert ready.json()["checks"]["database"] == "ok"
    await client.get("/v1/things", headers=MANAGER)
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/v1/things",status="200"}' in metrics
    assert "outbox_pending" in metrics


async def test_outbox_replay_endpoint_requeues_only_the_callers_org(client):
    runtime = client.runtime
    other_org = uuid.uuid4()
    await emit_committed(runtime, thing(org=ORG), thing(org=ORG), thing(org=other_org))
    async with runtime.engine.begin() as conn:
        await conn.execute(runtime.plumbing.outbox.update().values(published_at=datetime.now(UTC)))
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    response = await client.post(
        "/v1/admin/outbox/replay", json={"since": since}, headers=as_admin(ORG)
    )
    assert response.status_code == 200 and response.json() == {"requeued": 2}
    assert await unpublished(runtime) == 2
    _problem(
        await client.post("/v1/admin/outbox/replay", json={"since": since}, headers=MANAGER), 403
    )


async def test_dead_letters_are_listed_per_org_and_other_orgs_ids_are_404(client):
    runtime = client.runtime
    rows = [_dead_letter(ORG), _dead_letter(ORG), _dead_letter(uuid.uuid4())]
    async with runtime.engine.begin() as conn:
        await conn.execute(runtime.plumbing.dead_letter.insert(), rows)
    page = (await client.get("/v1/admin/dead-letters", headers=as_admin(ORG))).json()
    assert sorted(item["id"] for item in page["items"]) == sorted(r["id"] for r in rows[:2])
    foreign = rows[2]["id"]
    _problem(
        await client.post(f"/v1/admin/dead-letters/{foreign}/replay", headers=as_admin(ORG)), 404
    )


def _dead_letter(org: uuid.UUID) -> dict:
    return {
        "id": str(uuid.uuid4()), "consumer": "probe", "tenant_id": str(org), "topic": "attain.probe.v1",
        "partition": 0, "offset": 1, "key": None, "value": b"{}", "headers": [],
        "error_type": "ValueError", "error": "bad", "failed_at": datetime.now(UTC),
    }  # fmt: skip


async def test_a_database_deadlock_is_a_retryable_503_not_a_500(client):
    response = await client.get("/v1/things/-/deadlock", headers=MANAGER)
    body = _problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert "retry" in body["detail"]


async def test_losing_a_race_on_a_unique_key_is_a_409_not_a_500(client):
    body = _problem(await client.get("/v1/things/-/race", headers=MANAGER), 409)
    assert "concurrent" in body["detail"]


BODY = b'{"name": "after crash"}'


async def _claim_in_progress(runtime, key: str, *, age: timedelta) -> None:
    digest = hashlib.sha256(b"POST /v1/things\n" + BODY).hexdigest()
    async with runtime.engine.begin() as conn:
        await conn.execute(
            runtime.plumbing.idempotency.insert().values(
                org_id=str(ORG), scope="POST /v1/things", key=key, request_hash=digest,
                created_at=datetime.now(UTC) - age,
            )
        )  # fmt: skip


async def test_a_key_whose_request_is_still_running_answers_409(client):
    await _claim_in_progress(client.runtime, "k-running", age=timedelta(seconds=1))
    headers = {**MANAGER, "Idempotency-Key": "k-running", "Content-Type": "application/json"}
    _problem(await client.post("/v1/things", content=BODY, headers=headers), 409)


async def test_a_key_abandoned_by_a_crashed_request_is_taken_over_by_the_retry(client):
    await _claim_in_progress(client.runtime, "k-crashed", age=timedelta(minutes=5))
    headers = {**MANAGER, "Idempotency-Key": "k-crashed", "Content-Type": "application/json"}
    retry = await client.post("/v1/things", content=BODY, headers=headers)
    assert retry.status_code == 201, retry.text
    again = await client.post("/v1/things", content=BODY, headers=headers)
    assert again.json() == retry.json() and again.headers["idempotent-replayed"] == "true"


async def test_old_idempotency_answers_are_purged(client):
    runtime = client.runtime
    await _claim_in_progress(runtime, "k-old", age=timedelta(hours=30))
    await _claim_in_progress(runtime, "k-new", age=timedelta(hours=1))
    assert await purge_idempotency_keys(runtime.engine, runtime.plumbing) == 1


async def test_browsers_on_development_origins_may_call_and_others_may_not(client):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = await client.options(
        "/v1/things", headers={"Origin": "http://localhost:3000", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused = await client.options(
        "/v1/things", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers
