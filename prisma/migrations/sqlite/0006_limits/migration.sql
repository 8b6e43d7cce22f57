-- AlterTable
ALTER TABLE "accounts" ADD COLUMN "quota_period" TEXT;
ALTER TABLE "accounts" ADD COLUMN "quota_requests" BIGINT;
ALTER TABLE "accounts" ADD COLUMN "quota_volume" BIGINT;
ALTER TABLE "accounts" ADD COLUMN "rate_limit" INTEGER;
ALTER TABLE "accounts" ADD COLUMN "rate_window_seconds" INTEGER;

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN "quota_period" TEXT;
ALTER TABLE "api_keys" ADD COLUMN "quota_requests" BIGINT;
ALTER TABLE "api_keys" ADD COLUMN "quota_volume" BIGINT;
ALTER TABLE "api_keys" ADD COLUMN "rate_limit" INTEGER;
ALTER TABLE "api_keys" ADD COLUMN "rate_window_seconds" INTEGER;

-- CreateTable
CREATE TABLE "quota_counters" (
    "key_id" TEXT NOT NULL,
    "period_start" BIGINT NOT NULL,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "volume" BIGINT NOT NULL DEFAULT 0,
    "last_requests_grant" BIGINT NOT NULL DEFAULT 0,
    "last_volume_grant" BIGINT NOT NULL DEFAULT 0,

    PRIMARY KEY ("key_id", "period_start"),
    CONSTRAINT "quota_counters_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "refused_minutes" (
    "key_id" TEXT NOT NULL,
    "minute" INTEGER NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,

    PRIMARY KEY ("key_id", "minute"),
    CONSTRAINT "refused_minutes_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

