-- DropIndex
DROP INDEX "api_keys_account_id_name_key";

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "expires_at" TIMESTAMP(3),
ADD COLUMN     "lineage_id" TEXT,
ADD COLUMN     "superseded_by" TEXT NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "audit_entries" (
    "seq" SERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "account_id" TEXT NOT NULL,
    "actor_type" TEXT NOT NULL,
    "actor_id" TEXT,
    "action" TEXT NOT NULL,
    "key_id" TEXT,
    "key_name" TEXT,
    "changes" TEXT,
    "ip" TEXT,
    "user_agent" TEXT,
    "request_id" TEXT,

    CONSTRAINT "audit_entries_pkey" PRIMARY KEY ("seq")
);

-- CreateIndex
CREATE INDEX "audit_entries_account_id_seq_idx" ON "audit_entries"("account_id", "seq");

-- CreateIndex
CREATE INDEX "api_keys_lineage_id_idx" ON "api_keys"("lineage_id");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_account_id_name_superseded_by_key" ON "api_keys"("account_id", "name", "superseded_by");


-- The audit log is append-only: no UPDATE or DELETE of an entry succeeds, from any client (the
-- table owner could drop these triggers; a database role without that right cannot).
CREATE FUNCTION "audit_entries_append_only"() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER "audit_entries_no_change" BEFORE UPDATE OR DELETE ON "audit_entries"
    FOR EACH ROW EXECUTE FUNCTION "audit_entries_append_only"();

CREATE TRIGGER "audit_entries_no_truncate" BEFORE TRUNCATE ON "audit_entries"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_entries_append_only"();
