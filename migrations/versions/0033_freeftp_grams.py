"""freeftp: each name's letters and letter pairs, GIN-indexed (PostgreSQL), for searched words of one or two letters

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 04:05:00

pg_trgm has no trigram for a searched word of one or two letters ("x2",
"%"), so such a word could only filter the rows read in id order: with a
common longer word ("x2 webr": webrip in 5 % of a million names, both in
0.2 %) the search read half the table (64–285 ms). freeftp_grams(name) is
the set of the name's single characters and pairs of adjacent characters;
`freeftp_grams(search_name) @> ARRAY['x2']` holds exactly when the name
contains "x2", and the GIN index on it answers that like the trigram index
answers the longer words. SQLite's FTS table needs nothing new.
"""
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # Repeated letters and pairs are left in: GIN keeps each key of a row once. This shape costs ~40 µs a
    # name (an aggregate with DISTINCT cost 175 µs: 3 minutes more per million files indexed).
    op.execute("""
        CREATE FUNCTION freeftp_grams(name text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT string_to_array(name, NULL)
                   || ARRAY(SELECT substr(name, i, 2) FROM generate_series(1, length(name) - 1) AS i)
        $$""")
    # Named *_grams: the models leave it to the migrations like the *_trgm indexes (migrations/env.py).
    op.execute("CREATE INDEX ix_freeftp_file_grams ON freeftp_file USING gin (freeftp_grams(search_name))")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_freeftp_file_grams")
    op.execute("DROP FUNCTION IF EXISTS freeftp_grams(text)")
