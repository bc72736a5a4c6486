"""The options of each NLU pipeline component and each dialogue policy, declared once.

config.yml lists components Rasa-style (`- name: Normalizer` plus the component's own keys); the
name picks the model below, which gives every option its default and help text. nlu/ and bot/ read
these models, so a default lives here and nowhere else. nlu/pipeline.py's REGISTRY holds the same
names (tests/core/test_settings.py checks that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.config_model import Registry


class ComponentOptions(BaseModel):
    """One `pipeline:` or `policies:` entry: the registered name plus the component's own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registered component name")

    def options(self) -> dict[str, Any]:
        """The component's own keys, without `name`."""
        return self.model_dump(exclude={"name"})


# --- NLU pipeline (nlu/) --------------------------------------------------------------------------


class NormalizerOptions(ComponentOptions):
    """Full/half width, 繁→简, emoji and ASR fillers out (nlu/normalize.py)."""

    name: Literal["Normalizer"] = Field("Normalizer", description="Registered component name")
    max_chars: int = Field(2000, gt=0, description="Longer input is truncated and the reply says so")


class JiebaTokenizerOptions(ComponentOptions):
    """jieba tokens; the user dictionary is built from knowledge-base titles and synonyms."""

    name: Literal["JiebaTokenizer"] = Field("JiebaTokenizer", description="Registered component name")


class SynonymMapperOptions(ComponentOptions):
    """Colloquial -> official names, from nlu/data/nlu.yml synonyms."""

    name: Literal["SynonymMapper"] = Field("SynonymMapper", description="Registered component name")


class RuleEntityExtractorOptions(ComponentOptions):
    """Phone, ID card, ticket no, date/time, district, department, service item (nlu/entities.py)."""

    name: Literal["RuleEntityExtractor"] = Field(
        "RuleEntityExtractor", description="Registered component name"
    )
    fuzzy_item_min_score: float = Field(
        88, ge=0, le=100, description="rapidfuzz partial score (0-100) for a service-item mention"
    )


class FieldDetectorOptions(ComponentOptions):
    """Which field of an item the user asks about (材料/地点/时限...)."""

    name: Literal["FieldDetector"] = Field("FieldDetector", description="Registered component name")


class IntentClassifierOptions(ComponentOptions):
    """The trained intent classifier plus the rules it cannot learn (nlu/intents.py)."""

    name: Literal["IntentClassifier"] = Field("IntentClassifier", description="Registered component name")
    min_confidence: float = Field(
        0.45, ge=0, le=1, description="Below this confidence the intent falls back to ask_service"
    )


class CategoryClassifierOptions(ComponentOptions):
    """First-level 12345 category of a complaint or request."""

    name: Literal["CategoryClassifier"] = Field("CategoryClassifier", description="Registered component name")


PIPELINE_MODELS: tuple[type[ComponentOptions], ...] = (
    NormalizerOptions,
    JiebaTokenizerOptions,
    SynonymMapperOptions,
    RuleEntityExtractorOptions,
    FieldDetectorOptions,
    IntentClassifierOptions,
    CategoryClassifierOptions,
)


# --- Dialogue policies (bot/policy.py) ------------------------------------------------------------


