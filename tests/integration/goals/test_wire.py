"""Goals over a real broker: CloudEvents out on attain.goals.v1, shortfalls in, applied once."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from shared.events import from_kafka, to_kafka, wrap
from tests.integration.goals.conftest import make_goals, seed
from tests.integration.goals.test_reactions import rebalances, set_policy, shortfall
from tests.integration.probe import eventually, read_topic

pytestmark = pytest.mark.integration


async def test_published_plan_is_on_the_wire_and_a_twice_sent_shortfall_rebalances_once(
    tmp_path, fresh_broker
):
    bootstrap = fresh_broker.bootstrap_servers
    async for g in make_goals(
        f"sqlite+aiosqlite:///{tmp_path / 'wire.db'}", bootstrap, run_workers=True
    ):
        s = await seed(g)
        records = await read_topic(bootstrap, "attain.goals.v1", expect=10)
        envelopes = [from_kafka(key=r.key, value=r.value, headers=list(r.headers)) for r in records]
        mine = [e for e in envelopes if e.tenantid == str(g.org)]
        types = [e.type for e in mine]
        assert types.count("attain.goals.plan_published.v1") == 1
        assert types.count("attain.goals.target_assigned.v1") == 3
        assert types.count("attain.goals.member_joined.v1") == 3
        assert "attain.goals.period_defined.v1" in types
        header = dict(records[0].headers)
        assert header["ce_specversion"] == b"1.0" and header["ce_source"] == b"/attain/goals"
        assigned = next(e for e in mine if e.type == "attain.goals.target_assigned.v1")
        assert assigned.partitionkey == s.team_id and assigned.sequence == 1
        assert assigned.data["period_starts_at"].startswith("2030-01-01T00:00:00")
        assert assigned.data["amount"] == "100000.00"

        await set_policy(g, s, mode="auto")
        message = to_kafka(wrap(shortfall(g, s)))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for _ in range(2):
                await producer.send_and_wait(
                    "attain.performance.v1",
                    value=message.value,
                    key=s.team_id.encode(),
                    headers=list(message.headers.items()),
                )
        finally:
            await producer.stop()
        consumer = g.runtime.consumer._processor.name

        async def both_seen(g=g, s=s, consumer=consumer) -> bool:
            dup = g.runtime.metrics.events_duplicate.labels(consumer=consumer)._value.get()
            return dup >= 1 and len(await rebalances(g, s)) >= 1

        await eventually(both_seen, timeout=30)
        rows = await rebalances(g, s)
        assert len(rows) == 1 and rows[0]["status"] == "applied"
