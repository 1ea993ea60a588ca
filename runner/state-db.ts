/**
 * The runner's small SQLite database (STATE_DB_PATH, default var/state.db), shared by every runner
 * process on the machine: budget reservations (runner/budget-store.ts) and machine-wide
 * concurrency slots (runner/concurrency.ts).
 *
 * Invariants (PITFALLS.md, better-sqlite3):
 * - WAL and a busy timeout, so readers never block and writers queue instead of failing;
 * - every read-modify-write runs in `db.transaction(fn).immediate()`: the write lock is taken at
 *   BEGIN, so two processes can never both read "1 left" and both write;
 * - UNIQUE keys make replays idempotent (a reservation is keyed by job, step and attempt).
 * WAL needs a local filesystem: keep the database off NFS.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type StateDb = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS budget_usage (
  job_id          TEXT    NOT NULL,
  step_id         TEXT    NOT NULL,
  attempt         INTEGER NOT NULL,
  day             TEXT    NOT NULL,
  agent           TEXT    NOT NULL,
  project         TEXT    NOT NULL,
  reserved_micros INTEGER NOT NULL,
  cost_micros     INTEGER,
  status          TEXT    NOT NULL CHECK (status IN ('reserved', 'settled')),
  over_budget     INTEGER NOT NULL DEFAULT 0,
  runner_id       TEXT    NOT NULL,
  reserved_at     TEXT    NOT NULL,
  settled_at      TEXT,
  UNIQUE (job_id, step_id, attempt)
);
CREATE INDEX IF NOT EXISTS budget_usage_day_agent ON budget_usage (day, agent);
CREATE INDEX IF NOT EXISTS budget_usage_day_project ON budget_usage (day, project);
CREATE TABLE IF NOT EXISTS slots (
  scope       TEXT    NOT NULL CHECK (scope IN ('agent', 'project')),
  key         TEXT    NOT NULL,
  job_id      TEXT    NOT NULL,
  runner_id   TEXT    NOT NULL,
  pid         INTEGER NOT NULL,
  host        TEXT    NOT NULL,
  acquired_at TEXT    NOT NULL,
  PRIMARY KEY (scope, key, job_id)
);
CREATE INDEX IF NOT EXISTS slots_job ON slots (job_id);
CREATE INDEX IF NOT EXISTS slots_runner ON slots (runner_id, pid);
`;

/** Open (creating if needed) the state database with the pragmas every connection needs. */
export function openStateDb(file: string, opts: { readonly?: boolean } = {}): StateDb {
  if (!opts.readonly) mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, opts.readonly ? { readonly: true, fileMustExist: true } : {});
  db.pragma('busy_timeout = 10000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.transaction(() => db.exec(SCHEMA)).immediate();
  }
  return db;
}
