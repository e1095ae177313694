"""Newsroom settings: one module, every value from the environment.

With no environment variables the project runs on SQLite, a local-memory cache, eager
Celery tasks and the offline extractive summariser. Setting DATABASE_URL, REDIS_URL and
ANTHROPIC_API_KEY switches each part to the real service. README has the full table.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- Core -------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
# The fallback key is only for local runs; PRODUCTION refuses to start without a real one.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-" + "x" * 32)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env.str("SITE_NAME", default="Newsroom")
# The publication's name in the Google News sitemap (/sitemap-news.xml, issue #17).
NEWS_SITEMAP_PUBLICATION_NAME = env.str("NEWS_SITEMAP_PUBLICATION_NAME", default=SITE_NAME)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# PRODUCTION=1 switches on everything that only works behind HTTPS (SSL redirect, secure
# cookies, HSTS). It is separate from DEBUG so the site still serves plain HTTP on loopback
# for `make run`, tests and benchmarks.
PRODUCTION = env.bool("PRODUCTION", default=False)
if PRODUCTION and SECRET_KEY.startswith("dev-only-"):
    raise ImproperlyConfigured("PRODUCTION=1 needs a SECRET_KEY from the environment.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "accounts",
    "articles",
    "comments",
    "newsletter",
]

MIDDLEWARE = [
    # Our TDM reservation header goes on every response, cached pages and refusals included.
    "newsroom.rights.TDMReservationMiddleware",
    # Gzips per request what the page cache did not answer already compressed
    # (newsroom/compression.py). It does nothing on the way in.
    "newsroom.compression.CompressionMiddleware",
    # The JSON API's CORS, tokens and rate limits (articles/api/gate.py): before the page cache,
    # so a cached answer is counted too. Other paths pass straight through.
    "articles.api.gate.ApiGateMiddleware",
    # First to do any work: anonymous GETs are answered from the cache before anything else.
    "newsroom.pagecache.AnonymousPageCacheMiddleware",
    # Before anything reads a parameter: NUL is refused, other control characters removed.
    "newsroom.request_guard.ControlCharacterGuardMiddleware",
    # An API request the page cache did not count against its rate limit is counted here, before
    # any endpoint runs (articles/api/gate.py).
    "articles.api.gate.ApiLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the logged-in user's row from the cache (accounts/cached_user.py).
    "accounts.cached_user.CachedUserAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "newsroom.urls"
WSGI_APPLICATION = "newsroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "newsroom.context_processors.site",
            ],
            # {% frozen %}: partials that are the same on every page, rendered once (issue #16).
            "libraries": {"frozen": "newsroom.frozen"},
        },
    },
]

# --- Database ---------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the dev server and an eager task write without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Redis --------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
# Issue #13: cached pages and card fragments live in their own alias, "pages", so no amount of
# page traffic can evict what "default" holds: the rate-limit counters (allauth's, comments',
# newsletter's), fetch slots and robots.txt. PAGES_REDIS_URL may point at a Redis of its own
# with a maxmemory and an LRU policy (docs/operations.md); by default pages share REDIS_URL.
PAGES_REDIS_URL = env.str("PAGES_REDIS_URL", default=REDIS_URL)
# Without Redis (each process its own memory): how many pages and cards one process keeps.
PAGE_CACHE_MAX_ENTRIES = env.int("PAGE_CACHE_MAX_ENTRIES", default=1000)


def _cache(redis_url: str, *, name: str, max_entries: int) -> dict:
    """Redis when a URL is set, else this process's memory, bounded to `max_entries`."""
    if redis_url:
        return {
            "BACKEND": "newsroom.cache.RedisCache",  # one redis.Redis per pool, not per call
            "LOCATION": redis_url,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="newsroom"),
            "TIMEOUT": 300,
        }
    # Each alias its own LOCATION: local-memory caches with the same one share a store and its culling.
    return {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": f"newsroom-{name}",
        "OPTIONS": {"MAX_ENTRIES": max_entries},
    }


