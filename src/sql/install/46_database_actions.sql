/*
 * 46_database_actions.sql: user pools and the database actions
 * (update_field, change_stage, tag, untag, assign_user, create_task, notify).
 *
 * execute_job is SECURITY DEFINER: it reads and writes automation's tables
 * for a worker role, but runs the action itself as the job's run_as role (the
 * definition's creator) through automation._execute_as, so a workflow can do
 * only what its creator could.  Identifiers are quoted with format('%I'),
 * values are always parameters.  An action that would not change the row
 * does not write it (IS DISTINCT FROM in the WHERE clause), so it causes no
 * further trigger events.
 */

CREATE FUNCTION automation._execute_as(role name, query text, params text[])
RETURNS bigint
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_execute_as';

/* _invoker: the session's role, even inside SECURITY DEFINER functions. */
CREATE FUNCTION automation._invoker()
RETURNS name
	LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'automation_invoker';

/* create_user_pool: a round-robin pool of members, in the order given. */
CREATE FUNCTION automation.create_user_pool(name text, members text[])
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pool_id uuid;
	m text;
BEGIN
	IF name IS NULL OR length(btrim(name)) = 0 OR length(name) > 120 THEN
		PERFORM automation._err('22023', 'invalid name: must be 1 to 120 characters',
								format('got %s', automation._show(name)), NULL);
	END IF;
	IF members IS NULL OR cardinality(members) = 0 THEN
		PERFORM automation._err('22023', 'invalid members: a pool needs at least one member',
								format('got %s', coalesce(members::text, 'null')),
								'pass members as text[], e.g. ARRAY[''alice'', ''bob'']');
	END IF;
	IF cardinality(members) > 1000 THEN
		PERFORM automation._err('22023', 'invalid members: too many',
								format('got %s members; the limit is 1000', cardinality(members)), NULL);
	END IF;
	FOREACH m IN ARRAY members LOOP
		IF m IS NULL OR length(btrim(m)) = 0 OR length(m) > 200 THEN
			PERFORM automation._err('22023', 'invalid members: every member must be 1 to 200 characters',
									format('got %s', automation._show(m)), NULL);
		END IF;
	END LOOP;
	IF (SELECT count(DISTINCT x) FROM unnest(members) x) <> cardinality(members) THEN
		PERFORM automation._err('22023', 'invalid members: duplicate member',
								format('got %s', members::text), 'list each member once');
	END IF;
	BEGIN
		INSERT INTO automation.user_pools (name) VALUES (create_user_pool.name)
		RETURNING id INTO pool_id;
	EXCEPTION WHEN unique_violation THEN
		PERFORM automation._err('23505', format('duplicate name: a user pool named %s already exists',
												automation._show(name)),
								format('name: %s', automation._show(name)), 'choose another name');
	END;
	INSERT INTO automation.user_pool_members (pool_id, position, member)
	SELECT pool_id, o - 1, x FROM unnest(members) WITH ORDINALITY AS u(x, o);
	RETURN pool_id;
END
$$;

/* set_pool_member_active: take a member out of (or back into) the rotation. */
CREATE FUNCTION automation.set_pool_member_active(pool_id uuid, member text, active boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF active IS NULL THEN
		PERFORM automation._err('22023', 'invalid active: must be true or false', 'got null', NULL);
	END IF;
	UPDATE automation.user_pool_members m SET active = set_pool_member_active.active
	 WHERE m.pool_id = set_pool_member_active.pool_id AND m.member = set_pool_member_active.member;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('member %s not found in pool %s',
												automation._show(member), coalesce(pool_id::text, 'null')),
								NULL, 'see automation.user_pool_members');
	END IF;
END
$$;

/* delete_user_pool: refused (2BP01) while an ASSIGN_USER action names it. */
CREATE FUNCTION automation.delete_user_pool(id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM automation.user_pools p WHERE p.id = delete_user_pool.id;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('user pool %s not found', coalesce(id::text, 'null')),
								NULL, 'see automation.user_pools');
	END IF;
END
$$;

/*
 * _next_pool_member: take the pool's next turn: the first active member at
 * or after the cursor (a member position), wrapping around.  The pool row is
 * locked, so concurrent assignments take distinct turns
 * (specs/pool_turns.spec).
 */