class DecisionPolicyOptions(ComponentOptions):
    """The decision for each message (bot/policy.py decide)."""

    name: Literal["DecisionPolicy"] = Field("DecisionPolicy", description="Registered policy name")
    answer_min_score: Literal["calibrated"] | float = Field(
        "calibrated",
        description="Dense score an answer needs; 'calibrated': the threshold `govbot train` measured",
    )
    clarify_margin: float = Field(
        0.04, ge=0, description="Clarify when the runner-up is this close to the best fused score"
    )
    clarify_max_options: int = Field(5, ge=2, description="Most options offered by one clarify question")
    unsure_options: int = Field(
        3, ge=2, description="Candidates offered when confidence is between the clarify and answer thresholds"
    )
    smalltalk_max_chars: int = Field(
        12, ge=0, description="greet/thanks/goodbye are smalltalk only for messages this short"
    )
    strong_match_dense_margin: float = Field(
        0.015,
        ge=0,
        description="A complaint-sounding message is a question about the best item when its dense score "
        "passes the answer threshold by this much (with strong_match_min_score and a lead of clarify_margin)",
    )
    strong_match_min_score: float = Field(
        0.70,
        ge=0,
        description="Fused score the best item needs for a strong match (weighted fusion: above the dense "
        "weight means BM25 or the name matcher agree)",
    )
    complaint_clear_confidence: float = Field(
        0.80,
        ge=0,
        le=1,
        description="A complaint intent at least this sure stays a complaint, however strong the match",
    )
    complaint_words: tuple[str, ...] = Field(
        ("投诉", "举报", "检举", "控告", "曝光", "查处", "取缔", "管一管", "管管", "不作为"),
        description="Words that make a message clearly a complaint or a demand for action: it stays a "
        "ticket unless the matched item is itself the channel for it (its title has one of the words)",
    )
    own_ticket_words: tuple[str, ...] = Field(
        ("工单", "12345", "反映", "投诉", "诉求", "单子", "回复", "回访"),
        description="Words that tie a status question to the citizen's own hotline request: it stays a "
        "ticket-status question even when one service matches strongly (without them and without a "
        "ticket number, a strong match to a progress-query item is a question about that service)",
    )
    answer_min_lexical: float = Field(
        0.0,
        ge=0,
        le=1,
        description="An answer needs the best item's BM25 score (share of the best possible for the "
        "question) at least this, or its name match at least answer_min_fuzzy; else the assistant asks "
        "back (0 and 0: no such check)",
    )
    answer_min_fuzzy: float = Field(
        0.0, ge=0, le=1, description="Name-match score (0-1) that also counts as word support for an answer"
    )
    dense_rival_window: int = Field(
        0,
        ge=0,
        description="An answer needs the embedding to agree with the fused ranking: when another title among "
        "the first this many candidates has a dense score at least the best's, the retrievers disagree on "
        "which item it is and the assistant offers those candidates instead (0: no such check)",
    )
    confidence: Literal["dense", "corpus"] = Field(
        "dense",
        description="Which calibration decides: 'dense' (answer when the best hit's dense score passes the "
        "built-in threshold) or 'corpus' (answer / clarify / abstain by the confidence model fitted on "
        "this knowledge base's own probes)",
    )
    calibration_items: int = Field(
        400, ge=10, description="Knowledge items sampled to make the calibration probes (bot/calibration.py)"
    )
    wrong_answer_target: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Calibration: largest share of answerable probes that may get a wrong answer",
    )
    unanswerable_answer_target: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Calibration: largest share of unanswerable probes (answer removed, off-topic) answered",
    )
    abstain_max: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Calibration: largest share of rightly ranked probes told the answer is not known",
    )

    @field_validator("answer_min_score", mode="before")
    @classmethod
    def _number_or_calibrated(cls, value: Any) -> Any:
        """One message for a wrong value, not one per member of the union."""
        if value == "calibrated" or (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        raise ValueError(f"a number or 'calibrated', not {value!r}")


POLICY_MODELS: tuple[type[ComponentOptions], ...] = (DecisionPolicyOptions,)


def _by_name(models: tuple[type[ComponentOptions], ...]) -> dict[str, type[ComponentOptions]]:
    return {str(model.model_fields["name"].default): model for model in models}


PIPELINE_COMPONENTS = _by_name(PIPELINE_MODELS)
POLICIES = _by_name(POLICY_MODELS)
UNION_TAGS = frozenset(PIPELINE_COMPONENTS) | frozenset(POLICIES)
"""Pydantic puts the chosen member's name in an error's path; error_lines() leaves it out."""

if TYPE_CHECKING:
    PipelineEntry = ComponentOptions
    PolicyEntry = ComponentOptions
else:  # a union of the declared models, told apart by `name`
    PipelineEntry = Annotated[Union[PIPELINE_MODELS], Field(discriminator="name")]  # noqa: UP007
    PolicyEntry = Annotated[Union[POLICY_MODELS], Field(discriminator="name")]  # noqa: UP007

PipelineList = Annotated[list[PipelineEntry], Registry("pipeline component", PIPELINE_COMPONENTS, by="name")]
PolicyList = Annotated[list[PolicyEntry], Registry("policy", POLICIES, by="name")]