CACHES = {
    # Counters are tiny: this bound is far above what rate-limited traffic can create.
    "default": _cache(REDIS_URL, name="default", max_entries=100_000),
    "pages": _cache(PAGES_REDIS_URL, name="pages", max_entries=PAGE_CACHE_MAX_ENTRIES),
}

# Sessions are read from the "default" cache and written through to the database (issue #16):
# a logged-in reader's request costs one cache round trip for the session and the user's cached
# row together (accounts/sessions.py: Django's cached_db store, plus the user on Redis), not a
# query, and a cache that loses the entry falls back to the database row.
SESSION_ENGINE = "accounts.sessions"
SESSION_CACHE_ALIAS = "default"

# Anonymous page cache (see newsroom/pagecache.py): seconds a rendered page is kept.
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=300)
# A request carrying one of these cookies may see per-user content: never served from cache.
PAGE_CACHE_BYPASS_COOKIES = env.list("PAGE_CACHE_BYPASS_COOKIES", default=["sessionid", "messages"])
# Paths that are never cached (desk, accounts, health checks, static files handled by whitenoise).
PAGE_CACHE_EXCLUDE_PREFIXES = env.list(
    "PAGE_CACHE_EXCLUDE_PREFIXES", default=["/admin/", "/accounts/", "/healthz", "/static/", "/bench/"]
)
# Query variants (a search's words, a listing's page) one path may store per PAGE_CACHE_SECONDS:
# a free-text parameter has endless values, so this bounds the copies of one path (issue #13).
PAGE_CACHE_MAX_VARIANTS = env.int("PAGE_CACHE_MAX_VARIANTS", default=200)
# Rendered article cards, cached apart from whole pages so an uncached listing is assembled
# from cards (articles/reader/cards.py). Keys carry the page-cache generation and the card's data,
# so this is only how long an unused card lingers; 0 renders every card every time.
CARD_CACHE_SECONDS = env.int("CARD_CACHE_SECONDS", default=600)
# Shared parts of reader pages (articles/reader/fragments.py), served to logged-in readers and
# on page-cache misses. Valid while the page-cache generations hold (exact invalidation on
# commit); this bounds what no signal covers, as PAGE_CACHE_SECONDS does for whole pages.
FRAGMENT_CACHE_SECONDS = env.int("FRAGMENT_CACHE_SECONDS", default=300)
# BENCH_VIEWS=1 adds /bench/ok, a bare "ok" view: the ceiling bench/http.py compares against.
BENCH_VIEWS = env.bool("BENCH_VIEWS", default=False)

