"""BotReply to Rasa REST messages, without a server."""

from __future__ import annotations

from bot.messages import BotReply, Option
from connectors import load_channels
from connectors.rasa import RasaRestChannel, to_rasa_messages


def _clarify(n: int) -> BotReply:
    options = [Option(id=f"item-{i}", title=f"事项{i}") for i in range(n)]
    return BotReply(action="clarify", intent="ask_service", reply="请选择", options=options)


def test_buttons_carry_the_number_then_the_title_beyond_five() -> None:
    (message,) = to_rasa_messages("u1", _clarify(7), send_cards=True)
    assert message["recipient_id"] == "u1" and message["text"] == "请选择"
    assert [b["payload"] for b in message["buttons"]] == ["1", "2", "3", "4", "5", "事项5", "事项6"]
    assert [b["title"] for b in message["buttons"]] == [f"事项{i}" for i in range(7)]


def test_card_is_a_second_custom_message_only_when_enabled() -> None:
    reply = BotReply(action="answer", intent="ask_service", reply="答复", item_id="a", card={"id": "a"})
    with_card = to_rasa_messages("u1", reply, send_cards=True)
    assert [set(m) for m in with_card] == [{"recipient_id", "text"}, {"recipient_id", "custom"}]
    assert with_card[1]["custom"]["card"] == {"id": "a"}
    assert to_rasa_messages("u1", reply, send_cards=False) == [{"recipient_id": "u1", "text": "答复"}]


def test_registered_as_rest_and_configured_from_its_section() -> None:
    channels = {c.name(): c for c in load_channels({"rest": {"send_cards": False}})}
    rest = channels["rest"]
    assert isinstance(rest, RasaRestChannel) and rest.send_cards is False
    assert "web" in channels
