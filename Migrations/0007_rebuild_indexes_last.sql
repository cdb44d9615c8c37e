-- A rebuild fills its shadow tables with only their primary keys and unique constraints in place
-- (the replay's upserts need those), and builds the other indexes once the bulk of the log is in:
-- one sorted build per index instead of a B-tree insert per row per index, which the profile of
-- `handoff bench rebuild` showed as a large part of the server's work.
--
-- Index and constraint names are kept exactly: the shadow's copy of `deadlines_page` is
-- `deadlines_shadow_page`, which `swap_in_shadow` renames back to `deadlines_page`. (Before this
-- migration a rebuild let PostgreSQL name the copies, so a rebuilt table's indexes could come back
-- under other names than the migrations gave them.) Every read-model index and constraint name
-- therefore starts with its table's name; one that does not is refused rather than renamed.

-- Refuses a name that is not one of the read-model tables a rebuild may shadow.
CREATE FUNCTION handoff.require_read_model_table(p_table text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_table NOT IN ('case_summary', 'case_parties', 'referrals', 'deadlines', 'deadline_notices',
                       'institutions', 'sop_rulesets') THEN
        RAISE EXCEPTION 'not a read-model table' USING ERRCODE = 'HF020';
    END IF;
END
$$;

-- The shadow of a read-model table's index or constraint name.
CREATE FUNCTION handoff.shadow_name(p_table text, p_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF left(p_name, length(p_table)) <> p_table THEN
        RAISE EXCEPTION 'read-model index % does not start with its table name %', p_name, p_table
            USING ERRCODE = 'HF020';
    END IF;
    RETURN p_table || '_shadow' || substr(p_name, length(p_table) + 1);
END
$$;

-- Creates the empty shadow of a read-model table: columns, defaults, checks, and its primary key
-- and unique constraints under their shadow names; no other index (see `index_shadow`).
CREATE OR REPLACE FUNCTION handoff.create_shadow(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_shadow text := p_table || '_shadow';
BEGIN
    PERFORM handoff.require_read_model_table(p_table);
    EXECUTE format('DROP TABLE IF EXISTS handoff.%I', v_shadow);
    EXECUTE format('CREATE TABLE handoff.%I (LIKE handoff.%I INCLUDING ALL EXCLUDING INDEXES)', v_shadow, p_table);
    FOR r IN
        SELECT c.conname, pg_get_constraintdef(c.oid) AS def
          FROM pg_constraint c
         WHERE c.conrelid = format('handoff.%I', p_table)::regclass AND c.contype IN ('p', 'u')
         ORDER BY c.conname
    LOOP
        EXECUTE format('ALTER TABLE handoff.%I ADD CONSTRAINT %I ', v_shadow, handoff.shadow_name(p_table, r.conname))
            || r.def;
    END LOOP;
END
$$;

-- Builds the shadow's other indexes, each as the live table has it, under its shadow name.
-- A rebuild calls it after the bulk replay, before the swap's transaction.
CREATE FUNCTION handoff.index_shadow(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_shadow text := p_table || '_shadow';
BEGIN
    PERFORM handoff.require_read_model_table(p_table);
    FOR r IN
        SELECT i.relname, x.indisunique, pg_get_indexdef(x.indexrelid) AS def
          FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid
         WHERE x.indrelid = format('handoff.%I', p_table)::regclass
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
         ORDER BY i.relname
    LOOP
        -- pg_get_indexdef: "CREATE [UNIQUE] INDEX name ON handoff.table USING method (...) [WHERE ...]";
        -- the part from " USING " on is kept as it is.
        EXECUTE format('CREATE %sINDEX %I ON handoff.%I',
                       CASE WHEN r.indisunique THEN 'UNIQUE ' ELSE '' END,
                       handoff.shadow_name(p_table, r.relname), v_shadow)
            || substr(r.def, strpos(r.def, ' USING '));
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION handoff.require_read_model_table(text), handoff.shadow_name(text, text),
    handoff.index_shadow(text) FROM PUBLIC;
