"""SQLite-backed state of the admin API; every method is one transaction, so a kill -9 loses nothing."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ApiError
from .routing import resolve_weights
from .seed import Seed
from .timeutil import iso

SCHEMA_VERSION = 1
DB_NAME = "sandbox.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flags (
    name TEXT PRIMARY KEY, position INTEGER NOT NULL, enabled INTEGER NOT NULL, description TEXT NOT NULL,
    updated_at REAL, updated_by TEXT
);
CREATE TABLE IF NOT EXISTS deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
    from_release TEXT, to_release TEXT NOT NULL, status TEXT NOT NULL,
    started_at REAL NOT NULL, finished_at REAL, finishes_at REAL, outcome TEXT,
    rollback_id TEXT, idempotency_key TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    query TEXT, rollback_id TEXT, idempotency_key TEXT, status INTEGER NOT NULL, body TEXT, result TEXT
);
"""


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


class Store:
    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / DB_NAME
        self._clock = clock
        # One connection shared by the threadpool; the RLock serialises every transaction.
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def now(self) -> float:
        return self._clock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # meta helpers

    @staticmethod
    def _get(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    @staticmethod
    def _put(conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # seeding

    def is_seeded(self) -> bool:
        with self._tx() as conn:
            return self._get(conn, "seeded_at") is not None

    def seed_if_empty(self, seed: Seed) -> bool:
        with self._tx() as conn:
            if self._get(conn, "seeded_at") is not None:
                return False
            self._apply_seed(conn, seed)
            return True

    def reset(self, seed: Seed) -> None:
        with self._tx() as conn:
            # Change seqs keep growing across resets so that pollers using ?since=N never miss entries.
            for table in ("meta", "flags", "deployments", "changes"):
                conn.execute(f"DELETE FROM {table}")
            self._apply_seed(conn, seed)

    def _apply_seed(self, conn: sqlite3.Connection, seed: Seed) -> None:
        now = self.now()
        for position, (name, flag) in enumerate(seed.flags.items()):
            conn.execute(
                "INSERT INTO flags (name, position, enabled, description, updated_at, updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, position, int(flag.enabled), flag.description, now, "seed"),
            )
        weights = seed.routing.resolved_weights()
        desired = {"mode": seed.routing.mode, "weights": weights}
        self._put(
            conn,
            "routing",
            {
                "desired": desired,
                "effective_before": desired,
                "converges_at": now,
                "updated_at": now,
                "updated_by": "seed",
                "hybrid_weights": weights if seed.routing.mode == "hybrid" else {"direct": 50, "mcp": 50},
            },
        )
        self._put(conn, "releases", {"available": seed.releases.available, "current": seed.releases.current})
        for entry in seed.releases.history:
            conn.execute(
                "INSERT INTO deployments (id, action, from_release, to_release, status, started_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _new_id("d"),
                    entry.action,
                    entry.from_,
                    entry.to,
                    entry.status,
                    entry.started_at.timestamp(),
                    entry.finished_at.timestamp() if entry.finished_at else entry.started_at.timestamp(),
                ),
            )
        self._put(conn, "lock", None)
        self._put(conn, "rollback_snapshot", None)
        self._put(conn, "last_rollback_action_at", None)
        self._put(conn, "schema_version", SCHEMA_VERSION)
        self._put(conn, "seeded_at", now)

    # feature flags

    @staticmethod
    def _flag_doc(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "enabled": bool(row["enabled"]),
            "description": row["description"],
            "updated_at": iso(row["updated_at"]),
            "updated_by": row["updated_by"],
        }

    def _flags(self, conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
        rows = conn.execute("SELECT * FROM flags ORDER BY position, name").fetchall()
        return {row["name"]: self._flag_doc(row) for row in rows}

    def flags(self) -> dict[str, dict[str, Any]]:
        with self._tx() as conn:
            return self._flags(conn)

    def patch_flags(self, updates: dict[str, bool], by: str | None) -> dict[str, dict[str, Any]]:
        with self._tx() as conn:
            known = {row["name"] for row in conn.execute("SELECT name FROM flags")}
            unknown = sorted(set(updates) - known)
            if unknown:
                raise ApiError(
                    422,
                    "unknown_flags",
                    f"unknown feature flags: {', '.join(unknown)}; nothing changed",
                    unknown=unknown,
                )
            now = self.now()
            for name, enabled in updates.items():
                conn.execute(
                    "UPDATE flags SET enabled = ?, updated_at = ?, updated_by = ? WHERE name = ?",
                    (int(enabled), now, by, name),
                )
            self._put(conn, "last_rollback_action_at", now)
            return self._flags(conn)

    def set_flag(self, name: str, enabled: bool, by: str | None) -> dict[str, Any]:
        with self._tx() as conn:
            now = self.now()
            cursor = conn.execute(
                "UPDATE flags SET enabled = ?, updated_at = ?, updated_by = ? WHERE name = ?",
                (int(enabled), now, by, name),
            )
            if cursor.rowcount == 0:
                raise ApiError(404, "unknown_flag", f"no feature flag named {name!r}")
            self._put(conn, "last_rollback_action_at", now)
            row = conn.execute("SELECT * FROM flags WHERE name = ?", (name,)).fetchone()
            return {"name": name, **self._flag_doc(row)}

    # routing

    def _routing(self, conn: sqlite3.Connection) -> dict[str, Any]:
        state = self._get(conn, "routing")
        effective = state["desired"] if self.now() >= state["converges_at"] else state["effective_before"]
        return {
            **state["desired"],
            "effective": effective,
            "updated_at": iso(state["updated_at"]),
            "updated_by": state["updated_by"],
        }

    def routing(self) -> dict[str, Any]:
        with self._tx() as conn:
            return self._routing(conn)

    def set_routing(
        self, mode: str, weights: dict[str, int] | None, by: str | None, converge_seconds: float
    ) -> dict[str, Any]:
        with self._tx() as conn:
            state = self._get(conn, "routing")
            resolved = resolve_weights(mode, weights, state["hybrid_weights"])
            now = self.now()
            effective_now = self._routing(conn)["effective"]
            state.update(
                {
                    "desired": {"mode": mode, "weights": resolved},
                    "effective_before": effective_now,
                    "converges_at": now + converge_seconds,
                    "updated_at": now,
                    "updated_by": by,
                }
            )
            if mode == "hybrid":
                state["hybrid_weights"] = resolved
            self._put(conn, "routing", state)
            self._put(conn, "last_rollback_action_at", now)
            return self._routing(conn)

    # releases and deployments

    @staticmethod
    def _deployment_doc(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "action": row["action"],
            "status": row["status"],
            "from": row["from_release"],
            "to": row["to_release"],
            "started_at": iso(row["started_at"]),
            "finished_at": iso(row["finished_at"]),
            "rollback_id": row["rollback_id"],
            "idempotency_key": row["idempotency_key"],
        }

    def _settle(self, conn: sqlite3.Connection) -> None:
        """Finish deployments whose time is up; persisted so the outcome survives restarts."""
        rows = conn.execute(
            "SELECT * FROM deployments WHERE status = 'in_progress' AND finishes_at <= ?", (self.now(),)
        ).fetchall()
        for row in rows:
            conn.execute(
                "UPDATE deployments SET status = ?, finished_at = ? WHERE id = ?",
                (row["outcome"], row["finishes_at"], row["id"]),
            )
            if row["outcome"] == "succeeded":
                releases = self._get(conn, "releases")
                releases["current"] = row["to_release"]
                self._put(conn, "releases", releases)

    @staticmethod
    def _previous(releases: dict[str, Any]) -> str | None:
        index = releases["available"].index(releases["current"])
        return releases["available"][index - 1] if index > 0 else None

    def _in_progress(self, conn: sqlite3.Connection) -> dict[str, Any] | None:
        row = conn.execute("SELECT * FROM deployments WHERE status = 'in_progress' ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else self._deployment_doc(row)

    def releases(self) -> dict[str, Any]:
        with self._tx() as conn:
            self._settle(conn)
            releases = self._get(conn, "releases")
            history = []
            for row in conn.execute("SELECT * FROM deployments WHERE status != 'in_progress' ORDER BY seq"):
                doc = self._deployment_doc(row)
                history.append({"deployment_id": doc.pop("id"), **doc})
            return {
                "current": releases["current"],
                "previous": self._previous(releases),
                "available": releases["available"],
                "deployment": self._in_progress(conn),
                "history": history,
            }

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            self._settle(conn)
            row = conn.execute("SELECT * FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
            if row is None:
                raise ApiError(404, "unknown_deployment", f"no deployment with id {deployment_id!r}")
            return self._deployment_doc(row)

    def rollback(
        self,
        target: str | None,
        idempotency_key: str | None,
        rollback_id: str | None,
        deploy_seconds: float,
        deploy_fail: bool,
    ) -> tuple[dict[str, Any], bool]:
        """Start a rollback deployment; returns (deployment, created). created is False for a replayed key."""
        with self._tx() as conn:
            self._settle(conn)
            if idempotency_key is not None:
                row = conn.execute("SELECT * FROM deployments WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
                if row is not None:
                    return self._deployment_doc(row), False
            releases = self._get(conn, "releases")
            if target is None:
                target = self._previous(releases)
                if target is None:
                    raise ApiError(
                        409,
                        "no_previous_release",
                        f"current release {releases['current']} is the oldest; nothing to roll back to",
                    )
            elif target not in releases["available"]:
                raise ApiError(404, "unknown_release", f"no release named {target!r}")
            if target == releases["current"]:
                raise ApiError(409, "already_current", f"release {target} is already current")
            running = self._in_progress(conn)
            if running is not None:
                raise ApiError(
                    409,
                    "deployment_in_progress",
                    f"deployment {running['id']} is still in progress",
                    deployment=running,
                )
            now = self.now()
            deployment_id = _new_id("d")
            conn.execute(
                "INSERT INTO deployments (id, action, from_release, to_release, status, started_at, finishes_at,"
                " outcome, rollback_id, idempotency_key) VALUES (?, 'rollback', ?, ?, 'in_progress', ?, ?, ?, ?, ?)",
                (
                    deployment_id,
                    releases["current"],
                    target,
                    now,
                    now + deploy_seconds,
                    "failed" if deploy_fail else "succeeded",
                    rollback_id,
                    idempotency_key,
                ),
            )
            self._put(conn, "last_rollback_action_at", now)
            row = conn.execute("SELECT * FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
            return self._deployment_doc(row), True

    # rollback lock

    @staticmethod
    def _lease_doc(lease: dict[str, Any]) -> dict[str, Any]:
        return {
            "holder": lease["holder"],
            "reason": lease["reason"],
            "rollback_id": lease["rollback_id"],
            "controller": lease.get("controller"),
            "pid": lease.get("pid"),
            "acquired_at": iso(lease["acquired_at"]),
            "expires_at": iso(lease["expires_at"]),
            "ttl_seconds": lease["ttl_seconds"],
        }

    def _active_lease(self, conn: sqlite3.Connection) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Return (active lease, expired lease); at most one is not None."""
        lease = self._get(conn, "lock")
        if lease is None:
            return None, None
        if self.now() >= lease["expires_at"]:
            return None, lease
        return lease, None

    def lock(self) -> dict[str, Any]:
        with self._tx() as conn:
            active, expired = self._active_lease(conn)
            if active is not None:
                return {"held": True, **self._lease_doc(active)}
            if expired is not None:
                return {"held": False, "expired": self._lease_doc(expired)}
            return {"held": False}

    def acquire_lock(
        self, holder: str, reason: str, ttl_seconds: float, takeover: bool, rollback_id: str | None,
        controller: str | None = None, pid: int | None = None, replaces: str | None = None,
    ) -> tuple[dict[str, Any], int]:
        """Returns (body, status): 201 new lease, 200 renewal by the same run.

        The decision is taken inside one transaction, so two runs that both saw the lease free cannot both get it:
        a lease of the same holder but another run (another rollback id) is a conflict like anyone else's, and a
        takeover names the run it replaces (`replaces`), so two runs taking over one stale lease cannot both win.
        """
        with self._tx() as conn:
            active, expired = self._active_lease(conn)
            now = self.now()
            new = {
                "holder": holder,
                "reason": reason,
                "rollback_id": rollback_id,
                "controller": controller,
                "pid": pid,
                "acquired_at": now,
                "expires_at": now + ttl_seconds,
                "ttl_seconds": ttl_seconds,
            }
            # A lease without a rollback id, or a request without one, cannot tell runs apart: the holder renews.
            same_run = not active or not active.get("rollback_id") or not rollback_id or (
                active["rollback_id"] == rollback_id)
            if active is not None and active["holder"] == holder and same_run:
                new["acquired_at"] = active["acquired_at"]
                self._put(conn, "lock", new)
                return {"lock": self._lease_doc(new), "previous": self._lease_doc(active)}, 200
            if active is not None and not takeover:
                other_run = f" for another run (rollback {active['rollback_id']})" if active["holder"] == holder else ""
                raise ApiError(409, "lock_held", f"rollback lock is held by {active['holder']}{other_run}",
                               lock=self._lease_doc(active))
            if active is not None and replaces is not None and active.get("rollback_id") != replaces:
                raise ApiError(409, "lock_held", f"rollback lock changed hands: it is now held by {active['holder']} "
                               f"(rollback {active.get('rollback_id')}), not rollback {replaces}",
                               lock=self._lease_doc(active))
            self._put(conn, "lock", new)
            previous = active or expired
            body: dict[str, Any] = {
                "lock": self._lease_doc(new),
                "previous": self._lease_doc(previous) if previous else None,
            }
            if active is not None:
                body["taken_over"] = True
            return body, 201

    def release_lock(self, holder: str) -> bool:
        with self._tx() as conn:
            active, _expired = self._active_lease(conn)
            if active is None:
                return False
            if active["holder"] != holder:
                raise ApiError(
                    409,
                    "lock_held",
                    f"rollback lock is held by {active['holder']}, not {holder}",
                    lock=self._lease_doc(active),
                )
            self._put(conn, "lock", None)
            return True

    # rollback snapshot (not a rollback action: it never touches last_rollback_action_at)

    @staticmethod
    def _snapshot_doc(stored: dict[str, Any]) -> dict[str, Any]:
        return {"snapshot": stored["snapshot"], "stored_at": iso(stored["stored_at"]), "stored_by": stored["stored_by"]}

    def rollback_snapshot(self) -> dict[str, Any] | None:
        with self._tx() as conn:
            stored = self._get(conn, "rollback_snapshot")
            return None if stored is None else self._snapshot_doc(stored)

    def put_rollback_snapshot(
        self, snapshot: dict[str, Any], by: str | None, create_only: bool
    ) -> tuple[dict[str, Any], int]:
        """Returns (document, status): 201 created, 200 replaced. create_only and one exists: 412, unchanged."""
        with self._tx() as conn:
            existing = self._get(conn, "rollback_snapshot")
            if existing is not None and create_only:
                raise ApiError(
                    412,
                    "snapshot_exists",
                    f"a rollback snapshot was stored at {iso(existing['stored_at'])}"
                    f" by {existing['stored_by'] or 'an unnamed rollback'}; nothing changed",
                    snapshot=self._snapshot_doc(existing),
                )
            stored = {"snapshot": snapshot, "stored_at": self.now(), "stored_by": by}
            self._put(conn, "rollback_snapshot", stored)
            return self._snapshot_doc(stored), 201 if existing is None else 200

    def delete_rollback_snapshot(self) -> dict[str, Any] | None:
        """Remove the snapshot; returns what was stored, or None if there was none."""
        with self._tx() as conn:
            existing = self._get(conn, "rollback_snapshot")
            if existing is None:
                return None
            self._put(conn, "rollback_snapshot", None)
            return self._snapshot_doc(existing)

    # model-call traffic (a read: no change log, no rollback action)

    def traffic_state(self) -> dict[str, Any]:
        """What a model call is routed by: the flags, the effective routing and the current release."""
        with self._tx() as conn:
            self._settle(conn)
            return {
                "flags": {name: flag["enabled"] for name, flag in self._flags(conn).items()},
                "effective": self._routing(conn)["effective"],
                "release": self._get(conn, "releases")["current"],
            }

    # health inputs

    def health_snapshot(self) -> dict[str, Any]:
        with self._tx() as conn:
            self._settle(conn)
            last = conn.execute("SELECT * FROM deployments ORDER BY seq DESC LIMIT 1").fetchone()
            return {
                "flags": self._flags(conn),
                "routing": self._routing(conn),
                "current": self._get(conn, "releases")["current"],
                "last_deployment": None if last is None else self._deployment_doc(last),
                "last_rollback_action_at": self._get(conn, "last_rollback_action_at"),
            }

    # change log

    def append_change(
        self,
        method: str,
        path: str,
        query: str | None,
        rollback_id: str | None,
        idempotency_key: str | None,
        status: int,
        body: Any,
        result: dict[str, Any] | None,
    ) -> int:
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO changes (at, method, path, query, rollback_id, idempotency_key, status, body, result)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.now(),
                    method,
                    path,
                    query,
                    rollback_id,
                    idempotency_key,
                    status,
                    json.dumps(body),
                    json.dumps(result) if result is not None else None,
                ),
            )
            return int(cursor.lastrowid)

    def changes(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Entries with seq > since, and the highest seq ever assigned (0 if none)."""
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM changes WHERE seq > ? ORDER BY seq", (since,)).fetchall()
            entries = [
                {
                    "seq": row["seq"],
                    "at": iso(row["at"]),
                    "method": row["method"],
                    "path": row["path"],
                    "query": row["query"],
                    "rollback_id": row["rollback_id"],
                    "idempotency_key": row["idempotency_key"],
                    "status": row["status"],
                    "body": json.loads(row["body"]) if row["body"] is not None else None,
                    "result": json.loads(row["result"]) if row["result"] is not None else None,
                }
                for row in rows
            ]
            seq_row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
            return entries, seq_row["seq"] if seq_row else 0
