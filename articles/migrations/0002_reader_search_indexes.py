"""GIN indexes for reader search (articles/search.py), on PostgreSQL only.

Expression indexes over exactly the expressions the search query filters on, so the model
state is unchanged (makemigrations stays clean) and SQLite, which has no full-text search
here, simply skips this migration's SQL.
"""

from django.db import migrations

INDEXES = {
    "article_title_fts": (
        "articles_article",
        "to_tsvector('english'::regconfig, COALESCE(title, ''))",
    ),
    "summary_takeaway_fts": (
        "articles_summary",
        "to_tsvector('english'::regconfig, COALESCE(key_takeaway, ''))",
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}))")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
