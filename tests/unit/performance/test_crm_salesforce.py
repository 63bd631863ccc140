"""Salesforce Outbound Messages: org check, hardened XML and Opportunity notifications."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from services.performance.adapters.crm import salesforce
from services.performance.adapters.crm.base import MalformedWebhook, WebhookRejected, close_instant

pytestmark = pytest.mark.unit

CRM = Path(__file__).resolve().parents[2] / "fixtures" / "crm"
BODY = (CRM / "salesforce_outbound_opportunity.xml").read_bytes()
README = (CRM / "README.md").read_text()
ORG_ID = "00D5g000004XyZaEAK"
ORG_ID_15 = "00D5g000004XyZa"

NOTIFICATION = """
   <Notification>
    <Id>{id}</Id>
    <sObject xsi:type="sf:{type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{opportunity}</sf:Id>
     {fields}
    </sObject>
   </Notification>"""
WON_FIELDS = (
    "<sf:Amount>27500.0</sf:Amount><sf:CloseDate>2026-12-07</sf:CloseDate>"
    "<sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode><sf:IsWon>true</sf:IsWon>"
    "<sf:OwnerId>0055g00000DeFgHAAV</sf:OwnerId>"
)


def message(*notifications: str, org_id: str = ORG_ID) -> bytes:
    """An outbound message shaped like the fixture, with the given notifications."""
    head, _, rest = BODY.decode().partition("   <Notification>")
    tail = rest.partition("</Notification>")[2]
    return (head.replace(ORG_ID, org_id) + "".join(notifications) + tail).encode()


def notification(
    id: str = "04l5g00000AbCdEAAV",
    opportunity: str = "0065g00000KpQrSAAV",
    fields: str = WON_FIELDS,
    type: str = "Opportunity",
) -> str:
    return NOTIFICATION.format(id=id, opportunity=opportunity, fields=fields, type=type)


def test_accepts_the_fixture_from_the_configured_org() -> None:
    salesforce.verify(body=BODY, headers={}, secrets=[ORG_ID])


def test_accepts_the_15_character_org_id_shown_in_setup() -> None:
    assert salesforce.full_org_id(ORG_ID_15) == ORG_ID
    salesforce.verify(body=BODY, headers={}, secrets=[ORG_ID_15])


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("00D5g000004XyZaEAL", id="one-char-changed"),
        pytest.param("00D5g000004XyZb", id="other-15-char-org"),
    ],
)
def test_refuses_a_message_for_another_configured_org(secret: str) -> None:
    with pytest.raises(WebhookRejected) as raised:
        salesforce.verify(body=BODY, headers={}, secrets=[secret])
    assert raised.value.status == 401


def test_refuses_a_message_from_another_org() -> None:
    # One byte of the body changed: the OrganizationId the message claims.
    body = BODY.replace(ORG_ID.encode(), b"00D5g000004XyZaEAJ")
    assert len(body) == len(BODY)
    with pytest.raises(WebhookRejected):
        salesforce.verify(body=body, headers={}, secrets=[ORG_ID])


def test_accepts_any_configured_org_during_a_change_over() -> None:
    salesforce.verify(body=BODY, headers={}, secrets=["00D000000000001AAA", ORG_ID])


def test_refuses_everything_while_no_org_is_configured() -> None:
    with pytest.raises(WebhookRejected):
        salesforce.verify(body=BODY, headers={}, secrets=[])


def test_a_misconfigured_org_id_is_a_server_fault() -> None:
    with pytest.raises(ValueError):
        salesforce.verify(body=BODY, headers={}, secrets=["00D5g"])


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">&lol3;</soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY org SYSTEM "file:///etc/hostname">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">&org;</soapenv:Envelope>"""
BARE_DTD = BODY.replace(
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE soapenv:Envelope>',
)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(BILLION_LAUGHS, id="entity-expansion-bomb"),
        pytest.param(EXTERNAL_ENTITY, id="external-entity"),
        pytest.param(BARE_DTD, id="any-dtd"),
        pytest.param(BODY[:-40], id="truncated"),
        pytest.param(b"<Envelope/>", id="not-soap"),
        pytest.param(b'{"OrganizationId": "00D5g000004XyZaEAK"}', id="json"),
    ],
)
def test_refuses_dangerous_or_foreign_xml_before_trusting_anything(body: bytes) -> None:
    with pytest.raises(MalformedWebhook) as raised:
        salesforce.verify(body=body, headers={}, secrets=[ORG_ID])
    assert raised.value.status == 400
    with pytest.raises(MalformedWebhook):
        salesforce.parse(body)


