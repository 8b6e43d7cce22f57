-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN "expires_at" DATETIME;

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

-- CreateIndex
CREATE INDEX "audit_entries_account_id_seq_idx" ON "audit_entries"("account_id", "seq");


-- The audit log is append-only, whoever connects: no statement may change or remove an entry.
CREATE TRIGGER "audit_entries_no_update" BEFORE UPDATE ON "audit_entries"
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER "audit_entries_no_delete" BEFORE DELETE ON "audit_entries"
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