# --- Celery -----------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
# No broker configured: run tasks in-process so `make run` needs no server.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered, not lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# The visibility timeout must stay well above every task's hard time limit, so a slow task
# is never redelivered (and paid for twice) while it still runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues: "default" for quick jobs, "ingest" for CPU-bound fetch/parse/extract, "summaries"
# for I/O-bound model calls (run that worker with a threads pool and high concurrency).
CELERY_TASK_ROUTES = {
    "articles.tasks.fetch_source": {"queue": "ingest"},
    "articles.tasks.extract_article": {"queue": "ingest"},
    "articles.tasks.group_article": {"queue": "ingest"},
    "articles.tasks.propose_followups": {"queue": "ingest"},
    "articles.tasks.summarize_article": {"queue": "summaries"},
    "articles.tasks.poll_summary_batches": {"queue": "summaries"},
    "articles.tasks.sweep_stuck_summaries": {"queue": "summaries"},
    "newsletter.tasks.*": {"queue": "default"},
}
# Every periodic job, in one place, each with why it runs at that interval. Task names are
# stable (`name=` on each task), whatever module defines them.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Each source keeps its own adaptive next_poll_at (5 min to 24 h); a 2-minute tick only
    # decides who is due, so no source waits much past its time.
    "poll-due-sources": {"task": "articles.tasks.poll_due_sources", "schedule": 120.0},
    # One indexed query; an article whose extract message was lost (a broker restart) waits
    # at most ARTICLE_EXTRACT_STUCK_AFTER_SECONDS + 5 minutes.
    "sweep-unextracted-articles": {"task": "articles.tasks.sweep_unextracted_articles", "schedule": 300.0},
    # Same for an article whose worker died between extraction and grouping: it waits
    # unsummarised (due_for_summary needs a story) until this groups it; one indexed query.
    "sweep-ungrouped-articles": {"task": "articles.tasks.sweep_ungrouped_articles", "schedule": 300.0},
    # Grouping reads only index rows within the window; a daily pass keeps the two index
    # tables at STORY_INDEX_KEEP_DAYS of rows instead of the whole archive.
    "prune-story-index": {"task": "articles.tasks.prune_story_index", "schedule": 24 * 3600.0},
    # Recovers a dead worker's article well within SUMMARY_STUCK_AFTER_SECONDS and resumes
    # budget-paused articles after midnight; two indexed queries.
    "sweep-stuck-summaries": {"task": "articles.tasks.sweep_stuck_summaries", "schedule": 300.0},
    # Batches take minutes to hours; polling each minute costs one GET per open batch.
    "poll-summary-batches": {"task": "articles.tasks.poll_summary_batches", "schedule": 60.0},
    # Scheduled publications go out within a minute of their time; one indexed lookup.
    "publish-scheduled": {"task": "articles.tasks.publish_scheduled", "schedule": 60.0},
    # Send hours are whole hours in any timezone (incl. :30/:45 offsets), so a digest leaves
    # at most 15 minutes late; the same tick picks up due retries.
    "newsletter-schedule-digests": {"task": "newsletter.tasks.schedule_digests", "schedule": 15 * 60.0},
    # WebSub leases last days and are renewed a fifth of a lease early; a 10-minute tick also
    # sends the first request for a hub a poll discovered, and retries a failed one.
    "websub-subscriptions": {"task": "articles.tasks.websub_subscriptions", "schedule": 10 * 60.0},
}

# --- Auth and accounts ------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
# Accounts and discussion (issue #7): our adapter, templates in templates/account/.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
# Bots that fill this hidden field get a fake "verification sent" page and no account.
ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD = "website"
ACCOUNT_USER_DISPLAY = "accounts.adapter.user_display"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# One address per reader: "change email" replaces it once the new one is verified.
ACCOUNT_CHANGE_EMAIL = True
# allauth's brute-force protection, written out so the numbers are visible and reviewable.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/180s/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
# Social login: a provider is switched on only when its client id is set; an id without
# its secret is a misconfiguration and refuses to start.
SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
for _provider in ("github", "google"):
    _client_id = env.str(f"{_provider.upper()}_CLIENT_ID", default="")
    _secret = env.str(f"{_provider.upper()}_CLIENT_SECRET", default="")
    if _client_id and not _secret:
        raise ImproperlyConfigured(f"{_provider.upper()}_CLIENT_ID needs {_provider.upper()}_CLIENT_SECRET.")
    if _client_id:
        INSTALLED_APPS.append(f"allauth.socialaccount.providers.{_provider}")
        SOCIALACCOUNT_PROVIDERS[_provider] = {
            "APPS": [{"client_id": _client_id, "secret": _secret, "key": ""}],
            "SCOPE": ["user:email"] if _provider == "github" else ["profile", "email"],
            "VERIFIED_EMAIL": _provider == "google",
        }
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never attach a social login to an existing account by email

# --- Comments ---------------------------------------------------------------------------

