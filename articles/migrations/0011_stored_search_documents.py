"""Stored search documents for reader search (articles/reader/search.py), on PostgreSQL only.

A generated column keeps each title's and takeaway's weighted tsvector beside the text, so a
search matches and ranks on stored vectors instead of parsing every matching text twice per
query (matching, then ranking: ~8 ms of a broad query over 300 articles, ~2 ms stored). The
GIN indexes move from the expressions of 0002 to the columns. The columns are outside the model
state: Django never writes them (PostgreSQL computes them on every insert and update), and
SQLite, which has no full-text search here, skips this migration's SQL.

Adding a stored generated column rewrites the table once.
"""

from django.db import migrations

COLUMNS = {
    ("articles_article", "search_title"): (
        "setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')",
        "article_title_fts",
        "to_tsvector('english'::regconfig, COALESCE(title, ''))",
    ),
    ("articles_summary", "search_takeaway"): (
        "setweight(to_tsvector('english'::regconfig, COALESCE(key_takeaway, '')), 'B')",
        "summary_takeaway_fts",
        "to_tsvector('english'::regconfig, COALESCE(key_takeaway, ''))",
    ),
}


def store_documents(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for (table, column), (document, index, _) in COLUMNS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} tsvector GENERATED ALWAYS AS ({document}) STORED"
        )
        schema_editor.execute(f"CREATE INDEX {index} ON {table} USING gin ({column})")


def compute_documents(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for (table, column), (_, index, expression) in COLUMNS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")
        schema_editor.execute(f"CREATE INDEX {index} ON {table} USING gin (({expression}))")


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0010_story_embeddings"),
    ]

    operations = [
        migrations.RunPython(store_documents, compute_documents, elidable=False),
    ]
