"""jieba tokens keep domain words whole; colloquial names reach the official ones."""

from __future__ import annotations

import pytest

from bot.assistant import Assistant
from bot.resources import NLU_FILE
from nlu.synonyms import SynonymMapper
from nlu.tokenize import add_user_words, content_tokens, tokenize
from nlu.training_data import load_nlu


def test_add_user_words_keeps_domain_words_whole() -> None:
    """A made-up service name falls apart until it is taught, then stays one token."""
    word = "粤示例掌上乙丙证"
    sentence = f"我在{word}办理了业务"
    assert word not in tokenize(sentence)
    assert add_user_words([word]) == 1
    assert word in tokenize(sentence)
    assert add_user_words([word]) == 0  # already known


@pytest.mark.parametrize("word", ["x", "有 空格", "一二三四五六七八九十一二三"])
def test_add_user_words_skips_unsuitable_words(word: str) -> None:
    """Single characters, words with spaces and very long strings are not added."""
    assert add_user_words([word]) == 0


def test_tokenize_drops_punctuation_and_content_tokens_drop_stopwords() -> None:
    tokens = tokenize("请问，身份证丢了怎么办？")
    assert "，" not in tokens and "？" not in tokens
    content = content_tokens("请问身份证丢了怎么办")
    assert "请问" not in content and "身份证" in content


def test_pipeline_tokens_keep_service_names(assistant: Assistant) -> None:
    """The pipeline's tokenizer learned the KB titles (居民身份证遗失补领 is one token)."""
    message = assistant.parse("我要办居民身份证遗失补领")
    assert "居民身份证遗失补领" in message.tokens


@pytest.fixture(scope="module")
def synonym_map() -> dict[str, str]:
    return load_nlu(NLU_FILE).synonym_map()


@pytest.mark.parametrize(("colloquial", "official"), [("驾照", "机动车驾驶证"), ("低保", "最低生活保障")])
def test_nlu_yml_declares_synonyms(synonym_map: dict[str, str], colloquial: str, official: str) -> None:
    assert synonym_map[colloquial] == official


@pytest.mark.parametrize(
    ("text", "colloquial", "official"),
    [("我的驾照过期了", "驾照", "机动车驾驶证"), ("低保怎么申请", "低保", "最低生活保障")],
)
def test_synonym_mapper_appends_official_term(
    synonym_map: dict[str, str], text: str, colloquial: str, official: str
) -> None:
    """The official name is appended, the citizen's own words are kept."""
    search_text, found = SynonymMapper(synonym_map).expand(text)
    assert found == {colloquial: official}
    assert search_text == f"{text} {official}"


def test_synonym_mapper_does_not_repeat_official_term(synonym_map: dict[str, str]) -> None:
    """When the official term is already there nothing is added."""
    text = "机动车驾驶证和驾照"
    assert SynonymMapper(synonym_map).expand(text) == (text, {})


def test_synonym_mapper_without_mapping() -> None:
    assert SynonymMapper({}).expand("驾照") == ("驾照", {})


def test_pipeline_fills_search_text(assistant: Assistant) -> None:
    """Through the assistant's pipeline: text stays, search_text gains the official name."""
    message = assistant.parse("驾照丢了")
    assert message.text == "驾照丢了"
    assert message.synonyms.get("驾照") == "机动车驾驶证"
    assert message.search_text.startswith("驾照丢了") and "机动车驾驶证" in message.search_text
