"""The Maven-built Kafka launcher: loud failure without java/mvn, valid cluster ids, single-node settings."""

from __future__ import annotations

import base64

import pytest

from devtools import kafka
from devtools.kafka import KafkaNode, KafkaToolingMissing, _properties, new_cluster_id

pytestmark = pytest.mark.unit


def test_missing_java_or_maven_fails_naming_what_to_install(monkeypatch, tmp_path):
    """No silent skip: a machine without the JDK gets an error that says what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn there
    monkeypatch.setenv("ATTAIN_KAFKA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(KafkaToolingMissing, match=r"java.*openjdk-17-jdk-headless maven"):
        kafka.ensure_libs()


def test_cluster_ids_decode_to_sixteen_bytes():
    """StorageTool takes only base64url of 16 bytes, and no leading dash."""
    for _ in range(500):
        cid = new_cluster_id()
        assert len(cid) == 22
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16
        assert not cid.startswith("-")  # StorageTool would parse it as an option


def test_single_node_settings_admit_our_session_timeout_and_need_one_replica(tmp_path):
    """Defaults (6 s minimum session, RF 3 internal topics) would break a one-node test broker."""
    node = KafkaNode(node_id=1, port=1, controller_port=2, base=tmp_path)
    props = _properties(node, "1@127.0.0.1:2", 1, {})
    assert int(props["group.min.session.timeout.ms"]) <= 2000
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["min.insync.replicas"] == "1"
    three = _properties(node, "1@127.0.0.1:2", 3, {})
    assert three["min.insync.replicas"] == "2"