# Issue #7. Rate limits are "count/period" with period s, m, h or d, comma-separated.
COMMENT_RATE_LIMIT_USER = env.str("COMMENT_RATE_LIMIT_USER", default="5/m,50/d")
COMMENT_RATE_LIMIT_IP = env.str("COMMENT_RATE_LIMIT_IP", default="10/m,200/d")
# Only for load tests, where many commenters share one loopback address.
COMMENT_RATE_LIMITS_DISABLED = env.bool("COMMENT_RATE_LIMITS_DISABLED", default=False)
COMMENT_EDIT_WINDOW_SECONDS = env.int("COMMENT_EDIT_WINDOW_SECONDS", default=15 * 60)
# Comments from accounts younger than this, or with more links than this, wait for a moderator.
COMMENT_HOLD_NEW_ACCOUNTS = env.bool("COMMENT_HOLD_NEW_ACCOUNTS", default=True)
COMMENT_HOLD_ACCOUNT_AGE_HOURS = env.int("COMMENT_HOLD_ACCOUNT_AGE_HOURS", default=24)
COMMENT_HOLD_MAX_LINKS = env.int("COMMENT_HOLD_MAX_LINKS", default=2)
# This many reader flags hide a comment until a moderator looks at it.
COMMENT_FLAG_HIDE_THRESHOLD = env.int("COMMENT_FLAG_HIDE_THRESHOLD", default=3)

# --- JSON API ---------------------------------------------------------------------------

# Issue #17, docs/api.md. Requests to /api/ per client address without a token, and per token
# with one ("count/period", as the comment limits). A token only raises the limit.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="60/m,2000/d")
API_TOKEN_RATE_LIMIT = env.str("API_TOKEN_RATE_LIMIT", default="600/m,50000/d")
# Active API tokens one account may hold at once.
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=5)

# --- Email ------------------------------------------------------------------------------


def _mailer(url: str, timeout: float = 10.0) -> dict:
    """The MAILERS entry for an EMAIL_URL, as django-environ's email URL parser reads it.

    An SMTP URL without a host means localhost; without a port, the scheme's standard one (465
    for TLS from the first byte, 587 for STARTTLS, 25 for plain SMTP). Every SMTP conversation
    gives up after EMAIL_TIMEOUT_SECONDS: a mail server that stops answering must not hold a web
    request or a digest task. A URL the parser would misread fails here, at start-up, rather
    than at the first email.
    """
    # Error messages never repeat the URL: it may hold the SMTP password.
    parts = urlsplit(url)
    if parts.scheme not in environ.Env.EMAIL_SCHEMES:
        schemes = ", ".join(f"{scheme}://" for scheme in environ.Env.EMAIL_SCHEMES)
        got = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ImproperlyConfigured(f"EMAIL_URL must start with one of {schemes} (got {got}).")
    if parts.query or parts.fragment:
        # django-environ would drop most ?options unread. A "?" or "#" in a password is %3F, %23.
        raise ImproperlyConfigured("EMAIL_URL takes no ?options or #fragment; the scheme chooses TLS.")
    try:
        parsed = environ.Env.email_url_config(url)
    except ValueError as exc:  # a port that is not a number from 0 to 65535
        raise ImproperlyConfigured(f"EMAIL_URL is malformed: {exc}.") from None
    backend = parsed["EMAIL_BACKEND"]
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        use_ssl, use_tls = bool(parsed.get("EMAIL_USE_SSL")), bool(parsed.get("EMAIL_USE_TLS"))
        options = {
            "host": parsed["EMAIL_HOST"] or "localhost",
            "port": parsed["EMAIL_PORT"] or (465 if use_ssl else 587 if use_tls else 25),
            "use_tls": use_tls,
            "use_ssl": use_ssl,
            "timeout": timeout,
        }
        if user := parsed["EMAIL_HOST_USER"]:
            options |= {"username": user, "password": parsed["EMAIL_HOST_PASSWORD"] or ""}
        return {"BACKEND": backend, "OPTIONS": options}
    if backend == "django.core.mail.backends.filebased.EmailBackend":
        if not parsed["EMAIL_FILE_PATH"]:
            raise ImproperlyConfigured(
                "EMAIL_URL filemail:// needs a directory: filemail:///relative/dir or filemail:////absolute/dir."
            )
        return {"BACKEND": backend, "OPTIONS": {"file_path": parsed["EMAIL_FILE_PATH"]}}
    return {"BACKEND": backend}  # console, locmem, dummy: nothing to configure


