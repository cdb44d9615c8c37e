-- Each case's summary, pre-rendered by the `cases` projector in the same transaction as the case's
-- other rows (Sources/Projections/Projectors/CaseDocument.swift), so that GET /v1/cases/{caseId}
-- is one primary-key lookup instead of a query over case_summary, case_parties, referrals,
-- deadlines and deadline_notices.
--
-- A deadline nothing has settled yet changes status with the time of the read alone (pending,
-- due-soon, overdue), so the document leaves those statuses out: `cuts` are the byte offsets in
-- `body` where each one goes, in ascending order, and `open_due`/`open_warn` hold the times
-- handoff.deadline_status compares `now` with, one per cut. The read fills them in.
--
-- Upgrading a store that already has cases: a case without a document is read from the tables as
-- before; the live projector renders every case's document on its first batch when any is
-- missing, and `handoff project rebuild cases` renders them all at once.

CREATE TABLE handoff.case_documents (
    case_id   text PRIMARY KEY,
    parties   text[] NOT NULL,
    body      text NOT NULL,
    cuts      int[] NOT NULL,
    open_due  timestamptz[] NOT NULL,
    open_warn timestamptz[] NOT NULL,
    CHECK (cardinality(open_due) = cardinality(cuts) AND cardinality(open_warn) = cardinality(cuts))
);

-- A document is a few kilobytes, over the size PostgreSQL compresses; its default compressor
-- (pglz) was the largest single cost of a rebuild's writes. lz4 is several times faster both
-- ways; a server built without it keeps pglz.
DO $$
BEGIN
    ALTER TABLE handoff.case_documents ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: case documents are compressed with pglz';
END
$$;

REVOKE ALL ON handoff.case_documents FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.case_documents TO handoff_app;
GRANT SELECT ON handoff.case_documents TO handoff_auditor;

-- A rebuild may shadow it like the other read models.
CREATE OR REPLACE FUNCTION handoff.require_read_model_table(p_table text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_table NOT IN ('case_summary', 'case_parties', 'referrals', 'deadlines', 'deadline_notices',
                       'case_documents', 'institutions', 'sop_rulesets') THEN
        RAISE EXCEPTION 'not a read-model table' USING ERRCODE = 'HF020';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION handoff.swap_in_shadow(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_shadow text := p_table || '_shadow';
BEGIN
    PERFORM handoff.require_read_model_table(p_table);
    EXECUTE format('DROP TABLE handoff.%I', p_table);
    EXECUTE format('ALTER TABLE handoff.%I RENAME TO %I', v_shadow, p_table);
    FOR r IN
        SELECT i.relname FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid
          JOIN pg_class t ON t.oid = x.indrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'handoff' AND t.relname = p_table AND left(i.relname, length(v_shadow)) = v_shadow
    LOOP
        EXECUTE format('ALTER INDEX handoff.%I RENAME TO %I', r.relname,
                       p_table || substr(r.relname, length(v_shadow) + 1));
    END LOOP;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.%I TO handoff_app', p_table);
    EXECUTE format('GRANT SELECT ON handoff.%I TO handoff_auditor', p_table);
END
$$;
