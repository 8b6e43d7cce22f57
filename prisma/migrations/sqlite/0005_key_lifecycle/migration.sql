-- CreateTable
CREATE TABLE "audit_entries" (
    "seq" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "account_id" TEXT NOT NULL,
    "actor_type" TEXT NOT NULL,
    "actor_id" TEXT,
    "action" TEXT NOT NULL,
    "key_id" TEXT,
    "key_name" TEXT,
    "changes" TEXT,
    "ip" TEXT,
    "user_agent" TEXT,
    "request_id" TEXT
);

-- AlterTable, by hand: Prisma would rebuild api_keys, and inside the migration's transaction
-- (where PRAGMA foreign_keys cannot be switched off) dropping the old table would cascade to
-- every usage row. SQLite adds these columns in place; the unique name is an index of its own.
ALTER TABLE "api_keys" ADD COLUMN "expires_at" DATETIME;
ALTER TABLE "api_keys" ADD COLUMN "superseded_by" TEXT NOT NULL DEFAULT '';
ALTER TABLE "api_keys" ADD COLUMN "lineage_id" TEXT;
DROP INDEX "api_keys_account_id_name_key";
CREATE UNIQUE INDEX "api_keys_account_id_name_superseded_by_key" ON "api_keys"("account_id", "name", "superseded_by");
CREATE INDEX "api_keys_lineage_id_idx" ON "api_keys"("lineage_id");

-- CreateIndex
CREATE INDEX "audit_entries_account_id_seq_idx" ON "audit_entries"("account_id", "seq");


-- The audit log is append-only: no UPDATE or DELETE of an entry succeeds, from any client (the
-- table owner could drop these triggers; a database role without that right cannot).
CREATE TRIGGER "audit_entries_no_update" BEFORE UPDATE ON "audit_entries"
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER "audit_entries_no_delete" BEFORE DELETE ON "audit_entries"
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