# EMAIL_URL names the one mailer every email leaves through (digests, confirmations, reply
# notifications, allauth's): consolemail:// (the default: `make run` prints mail),
# smtp://user:pass@host:25, smtp+tls:// (STARTTLS, port 587 unless given; smtps:// means the
# same), smtp+ssl:// (TLS from the first byte, port 465), filemail://<directory>,
# memorymail://, dummymail://.
# How long one SMTP connect, read or write may wait before the email fails.
EMAIL_TIMEOUT_SECONDS = env.float("EMAIL_TIMEOUT_SECONDS", default=10.0)
MAILERS = {"default": _mailer(env.str("EMAIL_URL", default="consolemail://"), EMAIL_TIMEOUT_SECONDS)}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Newsroom <newsroom@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Ingestion --------------------------------------------------------------------------

# Hosts the fetcher may reach even though they resolve to private addresses (tests, intranet).
FETCH_ALLOWED_PRIVATE_HOSTS = env.list("FETCH_ALLOWED_PRIVATE_HOSTS", default=[])
FETCH_TIMEOUT_SECONDS = env.float("FETCH_TIMEOUT_SECONDS", default=10.0)
FETCH_MAX_BYTES = env.int("FETCH_MAX_BYTES", default=5 * 1024 * 1024)
FETCH_USER_AGENT = env.str("FETCH_USER_AGENT", default=f"NewsroomBot/1.0 (+{SITE_URL}/about/bot)")
SOURCE_PAUSE_AFTER_FAILURES = env.int("SOURCE_PAUSE_AFTER_FAILURES", default=10)
# A byte-a-second server must not hold a worker: the whole download has its own deadline.
FETCH_TOTAL_TIMEOUT_SECONDS = env.float("FETCH_TOTAL_TIMEOUT_SECONDS", default=30.0)
# Politeness: at most this many simultaneous requests to one host, across all workers.
FETCH_PER_HOST_CONCURRENCY = env.int("FETCH_PER_HOST_CONCURRENCY", default=2)
# Adaptive polling stays between these bounds; failures back off up to the maximum.
SOURCE_MIN_POLL_SECONDS = env.int("SOURCE_MIN_POLL_SECONDS", default=5 * 60)
SOURCE_MAX_POLL_SECONDS = env.int("SOURCE_MAX_POLL_SECONDS", default=24 * 3600)
# A 301/308 must be seen on this many consecutive polls before the stored feed URL moves.
SOURCE_REDIRECT_CONFIRMATIONS = env.int("SOURCE_REDIRECT_CONFIRMATIONS", default=3)
ROBOTS_CACHE_SECONDS = env.int("ROBOTS_CACHE_SECONDS", default=24 * 3600)
# Extracted text shorter than this is "thin": kept, marked failed, never summarised.
ARTICLE_MIN_WORDS = env.int("ARTICLE_MIN_WORDS", default=80)
# An article still `new` this long after its poll lost its extract message (a broker restart);
# the sweeper enqueues it again (issue #9, docs/faults.md).
ARTICLE_EXTRACT_STUCK_AFTER_SECONDS = env.int("ARTICLE_EXTRACT_STUCK_AFTER_SECONDS", default=900)
# TDM Reservation Protocol (issue #17): a host's /.well-known/tdmrep.json is cached like robots.txt.
TDMREP_CACHE_SECONDS = env.int("TDMREP_CACHE_SECONDS", default=24 * 3600)

# --- WebSub -----------------------------------------------------------------------------

