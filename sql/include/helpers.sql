-- sql/include/helpers.sql: helpers shared by the regression suites.
-- Include after the suite's "SET search_path = <suite schema>, public":
--     \i sql/include/helpers.sql
-- (pg_regress runs from the top of the checkout).  The functions are created
-- in the suite's schema and dropped with it.
\set ECHO none
-- try(statement): 'ok', or 'SQLSTATE: message (hint)' of the error it raised.
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; m text; h text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
	RETURN st || ': ' || m || coalesce(' (' || nullif(h, '') || ')', '');
END $$;
\set ECHO all