CREATE FUNCTION automation._next_pool_member(pool uuid)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cursor_position integer;
	active_count integer;
	chosen text;
	chosen_position integer;
BEGIN
	SELECT p.next_position INTO cursor_position
	  FROM automation.user_pools p WHERE p.id = pool FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('user pool %s not found', coalesce(pool::text, 'null')),
								NULL, 'see automation.user_pools');
	END IF;
	SELECT count(*) INTO active_count
	  FROM automation.user_pool_members m WHERE m.pool_id = pool AND m.active;
	IF active_count = 0 THEN
		PERFORM automation._err('22023', format('user pool %s has no active member', pool),
								NULL, 'activate a member with automation.set_pool_member_active()');
	END IF;
	/* the first active member at or after the cursor, wrapping around */
	SELECT m.member, m.position INTO chosen, chosen_position
	  FROM automation.user_pool_members m
	 WHERE m.pool_id = pool AND m.active
	 ORDER BY m.position < cursor_position, m.position
	 LIMIT 1;
	UPDATE automation.user_pools p SET next_position = chosen_position + 1
	 WHERE p.id = pool;
	RETURN chosen;
END
$$;

/*
 * _type_sql: a type as SQL text that names the same type whatever the
 * search_path of the statement it goes into: schema-qualified
 * (pg_catalog.text, public.stage), or, for the built-in types with a
 * modifier, the SQL-standard keyword form (character varying(20),
 * numeric(10,2), timestamp(3) with time zone), which the parser maps to
 * pg_catalog itself.  Never format_type()'s bare names: PostgreSQL looks
 * types up in the session's pg_temp first, and the caller of execute_job
 * owns its pg_temp (a pg_temp.text domain would run its CHECK as the job's
 * role).  The typmod is kept; arrays are their element type plus [].
 */
CREATE FUNCTION automation._type_sql(typ oid, typmod integer)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	modifier text := '';
BEGIN
	SELECT ty.typname, n.nspname, ty.typelem, ty.typsubscript, ty.typmodout INTO t
	  FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
	 WHERE ty.oid = typ;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', format('type %s does not exist', typ), NULL, NULL);
	END IF;
	IF t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc AND t.typelem <> 0 THEN
		RETURN automation._type_sql(t.typelem, typmod) || '[]';
	END IF;
	IF typmod >= 0 AND typ IN ('pg_catalog.bit'::pg_catalog.regtype, 'pg_catalog.varbit'::pg_catalog.regtype,
							   'pg_catalog.bpchar'::pg_catalog.regtype, 'pg_catalog.varchar'::pg_catalog.regtype,
							   'pg_catalog.numeric'::pg_catalog.regtype, 'pg_catalog.interval'::pg_catalog.regtype,
							   'pg_catalog.time'::pg_catalog.regtype, 'pg_catalog.timetz'::pg_catalog.regtype,
							   'pg_catalog.timestamp'::pg_catalog.regtype, 'pg_catalog.timestamptz'::pg_catalog.regtype) THEN
		/* keyword syntax (SystemTypeName in gram.y): no lookup at all */
		RETURN pg_catalog.format_type(typ, typmod);
	END IF;
	IF typmod >= 0 THEN
		IF t.typmodout <> 0 THEN
			/* a base type's typmodout is C, created by a superuser */
			EXECUTE (SELECT format('SELECT %I.%I($1)::pg_catalog.text', pn.nspname, p.proname)
					   FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
					  WHERE p.oid = t.typmodout)
			   INTO modifier USING typmod;
		ELSE
			modifier := format('(%s)', typmod);
		END IF;
	END IF;
	RETURN format('%I.%I', t.nspname, t.typname) || modifier;
END
$$;