# Issue #17, docs/ingest.md. A feed that names a hub is subscribed to; pushed entries go through
# the poll's parse and dedupe. The lease we ask for (hubs may grant less), renewed a fifth early.
WEBSUB_LEASE_SECONDS = env.int("WEBSUB_LEASE_SECONDS", default=7 * 24 * 3600)
# While a subscription is live the source is still polled, at least this far apart: the net
# under a hub that stops pushing.
WEBSUB_SAFETY_POLL_SECONDS = env.int("WEBSUB_SAFETY_POLL_SECONDS", default=6 * 3600)
# The largest push the callback reads; a bigger one is refused with 413, unread.
WEBSUB_MAX_BODY_BYTES = env.int("WEBSUB_MAX_BODY_BYTES", default=2 * 1024 * 1024)
# Our own hub (docs/reader.md): when set, our feeds name it and every publication pings it.
WEBSUB_HUB_URL = env.str("WEBSUB_HUB_URL", default="")
if WEBSUB_HUB_URL and not WEBSUB_HUB_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("WEBSUB_HUB_URL must be an http(s) URL.")

# --- Rights -----------------------------------------------------------------------------

# Issue #17, docs/reader.md. What our pages say under the TDM Reservation Protocol: "1" reserves
# text and data mining rights (the tdm-reservation header on every response and
# /.well-known/tdmrep.json), "0" waives them. TDM_POLICY_URL names the licence terms, if any.
TDM_RESERVATION = env.str("TDM_RESERVATION", default="1")
if TDM_RESERVATION not in ("0", "1"):
    raise ImproperlyConfigured('TDM_RESERVATION must be "1" (reserved) or "0" (not reserved).')
TDM_POLICY_URL = env.str("TDM_POLICY_URL", default="")
if TDM_POLICY_URL and not TDM_POLICY_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("TDM_POLICY_URL must be an absolute http(s) URL.")

# --- Stories ----------------------------------------------------------------------------

# Issue #14, docs/stories.md. An article may join a story seen within this many hours before
# its publication; the default and the threshold come from `cluster_eval` on labelled data.
STORY_WINDOW_HOURS = env.float("STORY_WINDOW_HOURS", default=48)
# Lowest similarity (0-1) at which an article joins the best-matching recent story.
STORY_SIMILARITY_THRESHOLD = env.float("STORY_SIMILARITY_THRESHOLD", default=0.16)
# Grouping index rows (story terms, copy bands) older than this are pruned daily
# (prune_story_index): an article arriving this late with an old date starts its own story.
STORY_INDEX_KEEP_DAYS = env.int("STORY_INDEX_KEEP_DAYS", default=30)
# Optional sentence embeddings for grouping, from any OpenAI-compatible /v1/embeddings endpoint
# (Ollama, vLLM, llama.cpp's server), e.g. http://localhost:11434/v1. Empty: TF-IDF alone.
STORY_EMBEDDINGS_URL = env.str("STORY_EMBEDDINGS_URL", default="")
STORY_EMBEDDINGS_MODEL = env.str("STORY_EMBEDDINGS_MODEL", default="")
STORY_EMBEDDINGS_API_KEY = env.str("STORY_EMBEDDINGS_API_KEY", default="")
# Share of the embedding similarity in an article's score for a story (the rest is TF-IDF),
# and the threshold of that mixed score, used instead of STORY_SIMILARITY_THRESHOLD while the
# backend is on; both from `cluster_eval` (docs/stories.md).
STORY_EMBEDDINGS_WEIGHT = env.float("STORY_EMBEDDINGS_WEIGHT", default=0.5)
STORY_EMBEDDINGS_THRESHOLD = env.float("STORY_EMBEDDINGS_THRESHOLD", default=0.25)
# One request embeds one article at extraction; cluster_eval and stories_regroup send batches.
STORY_EMBEDDINGS_TIMEOUT_SECONDS = env.float("STORY_EMBEDDINGS_TIMEOUT_SECONDS", default=10.0)
STORY_EMBEDDINGS_BATCH_SIZE = env.int("STORY_EMBEDDINGS_BATCH_SIZE", default=64)
if STORY_EMBEDDINGS_URL and not STORY_EMBEDDINGS_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("STORY_EMBEDDINGS_URL must be an absolute http(s) URL.")
if STORY_EMBEDDINGS_URL and not STORY_EMBEDDINGS_MODEL:
    raise ImproperlyConfigured("STORY_EMBEDDINGS_URL needs STORY_EMBEDDINGS_MODEL.")
