"""The state database's schema: the numbered migrations that build and evolve it.

Entry ``n`` of :data:`MIGRATIONS` brings a database to ``PRAGMA user_version = n``;
:meth:`scened.daemon.state.StateDB.migrate` applies those a database has not had yet.
A change of schema is a new entry at the end, never an edit of an earlier one.
"""

from __future__ import annotations

#: Numbered migrations: entry ``n`` (1-based) brings the schema to ``user_version = n``.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE photos (
        path BLOB PRIMARY KEY,
        library TEXT NOT NULL,
        device INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT,
        model_id TEXT,
        policy TEXT,
        probabilities TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        outcome TEXT NOT NULL CHECK (outcome IN ('tagged', 'failed')),
        error TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX photos_library ON photos (library);
    CREATE INDEX photos_hash ON photos (content_hash);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        library TEXT NOT NULL,
        model_id TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        found INTEGER, unchanged INTEGER, tagged INTEGER, failed INTEGER,
        interrupted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_library ON runs (library, id);
    """,
    # 2: a digest of the pixels the model saw (a metadata-only edit is not re-classified)
    "ALTER TABLE photos ADD COLUMN pixel_digest TEXT",
    # 3: where each library's folder was (an unmounted share shows another device)
    """
    CREATE TABLE libraries (
        name TEXT PRIMARY KEY, device INTEGER NOT NULL, root_inode INTEGER NOT NULL
    )
    """,
    # 4: the user's corrections (labels) and each photo's compact model features
    """
    CREATE TABLE labels (
        path BLOB NOT NULL,
        library TEXT NOT NULL,
        class TEXT NOT NULL,
        positive INTEGER NOT NULL,
        origin TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (path, class)
    );
    CREATE INDEX labels_library ON labels (library);
    CREATE TABLE features (
        path BLOB PRIMARY KEY,
        model_id TEXT NOT NULL,
        probabilities BLOB NOT NULL,
        features BLOB NOT NULL
    )
    """,
    # 5: each photo's confidence (its largest probability), for the review page's order
    """
    ALTER TABLE photos ADD COLUMN confidence REAL;
    UPDATE photos SET confidence = CASE WHEN json_valid(probabilities)
        THEN (SELECT MAX(value) FROM json_each(probabilities)) END;
    CREATE INDEX photos_review ON photos (library, outcome, confidence, path)
    """,
    # 6: what a scan compares each file with (StateDB.known), read from an index alone:
    # a rescan no longer reads every row's probabilities and tags (about 1.6 kB a photo);
    # it serves every lookup by library that photos_library served
    """
    CREATE INDEX photos_scan
        ON photos (library, path, device, inode, size, mtime_ns, model_id, policy, outcome);
    DROP INDEX photos_library
    """,
)
