-- Case documents (Migrations/0031) are about 8 KiB of JSON each: PostgreSQL compresses every one
-- it writes (TOAST, pglz by default) and decompresses it on every case read. lz4 does both several
-- times faster for about the same size (issue 17: a rebuild writes every case's document, and each
-- `GET /v1/cases/{id}` reads one). Rows written before keep their pglz until rewritten; a server
-- built without lz4 keeps pglz for all.
DO $do$
BEGIN
    ALTER TABLE handoff.case_documents ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available in this server: case documents stay pglz-compressed';
END
$do$;