if not 0 <= STORY_EMBEDDINGS_WEIGHT <= 1:
    raise ImproperlyConfigured("STORY_EMBEDDINGS_WEIGHT must be between 0 and 1.")
# Issue #15, docs/summaries.md. One summary per story, written from its distinct sources:
# only the lead is summarised; another report joining the story updates that summary when
# it brings something new. False: every original article is summarised on its own.
STORY_SUMMARIES = env.bool("STORY_SUMMARIES", default=True)
# Input budget of a story summary's source texts (the cached system prompt comes on top),
# and how many sources it cites at most; thinner sources than this word count are skipped.
STORY_SUMMARY_INPUT_TOKENS = env.int("STORY_SUMMARY_INPUT_TOKENS", default=12000)
STORY_SUMMARY_MAX_SOURCES = env.int("STORY_SUMMARY_MAX_SOURCES", default=10)
STORY_SUMMARY_MIN_WORDS = env.int("STORY_SUMMARY_MIN_WORDS", default=40)
# A report joining a summarised story is weighed this long after it arrives, so a burst of
# reports about one event costs one update, not one per report.
STORY_UPDATE_DELAY_SECONDS = env.int("STORY_UPDATE_DELAY_SECONDS", default=600)
# Issue #15, docs/desk-guide.md. A "What to watch" question stays open to answers from new
# reports while its story was seen within this many days.
STORY_FOLLOWUP_DAYS = env.int("STORY_FOLLOWUP_DAYS", default=14)
# Lowest similarity (0-1) between a new report's title and lead and an open question at which
# the desk is offered the report as its answer; chosen on the labelled pairs in
# tests/articles/stories/followup_pairs.py (bench/followups.py prints the sweep).
STORY_FOLLOWUP_THRESHOLD = env.float("STORY_FOLLOWUP_THRESHOLD", default=0.40)

# --- Summaries --------------------------------------------------------------------------

ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_MODEL = env.str("ANTHROPIC_MODEL", default="claude-haiku-4-5")
OPENAI_COMPAT_BASE_URL = env.str("OPENAI_COMPAT_BASE_URL", default="")
OPENAI_COMPAT_MODEL = env.str("OPENAI_COMPAT_MODEL", default="")
OPENAI_COMPAT_API_KEY = env.str("OPENAI_COMPAT_API_KEY", default="")
SUMMARY_BACKEND = env.str("SUMMARY_BACKEND", default="anthropic" if ANTHROPIC_API_KEY else "extractive")
if SUMMARY_BACKEND == "anthropic" and not ANTHROPIC_API_KEY:
    raise ImproperlyConfigured("SUMMARY_BACKEND=anthropic needs ANTHROPIC_API_KEY.")
if SUMMARY_BACKEND == "openai_compat" and not (OPENAI_COMPAT_BASE_URL and OPENAI_COMPAT_MODEL):
    raise ImproperlyConfigured(
        "SUMMARY_BACKEND=openai_compat needs OPENAI_COMPAT_BASE_URL and OPENAI_COMPAT_MODEL."
    )
SUMMARY_MODEL_TIMEOUT_SECONDS = env.float("SUMMARY_MODEL_TIMEOUT_SECONDS", default=60.0)
SUMMARY_MAX_ATTEMPTS = env.int("SUMMARY_MAX_ATTEMPTS", default=6)
SUMMARY_BATCH_THRESHOLD = env.int("SUMMARY_BATCH_THRESHOLD", default=100)
SUMMARY_DAILY_BUDGET_USD = Decimal(env.str("SUMMARY_DAILY_BUDGET_USD", default="5.00"))
SUMMARY_STUCK_AFTER_SECONDS = env.int("SUMMARY_STUCK_AFTER_SECONDS", default=900)
# USD per million tokens: input, output, cache write, cache read.
SUMMARY_PRICES = {
    "claude-haiku-4-5": {"input": "1.00", "output": "5.00", "cache_write": "1.25", "cache_read": "0.10"},
    "claude-sonnet-4-5": {"input": "3.00", "output": "15.00", "cache_write": "3.75", "cache_read": "0.30"},
}

