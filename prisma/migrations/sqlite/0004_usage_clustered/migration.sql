-- Written by hand, not by `prisma migrate diff` (Prisma's datamodel has no WITHOUT ROWID).
-- The usage tables become WITHOUT ROWID: their rows are stored in primary-key order,
-- (key_id, minute) and (key_id, hour), instead of in the order they were written with a
-- separate index on the key. A flush writes one row for every key used in a minute, so a key's
-- rows were spread over as many pages as there were active keys, and reading a key's range
-- looked every row up through the index. Measured on 129,601 minutes of one key written next
-- to 20 other keys per minute: reading its 90 days took 201 ms, clustered 45 ms, and the file
-- was half the size (docs/benchmarks.md, item 2).
-- Copying takes time on a large database; the migration holds the write lock meanwhile.

DROP TRIGGER "usage_minutes_rollup_insert";
DROP TRIGGER "usage_minutes_rollup_update";
DROP TRIGGER "usage_minutes_fixed_bucket";

CREATE TABLE "usage_minutes_clustered" (
    "key_id" TEXT NOT NULL,
    "minute" INTEGER NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,
    "volume" BIGINT NOT NULL DEFAULT 0,

    PRIMARY KEY ("key_id", "minute"),
    CONSTRAINT "usage_minutes_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys" ("id") ON DELETE CASCADE ON UPDATE CASCADE
) WITHOUT ROWID;
INSERT INTO "usage_minutes_clustered" ("key_id", "minute", "count", "volume")
SELECT "key_id", "minute", "count", "volume" FROM "usage_minutes" ORDER BY "key_id", "minute";
DROP TABLE "usage_minutes";
ALTER TABLE "usage_minutes_clustered" RENAME TO "usage_minutes";

CREATE TABLE "usage_hours_clustered" (
    "key_id" TEXT NOT NULL,
    "hour" INTEGER NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,
    "volume" BIGINT NOT NULL DEFAULT 0,

    PRIMARY KEY ("key_id", "hour"),
    CONSTRAINT "usage_hours_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys" ("id") ON DELETE CASCADE ON UPDATE CASCADE
) WITHOUT ROWID;
INSERT INTO "usage_hours_clustered" ("key_id", "hour", "count", "volume")
SELECT "key_id", "hour", "count", "volume" FROM "usage_hours" ORDER BY "key_id", "hour";
DROP TABLE "usage_hours";
ALTER TABLE "usage_hours_clustered" RENAME TO "usage_hours";

-- The triggers of 0003_usage_rollups, unchanged.
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

CREATE TRIGGER "usage_minutes_fixed_bucket" BEFORE UPDATE OF "key_id", "minute" ON "usage_minutes"
WHEN OLD."key_id" IS NOT NEW."key_id" OR OLD."minute" IS NOT NEW."minute"
BEGIN
  SELECT RAISE(ABORT, 'usage_minutes rows cannot change key or minute (usage_hours sums them)');
END;