def test_parses_the_fixture_field_by_field() -> None:
    [event] = salesforce.parse(BODY)
    assert event.source == "salesforce"
    assert event.external_id == "0065g00000KpQrSAAV"
    assert event.dedupe_key == "04l5g00000AbCdEAAV"
    assert event.kind == "won"
    assert event.amount == Decimal("27500.0")
    assert event.currency == "EUR"
    assert event.closed_at is None
    assert event.closed_on == date(2026, 12, 7)
    assert event.owner_ref == "0055g00000DeFgHAAV"
    assert event.owner_email is None
    assert event.raw["OrganizationId"] == ORG_ID
    assert event.raw["sObject"]["StageName"] == "Closed Won"


def test_a_close_date_starts_at_midnight_in_the_periods_time_zone() -> None:
    [event] = salesforce.parse(BODY)
    assert close_instant(event, "UTC") == datetime(2026, 12, 7, tzinfo=UTC)
    assert close_instant(event, "Europe/Berlin") == datetime(2026, 12, 6, 23, tzinfo=UTC)


def test_the_message_builder_reproduces_the_fixture() -> None:
    [built] = salesforce.parse(message(notification()))
    [fixture] = salesforce.parse(BODY)
    assert replace(built, raw={}) == replace(fixture, raw={})  # the builder omits Name


def test_an_opportunity_no_longer_won_is_reversed() -> None:
    fields = "<sf:Amount>27500.0</sf:Amount><sf:IsWon>false</sf:IsWon>"
    [event] = salesforce.parse(message(notification(fields=fields)))
    assert (event.kind, event.external_id, event.amount, event.closed_on) == (
        "reversed",
        "0065g00000KpQrSAAV",
        None,
        None,
    )


def test_the_lost_fixture_is_a_lost_opportunity_with_reason_and_competitor() -> None:
    body = (CRM / "salesforce_outbound_opportunity_lost.xml").read_bytes()
    salesforce.verify(body=body, secrets=[ORG_ID])
    [event] = salesforce.parse(body)
    assert (event.kind, event.external_id, event.amount, event.currency) == (
        "lost",
        "0065g00000KpQrTAAV",
        Decimal("41000.0"),
        "EUR",
    )
    assert event.closed_on == date(2026, 12, 7)
    assert (event.competitor, event.reasons) == ("Globex", ("Price",))


def test_closed_and_not_won_is_lost_even_without_an_amount() -> None:
    fields = "<sf:IsClosed>true</sf:IsClosed><sf:IsWon>false</sf:IsWon>"
    [event] = salesforce.parse(message(notification(fields=fields)))
    assert (event.kind, event.amount, event.reasons) == ("lost", Decimal(0), ())


def test_open_and_not_won_is_reversed() -> None:
    fields = "<sf:IsClosed>false</sf:IsClosed><sf:IsWon>false</sf:IsWon>"
    [event] = salesforce.parse(message(notification(fields=fields)))
    assert event.kind == "reversed"


def test_a_single_currency_org_sends_no_currency() -> None:
    fields = WON_FIELDS.replace("<sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>", "")
    [event] = salesforce.parse(message(notification(fields=fields)))
    assert (event.amount, event.currency) == (Decimal("27500.0"), None)


def test_one_message_carries_up_to_100_notifications_deduplicated_by_id() -> None:
    notifications = [
        notification(id=f"04l5g00000N{n:06d}", opportunity=f"006N{n}") for n in range(99)
    ]
    events = salesforce.parse(message(*notifications, notification(id="04l5g00000N000000")))
    assert len(events) == 99
    assert [event.external_id for event in events[:2]] == ["006N0", "006N1"]


def test_refuses_more_than_100_notifications() -> None:
    notifications = [notification(id=f"04l5g00000N{n:06d}") for n in range(101)]
    with pytest.raises(MalformedWebhook):
        salesforce.parse(message(*notifications))


def test_skips_objects_that_are_not_opportunities() -> None:
    assert salesforce.parse(message(notification(type="Account"))) == []


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param("<sf:IsWon>true</sf:IsWon>", id="won-without-amount"),
        pytest.param(
            '<sf:Amount xsi:nil="true"/><sf:IsWon>true</sf:IsWon>', id="won-with-nil-amount"
        ),
        pytest.param("<sf:Amount>27500.0</sf:Amount>", id="no-is-won"),
        pytest.param(WON_FIELDS.replace("27500.0", "lots"), id="amount-not-a-number"),
        pytest.param(WON_FIELDS.replace("2026-12-07", "07/12/2026"), id="close-date-not-iso"),
    ],
)
def test_refuses_notifications_missing_what_a_sale_needs(fields: str) -> None:
    with pytest.raises(MalformedWebhook):
        salesforce.parse(message(notification(fields=fields)))


def test_the_acknowledgement_is_the_documented_envelope() -> None:
    documented = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soapenv:Body>"
        '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
        "<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"
    )
    assert salesforce.ACK_RESPONSE == documented.encode()
    assert documented in README
    ack = fromstring(salesforce.ACK_RESPONSE)
    assert ack.findtext(".//{http://soap.sforce.com/2005/09/outbound}Ack") == "true"