# --- Newsletter -------------------------------------------------------------------------

LINE_CHANNEL_ACCESS_TOKEN = env.str("LINE_CHANNEL_ACCESS_TOKEN", default="")
LINE_API_BASE_URL = env.str("LINE_API_BASE_URL", default="https://api.line.me")
SLACK_WEBHOOK_HOSTS = env.list("SLACK_WEBHOOK_HOSTS", default=["hooks.slack.com"])
# Daily digest (issue #8, docs/digest.md).
NEWSLETTER_CONFIRM_MAX_AGE_SECONDS = env.int("NEWSLETTER_CONFIRM_MAX_AGE_SECONDS", default=3 * 24 * 3600)
# Preference and unsubscribe links sit in old digests; they must keep working for a long time.
NEWSLETTER_LINK_MAX_AGE_DAYS = env.int("NEWSLETTER_LINK_MAX_AGE_DAYS", default=400)
# A pending address gets at most one confirmation email per cooldown, however often it is entered.
NEWSLETTER_CONFIRM_COOLDOWN_SECONDS = env.int("NEWSLETTER_CONFIRM_COOLDOWN_SECONDS", default=600)
NEWSLETTER_SUBSCRIBE_LIMIT_PER_HOUR = env.int("NEWSLETTER_SUBSCRIBE_LIMIT_PER_HOUR", default=10)
NEWSLETTER_CHUNK_SIZE = env.int("NEWSLETTER_CHUNK_SIZE", default=500)
# A chunk claims, sends and marks this many at a time, so a killed worker strands at most this
# many email/Slack rows (docs/digest.md); the rest go out on the next run.
NEWSLETTER_CLAIM_BATCH_SIZE = env.int("NEWSLETTER_CLAIM_BATCH_SIZE", default=50)
NEWSLETTER_MAX_ITEMS = env.int("NEWSLETTER_MAX_ITEMS", default=10)
NEWSLETTER_CATALOGUE_LIMIT = env.int("NEWSLETTER_CATALOGUE_LIMIT", default=300)
# How long the digest remembers which stories it sent to whom (docs/digest.md): an update
# within that time (a summary version with an update line) goes again to those who had the
# story. Older records are pruned.
NEWSLETTER_SENT_STORY_DAYS = env.int("NEWSLETTER_SENT_STORY_DAYS", default=30)
NEWSLETTER_MAX_ATTEMPTS = env.int("NEWSLETTER_MAX_ATTEMPTS", default=5)
NEWSLETTER_RETRY_BASE_SECONDS = env.int("NEWSLETTER_RETRY_BASE_SECONDS", default=900)
# Longer than a chunk task's hard time limit: an older claim belongs to a dead worker.
NEWSLETTER_STALE_CLAIM_SECONDS = env.int("NEWSLETTER_STALE_CLAIM_SECONDS", default=900)
NEWSLETTER_HTTP_TIMEOUT_SECONDS = env.float("NEWSLETTER_HTTP_TIMEOUT_SECONDS", default=10.0)

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}

# --- Internationalisation ---------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security ---------------------------------------------------------------------------

from django.utils.csp import CSP  # noqa: E402

# Only our own origin: no third-party scripts, fonts, CDNs or trackers on any page.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto header.
if env.bool("BEHIND_PROXY", default=PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies sit in front of us; 0 means REMOTE_ADDR is the client.
# A spoofed X-Forwarded-For must not dodge rate limits, so only this many hops are trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# allauth's rate limits read the client IP through the same trusted hop count (issue #7).
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# --- Logging ----------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
