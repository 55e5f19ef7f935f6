-- test/e2e/hostile/lib.sql: the attacker's toolbox of the hostile-role suite
-- (test/e2e/hostile_roles.sh), loaded by the superuser into schema hostile_lib.
--
-- Every function here is SECURITY INVOKER and EXECUTE is granted to PUBLIC:
-- an attacker role calls them, so everything they create is created, and
-- owned, by that role with its own rights only.
--
--   hostile_lib.make_canary(schema)   <schema>.hcanary(trick text) -> true:
--       logs (planter, trick, current_user, session_user) into
--       hostile_log.canary and raises WARNING 'HOSTILE-CANARY ...' when it
--       runs as anyone but the role that planted it (the WARNING reaches the
--       client and the server log even when the transaction rolls back)
--   hostile_lib.plant(schema, functions[], operators[])   look-alikes of every
--       pg_catalog function, aggregate and operator of those names, in
--       schema, each calling <schema>.hcanary first and then the original
--   hostile_lib.plant_temp(types[], relations[])   pg_temp domains named like
--       the types (CHECK calls pg_temp.hcanary) and pg_temp views named like
--       pg_catalog relations (a column calls pg_temp.hcanary): PostgreSQL
--       searches pg_temp first for types and relations
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS hostile_lib CASCADE;
CREATE SCHEMA hostile_lib;
GRANT USAGE ON SCHEMA hostile_lib TO PUBLIC;