/* _column_type: the SQL type of a column (_type_sql), for casting text parameters. */
CREATE FUNCTION automation._column_type(rel regclass, col text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ text;
BEGIN
	SELECT automation._type_sql(a.atttypid, a.atttypmod) INTO typ
	  FROM pg_attribute a
	 WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF typ IS NULL THEN
		PERFORM automation._err('22023', format('column %s does not exist in %s', automation._show(col), rel),
								NULL, 'the table changed since the definition was created');
	END IF;
	RETURN typ;
END
$$;

/*
 * _eq_sql: the equality operator of a column's type as
 * OPERATOR(schema.=): the one of the default btree operator class of the
 * type (under its domains), e.g. citext's own; pg_catalog's otherwise
 * (varchar, enums, arrays resolve there).  So the statement compares keys
 * with the operator the unique index uses, not with one found first on a
 * search_path.
 */
CREATE FUNCTION automation._eq_sql(rel regclass, col text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce((
		SELECT pg_catalog.format('OPERATOR(%I.%s)', n.nspname, o.oprname)
		  FROM pg_catalog.pg_attribute att
		  JOIN pg_catalog.pg_opclass c ON c.opcintype = automation._base_type(att.atttypid) AND c.opcdefault
		  JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod AND am.amname = 'btree'
		  JOIN pg_catalog.pg_amop a ON a.amopfamily = c.opcfamily AND a.amopstrategy = 3
		   AND a.amoplefttype = c.opcintype AND a.amoprighttype = c.opcintype
		  JOIN pg_catalog.pg_operator o ON o.oid = a.amopopr
		  JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
		 WHERE att.attrelid = rel AND att.attname = col AND att.attnum > 0 AND NOT att.attisdropped
		 LIMIT 1), 'OPERATOR(pg_catalog.=)')
$$;

/*
 * _record_where: the WHERE clause that finds a job's record: the key column
 * equal to $2, and, when the entity has a tenant column, the tenant column
 * equal to $3 (IS NULL for a job without a tenant).  Record keys may be
 * unique only per tenant (watch() accepts a unique index on (tenant, key)),
 * and a job never touches another tenant's row.
 */
CREATE FUNCTION automation._record_where(ent automation.entities, tenant_id text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	clause text := format('%I %s $2::%s', ent.key_column, automation._eq_sql(ent.relation, ent.key_column),
						  automation._column_type(ent.relation, ent.key_column));
BEGIN
	IF ent.tenant_column IS NULL THEN
		RETURN clause;
	ELSIF tenant_id IS NULL THEN
		RETURN clause || format(' AND %I IS NULL', ent.tenant_column);
	END IF;
	RETURN clause || format(' AND %I %s $3::%s', ent.tenant_column,
							automation._eq_sql(ent.relation, ent.tenant_column),
							automation._column_type(ent.relation, ent.tenant_column));
END
$$;

/* _unwritten_reason: why an action wrote nothing: the row is gone, or it already had the value. */
CREATE FUNCTION automation._unwritten_reason(run_as name, ent automation.entities,
	record_key text, tenant_id text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF automation._execute_as(run_as,
			format('SELECT 1 FROM %s WHERE %s', ent.relation, automation._record_where(ent, tenant_id)),
			ARRAY[NULL, record_key, tenant_id]) = 0 THEN
		RETURN 'record not found';
	END IF;
	RETURN 'unchanged';
END
$$;

/*
 * _set_column: UPDATE one column of one row to a value, unless it already
 * has it.  Runs as run_as.  Returns whether the row was written.  "Unless"
 * is spelled with the column type's own equality operator (_eq_sql), not
 * IS DISTINCT FROM, which looks "=" up on the search_path.
 */
CREATE FUNCTION automation._set_column(run_as name, ent automation.entities,
	record_key text, tenant_id text, col text, value text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ text := automation._column_type(ent.relation, col);
	eq text := automation._eq_sql(ent.relation, col);
BEGIN
	RETURN automation._execute_as(run_as,
		format('UPDATE %1$s SET %2$I = $1::%3$s WHERE %4$s AND CASE WHEN %2$I IS NULL OR $1::%3$s IS NULL '
			   'THEN (%2$I IS NULL) OPERATOR(pg_catalog.<>) ($1::%3$s IS NULL) ELSE NOT (%2$I %5$s $1::%3$s) END',
			   ent.relation, col, typ, automation._record_where(ent, tenant_id), eq),
		ARRAY[value, record_key, tenant_id]) > 0;
END
$$;

/*
 * _tag: add (untag: remove) a tag in a text[] or jsonb array column, unless
 * it is already there (absent).
 */
CREATE FUNCTION automation._tag(run_as name, ent automation.entities,
	record_key text, tenant_id text, col text, tag text, adding boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ oid;
	typmod integer;
	base oid;
	query text;
BEGIN
	IF tag IS NULL OR tag = '' THEN
		PERFORM automation._err('22023', 'invalid tag: must not be empty', NULL, NULL);
	END IF;
	SELECT a.atttypid, a.atttypmod INTO typ, typmod
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = ent.relation AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', format('column %s does not exist in %s', automation._show(col), ent.relation),
								NULL, 'the table changed since the definition was created');
	END IF;
	base := automation._base_type(typ);
	IF base = 'pg_catalog.jsonb'::pg_catalog.regtype THEN
		query := CASE WHEN adding THEN
			'UPDATE %1$s SET %2$I = coalesce(%2$I, ''[]''::pg_catalog.jsonb) OPERATOR(pg_catalog.||) pg_catalog.to_jsonb($1::pg_catalog.text) '
			'WHERE %3$s AND NOT coalesce(%2$I, ''[]''::pg_catalog.jsonb) OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array($1::pg_catalog.text)'
		ELSE
			'UPDATE %1$s SET %2$I = %2$I OPERATOR(pg_catalog.-) $1::pg_catalog.text '
			'WHERE %3$s AND %2$I OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array($1::pg_catalog.text)'
		END;
	ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.oid = base AND t.typcategory = 'A') THEN
		query := CASE WHEN adding THEN
			'UPDATE %1$s SET %2$I = pg_catalog.array_append(coalesce(%2$I, ''{}''::%4$s), $1::pg_catalog.text) '
			'WHERE %3$s AND NOT ($1::pg_catalog.text OPERATOR(pg_catalog.=) ANY (coalesce(%2$I, ''{}''::%4$s)))'
		ELSE
			'UPDATE %1$s SET %2$I = pg_catalog.array_remove(%2$I, $1::pg_catalog.text) '
			'WHERE %3$s AND $1::pg_catalog.text OPERATOR(pg_catalog.=) ANY (%2$I)'
		END;
	ELSE
		PERFORM automation._err('22023', format('column %s of %s is not an array', automation._show(col), ent.relation),
								format('its type is %s', format_type(typ, typmod)), 'tags live in a text[] or jsonb array column');
	END IF;
	RETURN automation._execute_as(run_as,
		format(query, ent.relation, col, automation._record_where(ent, tenant_id), automation._type_sql(typ, typmod)),
		ARRAY[tag, record_key, tenant_id]) > 0;
END
$$;

/* _create_task: INSERT a row into the table watched as "task". */
CREATE FUNCTION automation._create_task(run_as name, config jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	cols text[] := '{}';
	exprs text[] := '{}';
	vals text[] := '{}';
	k text;
	v jsonb;
	i integer := 0;
BEGIN
	SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = 'task';
	IF rel IS NULL THEN
		PERFORM automation._err('22023', 'no table is watched as entity "task"', NULL,
								'watch it: SELECT automation.watch(''task'', ''public.tasks'')');
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(config) WHERE key <> 'delay_minutes' ORDER BY key LOOP
		i := i + 1;
		cols := cols || format('%I', k);
		exprs := exprs || format('$%s::%s', i, automation._column_type(rel, k));
		vals := vals || CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}'
									   WHEN 'null' THEN NULL ELSE v::text END;
	END LOOP;
	IF i = 0 THEN
		PERFORM automation._execute_as(run_as, format('INSERT INTO %s DEFAULT VALUES', rel), NULL);
	ELSE
		PERFORM automation._execute_as(run_as,
			format('INSERT INTO %s (%s) VALUES (%s)', rel, array_to_string(cols, ', '),
				   array_to_string(exprs, ', ')), vals);
	END IF;
	RETURN jsonb_build_object('created', true, 'table', rel::text);
END
$$;

/*
 * execute_job: run a database action job and complete it.  A queued job is
 * claimed here; a running one (claimed by a worker) is taken as is.  If the
 * action fails the error propagates and the job is unchanged: the caller
 * (the worker, or run_database_jobs) records the failure with fail_job.
 *
 * Who runs the action comes from the definition, not from the job row: the
 * workflow's or rule's current created_by (jobs.run_as is informational).
 * The job must still match its definition: the definition exists (22023
 * otherwise), fires on the job's entity, has the job's action type and
 * belongs to no tenant or to the job's tenant (42501 otherwise).  What the
 * definition cannot tell (the record and the rendered config) only the
 * extension owner can write (automation._jobs_guard).
 */
CREATE FUNCTION automation.execute_job(id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job automation.jobs;
	ent automation.entities;
	config jsonb;
	action_result jsonb;
	written boolean;
	member text;
	previous_depth text := current_setting('automation.current_depth');
	def_kind text;
	def_found boolean;
	def_role name;
	def_entity text;
	def_tenant text;
	def_actions text[];
BEGIN
	SELECT * INTO job FROM automation.jobs j WHERE j.id = execute_job.id FOR UPDATE;
	/* row-level security: the caller must be able to see the job */
	IF FOUND AND automation._execute_as(automation._invoker(),
			'SELECT 1 FROM automation.jobs WHERE id OPERATOR(pg_catalog.=) $1::bigint', ARRAY[job.id::text]) = 0 THEN
		job := NULL;
	END IF;
	IF job.id IS NULL THEN
		PERFORM automation._err('P0002', format('job %s not found', coalesce(id::text, 'null')),
								NULL, 'see automation.jobs');
	END IF;
	IF job.status IN ('succeeded', 'dead') THEN
		PERFORM automation._err('22023', format('job %s is already %s', job.id, job.status),
								NULL, 'only queued or running jobs can be executed');
	END IF;
	/* where the action type runs (src/vocabulary.h) */
	IF NOT EXISTS (SELECT 1 FROM automation._action_types() t
					WHERE t.job = job.action_type AND t.runs = 'database') THEN
		PERFORM automation._err('22023', format('job %s is a %s job: automation-worker delivers it',
												job.id, job.action_type),
								NULL, 'execute_job runs database actions only');
	END IF;

	/* the definition decides who runs the action, where and what */
	IF job.source = 'workflow' THEN
		def_kind := format('workflow %s', coalesce(job.workflow_id, 'null'));
		SELECT true, w.created_by, w.condition_entity, w.tenant_id, ARRAY[w.action_type]
		  INTO def_found, def_role, def_entity, def_tenant, def_actions
		  FROM automation.workflows w WHERE w.id = job.workflow_id AND job.rule_id IS NULL;
	ELSE
		def_kind := format('rule %s', coalesce(job.rule_id::text, 'null'));
		SELECT true, r.created_by, r.entity_type, r.tenant_id,
			   ARRAY(SELECT lower(a.action_type) FROM automation.rule_actions a WHERE a.rule_id = r.id)
		  INTO def_found, def_role, def_entity, def_tenant, def_actions
		  FROM automation.rules r WHERE r.id = job.rule_id AND job.workflow_id IS NULL;
	END IF;
	IF def_found IS NULL THEN
		PERFORM automation._err('22023', format('job %s: its %s no longer exists', job.id, def_kind),
								NULL, 'a job runs only while its workflow or rule exists');
	END IF;
	IF def_entity IS DISTINCT FROM job.entity OR NOT job.action_type = ANY (def_actions)
	   OR (def_tenant IS NOT NULL AND def_tenant IS DISTINCT FROM job.tenant_id) THEN
		PERFORM automation._err('42501', format('job %s does not match its %s', job.id, def_kind),
								format('job: entity %s, action %s, tenant %s; %s: entity %s, actions %s, tenant %s',
									   automation._show(job.entity), job.action_type, automation._show(job.tenant_id),
									   def_kind, automation._show(def_entity), array_to_string(def_actions, ', '),
									   automation._show(def_tenant)),
								'the job was changed after it was enqueued; it is not run');
	END IF;

	IF job.status = 'queued' THEN
		UPDATE automation.jobs j SET status = 'running', attempts = j.attempts + 1,
			   locked_by = 'execute_job', locked_until = now() + interval '60 seconds'
		 WHERE j.id = job.id;
	END IF;

	/* absent keys take the vocabulary's defaults, as validation fills them */
	SELECT t.defaults || (job.payload -> 'config') INTO config
	  FROM automation._action_types() t WHERE t.job = job.action_type;
	SELECT * INTO ent FROM automation.entities e WHERE e.name = job.entity;
	IF job.action_type NOT IN ('create_task', 'notify') AND ent.name IS NULL THEN
		PERFORM automation._err('22023', format('entity %s is no longer watched', automation._show(job.entity)),
								NULL, NULL);
	END IF;

	/* the table may have changed hands since the definition was created */
	IF job.action_type = 'create_task' THEN
		PERFORM automation._check_target_owner(def_role, e.relation, format('job %s', job.id))
		   FROM automation.entities e WHERE e.name = 'task';
	ELSIF job.action_type <> 'notify' THEN
		PERFORM automation._check_target_owner(def_role, ent.relation, format('job %s', job.id));
	END IF;

	/* the action's own changes are one level deeper (loop guard) */
	PERFORM set_config('automation.current_depth', (job.depth + 1)::text, true);

	CASE job.action_type
	WHEN 'update_field' THEN
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  config ->> 'field', config ->> 'value');
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'field',
									 'value', config -> 'value');
	WHEN 'change_stage' THEN
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  config ->> 'stage_field',
										  config ->> 'stage_id');
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'stage_field',
									 'value', config -> 'stage_id');
	WHEN 'tag', 'untag' THEN
		written := automation._tag(def_role, ent, job.record_key, job.tenant_id,
								   config ->> 'tags_field', config ->> 'tag',
								   job.action_type = 'tag');
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'tags_field',
									 'tag', config ->> 'tag');
	WHEN 'assign_user' THEN
		member := automation._next_pool_member((config ->> 'assign_pool_id')::uuid);
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  config ->> 'assign_field', member);
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'assign_field',
									 'assigned', member);
	WHEN 'create_task' THEN
		action_result := automation._create_task(def_role, config);
	WHEN 'notify' THEN
		INSERT INTO automation.notifications (job_id, workflow_id, rule_id, tenant_id, entity,
											  record_key, recipient, message)
		VALUES (job.id, job.workflow_id, job.rule_id, job.tenant_id, job.entity, job.record_key,
				coalesce(config ->> 'recipient', ''), coalesce(config ->> 'message', ''))
		RETURNING jsonb_build_object('notification_id', notifications.id) INTO action_result;
		/* any role may LISTEN: the payload is the id only; listeners read the row under RLS */
		PERFORM pg_notify('automation_notifications',
						  jsonb_build_object('id', action_result -> 'notification_id')::text);
	END CASE;

	IF NOT coalesce((action_result ->> 'updated')::boolean, true) THEN
		action_result := action_result || jsonb_build_object('reason',
			automation._unwritten_reason(def_role, ent, job.record_key, job.tenant_id));
	END IF;
	PERFORM set_config('automation.current_depth', previous_depth, true);
	UPDATE automation.jobs j SET status = 'succeeded', result = action_result,
		   finished_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL
	 WHERE j.id = job.id;
	RETURN action_result;
