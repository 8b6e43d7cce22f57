-- AlterTable (edited by hand: the new columns are the table's last, so SQLite adds them in
-- place instead of copying the table)
ALTER TABLE "quota_counters" ADD COLUMN "served_requests" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "quota_counters" ADD COLUMN "served_volume" BIGINT NOT NULL DEFAULT 0;
