-- CreateTable
CREATE TABLE "usage_hours" (
    "key_id" TEXT NOT NULL,
    "hour" INTEGER NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,
    "volume" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "usage_hours_pkey" PRIMARY KEY ("key_id","hour")
);

-- AddForeignKey
ALTER TABLE "usage_hours" ADD CONSTRAINT "usage_hours_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Written by hand, not by `prisma migrate diff` (which knows nothing of data or triggers).
-- usage_hours is the sum of usage_minutes per hour, kept by triggers in the statement that
-- writes the minutes, whoever writes them (the flush, a strict-mode write, an import), so it
-- cannot drift. Statement-level triggers over transition tables: one grouped upsert per
-- statement, in key order like the flush (concurrent flushes lock rows in the same order). The
-- flush's additive upsert fires the INSERT trigger for new minutes and the UPDATE trigger for
-- existing ones, so several instances add up exactly. Minute rows are only ever deleted with
-- their key, and the hours go with it (ON DELETE CASCADE).

-- Writers wait from here to the commit, so that no minute written meanwhile escapes both the
-- back-fill and the triggers (instances of the previous version may be flushing).
LOCK TABLE "usage_minutes" IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO "usage_hours" ("key_id", "hour", "count", "volume")
SELECT "key_id", "minute" / 60, CAST(SUM("count") AS BIGINT), CAST(SUM("volume") AS BIGINT)
FROM "usage_minutes" GROUP BY 1, 2;

CREATE FUNCTION "usage_hours_add"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "usage_hours" AS h ("key_id", "hour", "count", "volume")
  SELECT "key_id", "minute" / 60, SUM("count"), SUM("volume")
  FROM "new_minutes" GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT ("key_id", "hour") DO UPDATE SET
    "count" = h."count" + excluded."count", "volume" = h."volume" + excluded."volume";
  RETURN NULL;
END $$;

CREATE FUNCTION "usage_hours_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "usage_hours" AS h SET "count" = h."count" + d.c, "volume" = h."volume" + d.v
  FROM (
    SELECT n."key_id", n."minute" / 60 AS hour, SUM(n."count" - o."count") AS c,
           SUM(n."volume" - o."volume") AS v
    FROM "new_minutes" n JOIN "old_minutes" o USING ("key_id", "minute")
    GROUP BY 1, 2 ORDER BY 1, 2
  ) AS d
  WHERE h."key_id" = d."key_id" AND h."hour" = d.hour;
  RETURN NULL;
END $$;

CREATE FUNCTION "usage_minutes_fixed_bucket"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'usage_minutes rows cannot change key or minute (usage_hours sums them)';
END $$;

CREATE TRIGGER "usage_minutes_rollup_insert" AFTER INSERT ON "usage_minutes"
REFERENCING NEW TABLE AS "new_minutes"
FOR EACH STATEMENT EXECUTE FUNCTION "usage_hours_add"();

CREATE TRIGGER "usage_minutes_rollup_update" AFTER UPDATE ON "usage_minutes"
REFERENCING OLD TABLE AS "old_minutes" NEW TABLE AS "new_minutes"
FOR EACH STATEMENT EXECUTE FUNCTION "usage_hours_change"();

-- A minute row never moves to another key or minute; its hour would not follow it.
CREATE TRIGGER "usage_minutes_fixed_bucket" BEFORE UPDATE OF "key_id", "minute" ON "usage_minutes"
FOR EACH ROW WHEN (OLD."key_id" IS DISTINCT FROM NEW."key_id" OR OLD."minute" IS DISTINCT FROM NEW."minute")
EXECUTE FUNCTION "usage_minutes_fixed_bucket"();
