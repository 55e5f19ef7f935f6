/*
 * 51_form_blanks.sql: a blank optional rule field takes its default (SPEC
 * section 5; doc/definitions.md).  _rule_blanks is new; _rule_body calls it
 * on every body.  Same functions as in src/sql/install/35_rules.sql.
 */
CREATE FUNCTION automation._rule_blanks(b jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d (part, defaults, absent) AS (VALUES
		('top', jsonb '{"priority": 50, "is_active": true, "stop_subsequent_rules": false,
						"cooldown_hours": null, "description": null, "payload_columns": null,
						"fire_when": "every_change", "enroll_existing": false}', '{}'::text[]),
		('conditions', jsonb '{"sort_order": 0, "group": 0}',
		 '{value_int,value_bool,value_datetime}'),
		('actions', jsonb '{"sort_order": 0}',
		 '{delay_minutes,method,headers,assign_field,stage_field,tags_field}')),
	fix (part, i, fixed) AS (
		SELECT d.part, o.i,
			   CASE WHEN jsonb_typeof(o.obj) = 'object' THEN
					(SELECT coalesce(jsonb_object_agg(x.k,
								CASE WHEN x.blank AND d.defaults ? x.k THEN d.defaults -> x.k ELSE x.v END), '{}')
					   FROM (SELECT e.key AS k, e.value AS v,
									jsonb_typeof(e.value) = 'string' AND btrim(e.value #>> '{}') = '' AS blank
							   FROM jsonb_each(o.obj) e) x
					  WHERE NOT (x.blank AND x.k = ANY (d.absent)))
			   ELSE o.obj END
		  FROM d
		 CROSS JOIN LATERAL (
			SELECT b AS obj, 0::bigint AS i WHERE d.part = 'top'
			UNION ALL
			SELECT e.obj, e.i FROM jsonb_array_elements(CASE WHEN jsonb_typeof(b -> d.part) = 'array'
															  THEN b -> d.part END) WITH ORDINALITY AS e(obj, i)
			 WHERE d.part <> 'top') o)
	SELECT CASE WHEN jsonb_typeof(b) <> 'object' THEN b ELSE
		(SELECT f.fixed FROM fix f WHERE f.part = 'top')
		|| coalesce((SELECT jsonb_object_agg(l.part, l.list)
					   FROM (SELECT f.part, jsonb_agg(f.fixed ORDER BY f.i) AS list FROM fix f
							  WHERE f.part <> 'top' GROUP BY f.part) l), '{}')
	END
$$;
REVOKE ALL ON FUNCTION automation._rule_blanks(jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION automation._rule_body(body jsonb, what text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	v jsonb;
	segs text[];
	nseg integer;
	top jsonb := '{}';
	a_arr text[] := '{}';
	a_idx integer[] := '{}';
	a_key text[] := '{}';
	a_sub text[] := '{}';
	a_n integer[] := '{}';
	a_val jsonb[] := '{}';
	p_idx text[] := '{}';
	p_val jsonb[] := '{}';
	lists jsonb;
	bad text;
BEGIN
	IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
		PERFORM automation._err('22023', format('%s must be a JSON object', what),
								format('got %s', automation._show_json(body)),
								'pass nested JSON {"name": ..., "conditions": [...], "actions": [...]} or the form fields as a flat object');
	END IF;
	IF (SELECT count(*) FROM jsonb_object_keys(body)) > 2000 THEN
		PERFORM automation._err('22023', format('%s has too many keys', what),
								format('%s keys, limit 2000', (SELECT count(*) FROM jsonb_object_keys(body))));
	END IF;
	IF NOT EXISTS (SELECT 1 FROM jsonb_object_keys(body) x WHERE strpos(x, '[') > 0) THEN
		RETURN automation._rule_blanks(body);
	END IF;
	FOR k, v IN SELECT e.key, e.value FROM jsonb_each(body) e LOOP
		segs := automation._form_key_parse(k);
		nseg := cardinality(segs);
		/* payload_columns[i] / payload_columns[] (once): the list, in index order */
		IF segs[1] = 'payload_columns' AND nseg > 1 THEN
			IF nseg <> 2 OR segs[2] !~ '^[0-9]*$' THEN
				PERFORM automation._err('22023', format('unsupported form key %s', automation._show(k)),
										NULL, 'use payload_columns[<index>] or payload_columns[]');
			END IF;
			IF body ? 'payload_columns' THEN
				PERFORM automation._err('22023', format('%s mixes nested payload_columns with form keys', what),
										NULL, 'send either "payload_columns": [...] or payload_columns[0] keys, not both');
			END IF;
			p_idx := p_idx || segs[2];
			p_val := p_val || v;
			CONTINUE;
		END IF;
		IF nseg = 1 THEN
			IF k IN ('conditions', 'actions') THEN
				PERFORM automation._err('22023', format('%s mixes nested %s with form keys', what, k),
										NULL, format('send either "%s": [...] or %s[0][...] keys, not both', k, k));
			END IF;
			top := top || jsonb_build_object(k, v);
			CONTINUE;
		END IF;
		IF segs[1] NOT IN ('conditions', 'actions') THEN
			PERFORM automation._err('22023', format('unknown form key %s', automation._show(k)),
									'only conditions[i][...] and actions[i][...] have brackets',
									'check the key''s spelling');
		END IF;
		IF segs[2] !~ '^[0-9]+$' OR nseg < 3 OR segs[3] = '' OR segs[3] ~ '^[0-9]+$' OR nseg > 4
		   OR (nseg = 4 AND segs[1] = 'conditions' AND (segs[3] <> 'value_array' OR segs[4] !~ '^[0-9]*$'))
		   OR (nseg = 4 AND segs[1] = 'actions' AND segs[4] ~ '^[0-9]*$') THEN
			PERFORM automation._err('22023', format('unsupported form key %s', automation._show(k)),
									NULL, format('use %s[<index>][<key>]%s', segs[1],
												 CASE segs[1] WHEN 'conditions' THEN ' or conditions[<index>][value_array][<index>]'
												 ELSE ' or actions[<index>][<key>][<name>]' END));
		END IF;
		a_arr := a_arr || segs[1];
		a_idx := a_idx || segs[2]::integer;
		a_key := a_key || segs[3];
		a_sub := a_sub || CASE WHEN nseg = 4 THEN segs[4] END;
		a_n := a_n || nseg;
		a_val := a_val || v;
	END LOOP;
	/* a key given both whole and by parts */
	SELECT format('%s[%s][%s]', t.arr, t.idx, t.key) INTO bad
	  FROM unnest(a_arr, a_idx, a_key, a_n) AS t(arr, idx, key, n)
	 GROUP BY t.arr, t.idx, t.key HAVING count(DISTINCT t.n) > 1
	 ORDER BY 1 LIMIT 1;
	IF bad IS NOT NULL THEN
		PERFORM automation._err('22023', format('form key %s is given both whole and by parts', bad),
								NULL, 'send one of them');
	END IF;
	WITH t AS (
		SELECT * FROM unnest(a_arr, a_idx, a_key, a_sub, a_n, a_val) AS t(arr, idx, key, sub, n, val)
	), members AS (
		SELECT arr, idx, key, val FROM t WHERE n = 3
		UNION ALL
		SELECT arr, idx, key,
			   CASE WHEN arr = 'conditions'
					THEN jsonb_agg(val ORDER BY sub = '', nullif(sub, '')::integer)
					ELSE jsonb_object_agg(sub, val) END
		  FROM t WHERE n = 4 GROUP BY arr, idx, key
	), items AS (
		SELECT arr, idx, jsonb_object_agg(key, val) AS obj FROM members GROUP BY arr, idx
	)
	SELECT jsonb_object_agg(arr, list) INTO lists
	  FROM (SELECT arr, jsonb_agg(obj ORDER BY idx) AS list FROM items GROUP BY arr) l;
	IF cardinality(p_idx) > 0 THEN
		top := top || jsonb_build_object('payload_columns',
			(SELECT jsonb_agg(t.val ORDER BY t.idx = '', nullif(t.idx, '')::integer)
			   FROM unnest(p_idx, p_val) AS t(idx, val)));
	END IF;
	RETURN automation._rule_blanks(top || coalesce(lists, '{}'));
END
$$;