CREATE FUNCTION hostile_lib.make_canary(sch text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $g$
BEGIN
	EXECUTE format($f$
CREATE OR REPLACE FUNCTION %1$s.hcanary(trick text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $c$
BEGIN
	IF current_user OPERATOR(pg_catalog.<>) %2$L::pg_catalog.name THEN
		RAISE WARNING 'HOSTILE-CANARY planter=%% current_user=%% session_user=%% trick=%%',
			%2$L, current_user, session_user, trick;
	END IF;
	BEGIN
		INSERT INTO hostile_log.canary (planter, trick, cur, sess)
		VALUES (%2$L, trick, current_user, session_user);
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'HOSTILE-CANARY-UNLOGGED planter=%% current_user=%% trick=%% (%%)',
			%2$L, current_user, trick, SQLERRM;
	END;
	RETURN true;
END
$c$$f$, CASE WHEN sch = 'pg_temp' THEN 'pg_temp' ELSE quote_ident(sch) END, current_user);
END
$g$;

/* the parameter list of a look-alike: the original's, "any" -> text */
CREATE FUNCTION hostile_lib.args_of(p oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT replace(pg_get_function_arguments(p), '"any"', 'text')
$$;

/* the call of the original: $1, ..., VARIADIC $n */
CREATE FUNCTION hostile_lib.call_of(p oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce(string_agg(CASE WHEN pr.provariadic <> 0 AND i = pr.pronargs
									THEN 'VARIADIC ' ELSE '' END || '$' || i, ', ' ORDER BY i), '')
	  FROM pg_proc pr, generate_series(1, pr.pronargs) i
	 WHERE pr.oid = p
$$;

CREATE FUNCTION hostile_lib.plant(sch text, fnames text[], opnames text[])
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $g$
DECLARE
	p record;
	a record;
	o record;
	s text := quote_ident(sch);
	canary text := quote_ident(sch) || '.hcanary';
	ret text;
	body text;
	nf int := 0;
	na int := 0;
	nop int := 0;
	nfail int := 0;
	argtypes text;
BEGIN
	PERFORM hostile_lib.make_canary(sch);
	FOR p IN SELECT pr.oid, pr.proname, pr.proretset, pr.prorettype
			   FROM pg_proc pr
			  WHERE pr.pronamespace = 'pg_catalog'::regnamespace AND pr.prokind = 'f'
				AND pr.proname = ANY (fnames)
				AND NOT pr.proargtypes::oid[] && ARRAY['internal'::regtype, 'cstring'::regtype]::oid[]
				AND pr.prorettype NOT IN ('internal'::regtype, 'trigger'::regtype,
										 'event_trigger'::regtype, 'cstring'::regtype)
	LOOP
		ret := pg_get_function_result(p.oid);
		IF p.proretset THEN
			body := format('RETURN QUERY SELECT * FROM pg_catalog.%I(%s);', p.proname, hostile_lib.call_of(p.oid));
		ELSIF p.prorettype = 'void'::regtype THEN
			body := format('PERFORM pg_catalog.%I(%s); RETURN;', p.proname, hostile_lib.call_of(p.oid));
		ELSE
			body := format('RETURN pg_catalog.%I(%s);', p.proname, hostile_lib.call_of(p.oid));
		END IF;
		BEGIN
			EXECUTE format('CREATE FUNCTION %s.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
						   s, p.proname, hostile_lib.args_of(p.oid), ret,
						   format('BEGIN PERFORM %s(%L); %s END', canary, 'function ' || p.proname, body));
			nf := nf + 1;
		EXCEPTION WHEN OTHERS THEN
			nfail := nfail + 1;
		END;
	END LOOP;
	/* aggregates (count(*), max, min, ...): a transition function that calls the canary */
	FOR a IN SELECT pr.oid, pr.proname, pr.pronargs, ag.aggtransfn, ag.aggfinalfn, ag.agginitval,
					ag.aggtranstype, tf.proisstrict,
					(SELECT string_agg(replace(format_type(t, NULL), '"any"', 'text'), ', ' ORDER BY i)
					   FROM unnest(pr.proargtypes::oid[]) WITH ORDINALITY u(t, i)) AS argtypes
			   FROM pg_proc pr JOIN pg_aggregate ag ON ag.aggfnoid = pr.oid
			   JOIN pg_proc tf ON tf.oid = ag.aggtransfn
			  WHERE pr.pronamespace = 'pg_catalog'::regnamespace AND pr.prokind = 'a'
				AND pr.proname = ANY (fnames) AND ag.aggkind = 'n'
				AND ag.aggtranstype <> 'internal'::regtype
	LOOP
		argtypes := coalesce(a.argtypes, '');
		BEGIN
			EXECUTE format('CREATE FUNCTION %s.hagg_%s(%s) RETURNS %s LANGUAGE plpgsql %s AS %L',
						   s, a.oid, concat_ws(', ', format_type(a.aggtranstype, NULL), nullif(argtypes, '')),
						   format_type(a.aggtranstype, NULL), CASE WHEN a.proisstrict THEN 'STRICT' ELSE '' END,
						   format('BEGIN PERFORM %s(%L); RETURN %s(%s); END', canary, 'aggregate ' || a.proname,
								  a.aggtransfn::regproc::text,
								  (SELECT string_agg('$' || i, ', ') FROM generate_series(1, a.pronargs + 1) i)));
			EXECUTE format('CREATE AGGREGATE %s.%I(%s) (SFUNC = %s.hagg_%s, STYPE = %s%s%s)',
						   s, a.proname, CASE WHEN argtypes = '' THEN '*' ELSE argtypes END, s, a.oid,
						   format_type(a.aggtranstype, NULL),
						   CASE WHEN a.aggfinalfn <> 0 THEN ', FINALFUNC = ' || a.aggfinalfn::regproc::text ELSE '' END,
						   CASE WHEN a.agginitval IS NOT NULL THEN format(', INITCOND = %L', a.agginitval) ELSE '' END);
			na := na + 1;
		EXCEPTION WHEN OTHERS THEN
			nfail := nfail + 1;
		END;
	END LOOP;
	/* operators: every pg_catalog operator of those names, same argument types */
	FOR o IN SELECT op.oid, op.oprname, op.oprkind, op.oprleft, op.oprright, op.oprresult, op.oprcode
			   FROM pg_operator op
			  WHERE op.oprnamespace = 'pg_catalog'::regnamespace AND op.oprname = ANY (opnames)
				AND op.oprcode <> 0
				AND NOT ARRAY[op.oprleft, op.oprright, op.oprresult]::oid[]
						&& ARRAY['internal'::regtype, 'cstring'::regtype]::oid[]
	LOOP
		BEGIN
			IF o.oprkind = 'b' THEN
				EXECUTE format('CREATE FUNCTION %s.hop_%s(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
							   s, o.oid, format_type(o.oprleft, NULL), format_type(o.oprright, NULL),
							   format_type(o.oprresult, NULL),
							   format('BEGIN PERFORM %s(%L); RETURN %s($1, $2); END', canary,
									  'operator ' || o.oprname, o.oprcode::regproc::text));
				EXECUTE format('CREATE OPERATOR %s.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %s.hop_%s)',
							   s, o.oprname, format_type(o.oprleft, NULL), format_type(o.oprright, NULL), s, o.oid);
			ELSE
				EXECUTE format('CREATE FUNCTION %s.hop_%s(%s) RETURNS %s LANGUAGE plpgsql AS %L',
							   s, o.oid, format_type(o.oprright, NULL), format_type(o.oprresult, NULL),
							   format('BEGIN PERFORM %s(%L); RETURN %s($1); END', canary,
									  'operator ' || o.oprname, o.oprcode::regproc::text));
				EXECUTE format('CREATE OPERATOR %s.%s (RIGHTARG = %s, FUNCTION = %s.hop_%s)',
							   s, o.oprname, format_type(o.oprright, NULL), s, o.oid);
			END IF;
			nop := nop + 1;
		EXCEPTION WHEN OTHERS THEN
			nfail := nfail + 1;
		END;
	END LOOP;
	RETURN format('%s functions, %s aggregates, %s operators (%s not creatable)', nf, na, nop, nfail);
END
$g$;

CREATE FUNCTION hostile_lib.plant_temp(tnames text[], relnames text[])
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $g$
DECLARE
	t record;
	r record;
	nt int := 0;
	nr int := 0;
BEGIN
	PERFORM hostile_lib.make_canary('pg_temp');
	FOR t IN SELECT DISTINCT n AS name, to_regtype(n) AS base FROM unnest(tnames) n
			  WHERE to_regtype(n) IS NOT NULL
				AND (SELECT typtype FROM pg_type WHERE oid = to_regtype(n)) IN ('b', 'e', 'r', 'm')
	LOOP
		BEGIN
			EXECUTE format('CREATE DOMAIN pg_temp.%I AS %s CHECK (pg_temp.hcanary(%L))',
						   t.name, t.base::oid::regtype::text, 'pg_temp type ' || t.name);
			nt := nt + 1;
		EXCEPTION WHEN OTHERS THEN
			NULL;
		END;
	END LOOP;
	FOR r IN SELECT c.relname FROM pg_class c
			  WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relname = ANY (relnames)
				AND c.relkind IN ('r', 'v')
	LOOP
		BEGIN
			EXECUTE format('CREATE VIEW pg_temp.%I AS SELECT %s FROM pg_catalog.%I x WHERE pg_temp.hcanary(%L)',
						   r.relname,
						   (SELECT string_agg(format('x.%I', a.attname), ', ' ORDER BY a.attnum)
							  FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
							 WHERE a.attrelid = ('pg_catalog.' || r.relname)::regclass AND a.attnum > 0
							   AND NOT a.attisdropped AND ty.typtype <> 'p'),
						   r.relname, 'pg_temp relation ' || r.relname);
			nr := nr + 1;
		EXCEPTION WHEN OTHERS THEN
			NULL;
		END;
	END LOOP;
	RETURN format('%s pg_temp types, %s pg_temp relations', nt, nr);
END
$g$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA hostile_lib TO PUBLIC;

/*
 * val(query): the query's single value as text ('null' for NULL), or
 * 'ERROR <sqlstate>: <message>' (the statement's effects then roll back).
 * No SET search_path: it runs the query under the caller's own path.
 */
CREATE FUNCTION hostile_lib.val(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE q INTO r;
	RETURN coalesce(r, 'null');
EXCEPTION WHEN OTHERS THEN
	RETURN pg_catalog.concat('ERROR ', SQLSTATE, ': ', SQLERRM);
END
$$;
GRANT EXECUTE ON FUNCTION hostile_lib.val(text) TO PUBLIC;
