"""The admin for articles: each subpackage registers its own models."""

from articles.desk import admin as desk_admin  # noqa: F401
from articles.ingest import admin as ingest_admin  # noqa: F401
from articles.summarizers import admin as summarizers_admin  # noqa: F401
