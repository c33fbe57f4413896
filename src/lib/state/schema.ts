/**
 * The PostgreSQL state store's schema, created and migrated by keepctl itself: MIGRATIONS[i]
 * takes the schema from version i to i + 1. The version lives in keepctl_schema; a database a
 * newer keepctl migrated is refused (this one would not know what its rows mean).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the lease rows (one per account + chain) and the shared journal.
  `CREATE TABLE keepctl_lease (
     name text PRIMARY KEY,
     holder text NOT NULL,
     epoch bigint NOT NULL,
     expires_at timestamptz NOT NULL,
     acquired_at timestamptz NOT NULL,
     host text NOT NULL,
     pid integer NOT NULL
   );
   CREATE TABLE keepctl_journal (
     id bigserial PRIMARY KEY,
     scope text NOT NULL,
     epoch bigint NOT NULL,
     line text NOT NULL,
     written_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX keepctl_journal_scope ON keepctl_journal (scope, id);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export type SchemaVerdict =
  | { kind: "current" }
  /** Run MIGRATIONS[from .. to-1]. from 0: a fresh database. */
  | { kind: "migrate"; from: number; to: number }
  /** A newer keepctl wrote this schema: refuse. */
  | { kind: "newer"; found: number; ours: number };

/** `found`: the version in the database (0 when keepctl_schema does not exist yet). */
export function judgeSchema(found: number, ours: number = SCHEMA_VERSION): SchemaVerdict {
  if (found > ours) return { kind: "newer", found, ours };
  if (found < ours) return { kind: "migrate", from: found, to: ours };
  return { kind: "current" };
}

/** The oldest server major version whose SQL this schema uses (ON CONFLICT, FOR SHARE, bigserial). */
export const MIN_SERVER_MAJOR = 12;
