"""The dead-letter sink replaces a producer that failed instead of reusing it forever."""

from __future__ import annotations

import pytest

from shared.config import ServiceSettings
from shared.consumer import KafkaDeadLetters

pytestmark = pytest.mark.unit


class _BrokenProducer:
    stopped = False

    async def send(self, *args, **kwargs):
        raise ConnectionError("broker went away")

    async def stop(self):
        self.stopped = True


async def test_a_failed_send_drops_the_producer_so_the_next_attempt_makes_a_new_one():
    sink = KafkaDeadLetters(settings=ServiceSettings(kafka_send_timeout_s=1), uow_factory=None)
    broken = _BrokenProducer()
    sink._producer = broken
    with pytest.raises(ConnectionError):
        await sink.republish(topic="t.dlq", key=None, value=b"x", headers=[])
    assert sink._producer is None
    assert broken.stopped
