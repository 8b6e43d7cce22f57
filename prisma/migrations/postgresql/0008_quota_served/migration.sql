-- AlterTable
ALTER TABLE "quota_counters" ADD COLUMN     "served_requests" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "served_volume" BIGINT NOT NULL DEFAULT 0;