END
$$;

/*
 * run_database_jobs: claim due database-action jobs and run each in its own
 * subtransaction; a failure is recorded with fail_job (permanent for
 * privilege and data errors, retried otherwise).  Returns how many succeeded.
 * SECURITY INVOKER: a tenant's role claims only its tenant's jobs.
 */
CREATE FUNCTION automation.run_database_jobs(max_jobs integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job automation.jobs;
	done integer := 0;
BEGIN
	IF max_jobs IS NULL OR max_jobs < 1 OR max_jobs > 10000 THEN
		PERFORM automation._err('22023', 'invalid max_jobs: must be between 1 and 10000',
								format('got %s', coalesce(max_jobs::text, 'null')), NULL);
	END IF;
	FOR job IN SELECT * FROM automation.claim_jobs('run_database_jobs', max_jobs, interval '60 seconds',
			ARRAY(SELECT t.job FROM automation._action_types() t WHERE t.runs = 'database' ORDER BY t.ord))
	LOOP
		BEGIN
			PERFORM automation.execute_job(job.id);
			done := done + 1;
		EXCEPTION WHEN OTHERS THEN
			PERFORM automation.fail_job(job.id, format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE),
										NOT (SQLSTATE LIKE '42%' OR SQLSTATE LIKE '22%'));
		END;
	END LOOP;
	RETURN done;
END
$$;
