-- AlterTable
ALTER TABLE "accounts" ADD COLUMN     "quota_period" TEXT,
ADD COLUMN     "quota_requests" BIGINT,
ADD COLUMN     "quota_volume" BIGINT,
ADD COLUMN     "rate_limit" INTEGER,
ADD COLUMN     "rate_window_seconds" INTEGER;

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "quota_period" TEXT,
ADD COLUMN     "quota_requests" BIGINT,
ADD COLUMN     "quota_volume" BIGINT,
ADD COLUMN     "rate_limit" INTEGER,
ADD COLUMN     "rate_window_seconds" INTEGER;

-- CreateTable
CREATE TABLE "quota_counters" (
    "key_id" TEXT NOT NULL,
    "period_start" BIGINT NOT NULL,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "volume" BIGINT NOT NULL DEFAULT 0,
    "last_requests_grant" BIGINT NOT NULL DEFAULT 0,
    "last_volume_grant" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "quota_counters_pkey" PRIMARY KEY ("key_id","period_start")
);

-- CreateTable
CREATE TABLE "refused_minutes" (
    "key_id" TEXT NOT NULL,
    "minute" INTEGER NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "refused_minutes_pkey" PRIMARY KEY ("key_id","minute")
);

-- AddForeignKey
ALTER TABLE "quota_counters" ADD CONSTRAINT "quota_counters_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "refused_minutes" ADD CONSTRAINT "refused_minutes_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;

