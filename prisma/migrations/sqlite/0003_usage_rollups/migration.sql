-- CreateTable
CREATE TABLE "usage_hours" (
    "key_id" TEXT NOT NULL,
    "hour" INTEGER NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,
    "volume" BIGINT NOT NULL DEFAULT 0,

    PRIMARY KEY ("key_id", "hour"),
    CONSTRAINT "usage_hours_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);


-- Written by hand, not by `prisma migrate diff` (which knows nothing of data or triggers).
-- usage_hours is the sum of usage_minutes per hour, kept by triggers in the statement that
-- writes the minutes, whoever writes them (the flush, a strict-mode write, an import), so it
-- cannot drift. The flush's additive upsert fires the INSERT trigger for a new minute and the
-- UPDATE trigger with the difference for an existing one, so several instances add up exactly.
-- Minute rows are only ever deleted with their key, and the hours go with it (ON DELETE CASCADE).

-- Back-fill from the minutes already there (the migration holds the write lock).
INSERT INTO "usage_hours" ("key_id", "hour", "count", "volume")
SELECT "key_id", "minute" / 60, SUM("count"), SUM("volume") FROM "usage_minutes"
GROUP BY "key_id", "minute" / 60;

CREATE TRIGGER "usage_minutes_rollup_insert" AFTER INSERT ON "usage_minutes"
BEGIN
  INSERT INTO "usage_hours" ("key_id", "hour", "count", "volume")
  VALUES (NEW."key_id", NEW."minute" / 60, NEW."count", NEW."volume")
  ON CONFLICT ("key_id", "hour") DO UPDATE SET
    "count" = "usage_hours"."count" + excluded."count",
    "volume" = "usage_hours"."volume" + excluded."volume";
END;

CREATE TRIGGER "usage_minutes_rollup_update" AFTER UPDATE OF "count", "volume" ON "usage_minutes"
BEGIN
  UPDATE "usage_hours" SET
    "count" = "count" + (NEW."count" - OLD."count"),
    "volume" = "volume" + (NEW."volume" - OLD."volume")
  WHERE "key_id" = NEW."key_id" AND "hour" = NEW."minute" / 60;
END;

-- A minute row never moves to another key or minute; its hour would not follow it.
CREATE TRIGGER "usage_minutes_fixed_bucket" BEFORE UPDATE OF "key_id", "minute" ON "usage_minutes"
WHEN OLD."key_id" IS NOT NEW."key_id" OR OLD."minute" IS NOT NEW."minute"
BEGIN
  SELECT RAISE(ABORT, 'usage_minutes rows cannot change key or minute (usage_hours sums them)');
END;
