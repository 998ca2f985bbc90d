"""Reading Mercury activities: REST ids with the activity's cluster, hostile input refused."""

from __future__ import annotations

import base64

import pytest

from tokenbot.bot.activity import cluster_of
from tokenbot.bot.activity import hydra_id
from tokenbot.bot.activity import parse_activity
from tokenbot.core.intake import choose_intake

UUID = "92db3be0-43bd-11e6-8ae9-dd5b3dfc565d"
ROOM_UUID = "0f0c3b30-43bd-11e6-8ae9-dd5b3dfc565d"


def test_hydra_id_matches_the_js_sdk_example() -> None:
    assert hydra_id("MESSAGE", UUID, "us") == (
        "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOTJkYjNiZTAtNDNiZC0xMWU2LThhZTktZGQ1YjNkZmM1NjVk"
    )


def test_cluster_from_global_id_then_from_the_catalog() -> None:
    eu = "urn:TEAM:eu-central-1_k"
    assert cluster_of({"globalId": hydra_id("ROOM", ROOM_UUID, eu)}, {}) == eu
    hosts = {
        "conv-a.wbx2.com": "urn:TEAM:us-east-2_a:conversation",
        "conv-k.wbx2.com": "urn:TEAM:eu-central-1_k:conversation",
    }
    assert cluster_of({"url": "https://conv-a.wbx2.com/conversation/api/v1/x"}, hosts) == "us"
    assert cluster_of({"url": "https://conv-k.wbx2.com/conversation/api/v1/x"}, hosts) == eu
    assert cluster_of({"url": "https://elsewhere.example/x"}, hosts) is None
    assert cluster_of({"globalId": "not base64 !"}, {}) is None


def test_parse_activity_builds_ids_with_the_cluster() -> None:
    eu = "urn:TEAM:eu-central-1_k"
    found = parse_activity(
        {
            "id": UUID,
            "verb": "post",
            "actor": {"entryUUID": "a-b-c", "emailAddress": "Bob@Example.com"},
            "target": {"id": ROOM_UUID, "globalId": hydra_id("ROOM", ROOM_UUID, eu)},
        },
        {},
    )
    assert found is not None
    assert found.message_id == hydra_id("MESSAGE", UUID, eu)
    assert found.room_id == hydra_id("ROOM", ROOM_UUID, eu)
    assert found.actor_email == "bob@example.com"
    decoded = base64.urlsafe_b64decode(found.message_id + "==").decode()
    assert "/us/" not in decoded


def test_a_card_action_names_its_submit_card_and_presser() -> None:
    eu = "urn:TEAM:eu-central-1_k"
    card_uuid = "1a2b3c4d-43bd-11e6-8ae9-dd5b3dfc565d"
    person_uuid = "5e6f7a8b-43bd-11e6-8ae9-dd5b3dfc565d"
    activity = {
        "id": UUID,
        "verb": "cardAction",
        "actor": {"entryUUID": person_uuid, "emailAddress": "dave@example.com"},
        "object": {"objectType": "submit", "inputs": "ciphertext"},
        "parent": {"id": card_uuid, "type": "cardAction"},
        "target": {"id": ROOM_UUID, "globalId": hydra_id("ROOM", ROOM_UUID, eu)},
    }
    found = parse_activity(activity, {})
    assert found is not None
    assert found.action_id == hydra_id("ATTACHMENT_ACTION", UUID, eu)
    assert found.card_id == hydra_id("MESSAGE", card_uuid, eu)
    assert found.person_id == hydra_id("PEOPLE", person_uuid, "us")  # people: always `us`
    # A hostile parent or a post's parent (a thread) names no card.
    for changed in ({"parent": "x"}, {"parent": {"id": "../etc"}}, {"parent": None}):
        hostile = parse_activity({**activity, **changed}, {})
        assert hostile is not None and hostile.card_id is None
    post = parse_activity({**activity, "verb": "post"}, {})
    assert post is not None and post.action_id is None and post.card_id is None


@pytest.mark.parametrize(
    "activity",
    [None, [], {"verb": 1}, {"verb": "post"}, {"verb": "post", "target": "x"}],
)
def test_malformed_activities_are_refused(activity: object) -> None:
    assert parse_activity(activity, {}) is None


def test_an_activity_without_a_cluster_gets_no_ids() -> None:
    found = parse_activity({"id": UUID, "verb": "post", "target": {"id": ROOM_UUID}}, {})
    assert found is not None and found.message_id is None


def test_choose_intake_says_why() -> None:
    def choose(configured: str, scopes: tuple[str, ...], url: str | None, secret: bool) -> str:
        choice = choose_intake(
            configured, scopes=scopes, scopes_from="x", public_url=url, has_webhook_secret=secret
        )
        return f"{choice.intake}: {choice.reason}"

    assert choose("auto", ("spark:all",), None, False) == "websocket: auto: x has spark:all"
    assert choose("auto", ("spark:messages_read",), "https://h", True).startswith("webhook:")
    assert "no webhook secret" in choose("auto", (), "https://h", False)
    assert choose("auto", (), None, False).startswith("polling: auto: x lacks spark:all")
    assert choose("polling", ("spark:all",), None, False) == "polling: bot.intake: polling"
