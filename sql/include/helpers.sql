\set ECHO none
-- sql/include/helpers.sql: helpers shared by the regression suites.
-- Include after the suite's "SET search_path = <suite schema>, public":
--     \i sql/include/helpers.sql
-- (pg_regress runs from the top of the checkout).  The functions are created
-- in the suite's schema and dropped with it.
--
-- try(q text): run q; 'ok', or the error q raised, printed in the suite's
-- style.  psql variables set before the \i choose the variant; the defaults
-- are what new suites use:
--   try_style  hint     'SQLSTATE: message (hint)'                 (default)
--              state    'SQLSTATE: message'
--              errm     'ERROR SQLSTATE: message'
--              detail   'SQLSTATE: message [detail] (hint)'
--              verbose  'ERROR SQLSTATE: message', then indented
--                       'DETAIL: ...' and 'HINT: ...' lines, masked as
--                       try_mask says so that the output is stable
--   try_keep   true     a statement that succeeds keeps its effects (default)
--              false    it is rolled back: try only probes
--              param    try(q text, keep boolean DEFAULT false): rolled back
--                       unless keep
--   try_mask   ids      (verbose) workflow ids and uuids print as wf_<id>
--                       and <uuid> (default)
--              times    workflow ids and ISO times (2026-04-17T11:05:00Z)
--                       print as wf_<id> and <time>
\if :{?try_style}
\else
\set try_style hint
\endif
\if :{?try_keep}
\else
\set try_keep true
\endif
\if :{?try_mask}
\else
\set try_mask ids
\endif
SELECT :'try_style' IN ('hint', 'state', 'errm', 'detail', 'verbose')
   AND :'try_keep' IN ('true', 'false', 'param')
   AND :'try_mask' IN ('ids', 'times') AS try_vars_ok \gset
\if :try_vars_ok
\else
\warn sql/include/helpers.sql: unknown try_style, try_keep or try_mask
\endif
SELECT format($create$
CREATE FUNCTION try(q text%s) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	style constant text := %L;
	roll_back constant boolean := %s;
	masks constant text := %L;
	st text; m text; d text; h text;
BEGIN
	BEGIN
		EXECUTE q;
		IF roll_back THEN RAISE EXCEPTION USING ERRCODE = 'ZX001'; END IF;
		RETURN 'ok';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
			d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
		IF st = 'ZX001' THEN RETURN 'ok'; END IF;
		RETURN CASE style
			WHEN 'hint' THEN st || ': ' || m || coalesce(' (' || nullif(h, '') || ')', '')
			WHEN 'state' THEN st || ': ' || m
			WHEN 'errm' THEN 'ERROR ' || st || ': ' || m
			WHEN 'detail' THEN st || ': ' || m || coalesce(' [' || nullif(d, '') || ']', '')
							   || coalesce(' (' || nullif(h, '') || ')', '')
			ELSE regexp_replace(regexp_replace('ERROR ' || st || ': ' || m
					|| CASE WHEN d <> '' THEN E'\n  DETAIL: ' || d ELSE '' END
					|| CASE WHEN h <> '' THEN E'\n  HINT: ' || h ELSE '' END,
					'wf_[0-9A-Z]{26}', 'wf_<id>', 'g'),
					CASE masks WHEN 'ids' THEN '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
						ELSE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z' END,
					CASE masks WHEN 'ids' THEN '<uuid>' ELSE '<time>' END, 'g')
		END;
	END;
END
$$
$create$,
	CASE :'try_keep' WHEN 'param' THEN ', keep boolean DEFAULT false' ELSE '' END,
	:'try_style',
	CASE :'try_keep' WHEN 'param' THEN 'NOT keep' WHEN 'false' THEN 'true' ELSE 'false' END,
	:'try_mask') \gexec
\unset try_style
\unset try_keep
\unset try_mask
\unset try_vars_ok
\set ECHO all
