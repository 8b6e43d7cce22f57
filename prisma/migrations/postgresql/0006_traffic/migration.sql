-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "usage_volume_out" BIGINT NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "traffic_minutes" (
    "key_id" TEXT NOT NULL,
    "minute" INTEGER NOT NULL,
    "volume_out" BIGINT NOT NULL DEFAULT 0,
    "responses" BIGINT NOT NULL DEFAULT 0,
    "status_2xx" BIGINT NOT NULL DEFAULT 0,
    "status_3xx" BIGINT NOT NULL DEFAULT 0,
    "status_4xx" BIGINT NOT NULL DEFAULT 0,
    "status_5xx" BIGINT NOT NULL DEFAULT 0,
    "latency_us_sum" BIGINT NOT NULL DEFAULT 0,
    "latency_us_max" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "traffic_minutes_pkey" PRIMARY KEY ("key_id","minute")
);

-- AddForeignKey
ALTER TABLE "traffic_minutes" ADD CONSTRAINT "traffic_minutes_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;

