-- schema: the extension installs only with the preload, grants nothing to
-- PUBLIC, and registers its tables for pg_dump.
CREATE EXTENSION automation;
SELECT extname, extversion, extrelocatable, extnamespace::regnamespace
  FROM pg_extension WHERE extname = 'automation';
-- every table of the extension is kept by pg_dump
SELECT c.relname, c.relkind
  FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
  JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'automation' ORDER BY 1;
-- nothing granted to PUBLIC: no ACL entry with an empty grantee
SELECT c.relname
  FROM pg_class c
 WHERE c.relnamespace = 'automation'::regnamespace
   AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)
UNION ALL
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'automation'::regnamespace
   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0));
SELECT has_schema_privilege('public', 'automation', 'USAGE') AS public_usage;
-- workflow ids are wf_ + a 26-character Crockford ULID, sorted by time
SELECT automation._new_workflow_id() ~ '^wf_[0-9A-HJKMNP-TV-Z]{26}$' AS ulid_shape;
SELECT a < b AS sorted FROM (SELECT automation._new_workflow_id() a) x,
  LATERAL (SELECT pg_sleep(0.002), automation._new_workflow_id() b) y;
DROP EXTENSION automation;
