-- automation--0.2.0--0.3.0.sql: ALTER EXTENSION automation UPDATE from 0.2.0

\echo Use "ALTER EXTENSION automation UPDATE TO '0.3.0'" to load this file. \quit

/*
 * 0.3.0: privilege boundaries (doc/security.md).  Nothing that runs with the
 * extension owner's rights resolves a name through the caller's search_path
 * or runs the caller's code; internal functions check their caller; jobs
 * carry nothing a worker can forge; tenant boundaries hold for breakers,
 * explain, notifications, alerts and idempotency keys.
 */

/*
 * Jobs carry nothing a worker can forge: only the extension owner (the
 * engine) or a superuser inserts jobs or changes who a job runs as, what it
 * targets or what it does (50_queue.sql).
 */
/*
 * _jobs_guard: jobs carry nothing a worker can forge (SPEC section 10).
 * BEFORE INSERT and BEFORE UPDATE on automation.jobs.  Only the extension
 * owner (as which the engine enqueues) or a superuser may insert a job, change
 * a column that decides who runs it, what it targets or what it does
 * (id, source, workflow_id, rule_id, action_type, entity, record_key,
 * tenant_id, payload, depth, run_as, idempotency_key, created_at), or move a
 * finished (succeeded or dead) job back into the queue.  Everyone else (a
 * worker role with UPDATE on jobs) changes only the queue columns: status,
 * attempts, max_attempts, run_after, locked_by, locked_until, last_error,
 * result, finished_at.  The UPDATE trigger's WHEN clause keeps the queue
 * functions (claim_jobs, complete_job(s), fail_job, execute_job) free of
 * any extra call.  Rows a restore loads are inserted by a superuser or the
 * owner.  Self-contained (no call to another automation function), so a
 * worker needs no EXECUTE grant for it to report its error.
 */
CREATE FUNCTION automation._jobs_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	col text;
BEGIN
	/* the owner and superusers change anything */
	IF (SELECT pg_catalog.pg_get_userbyid(e.extowner) FROM pg_catalog.pg_extension e
		 WHERE e.extname = 'automation') = current_user
	   OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
		RETURN NEW;
	END IF;
	col := CASE
		WHEN NEW.id IS DISTINCT FROM OLD.id THEN 'id'
		WHEN NEW.source IS DISTINCT FROM OLD.source THEN 'source'
		WHEN NEW.workflow_id IS DISTINCT FROM OLD.workflow_id THEN 'workflow_id'
		WHEN NEW.rule_id IS DISTINCT FROM OLD.rule_id THEN 'rule_id'
		WHEN NEW.action_type IS DISTINCT FROM OLD.action_type THEN 'action_type'
		WHEN NEW.entity IS DISTINCT FROM OLD.entity THEN 'entity'
		WHEN NEW.record_key IS DISTINCT FROM OLD.record_key THEN 'record_key'
		WHEN NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN 'tenant_id'
		WHEN NEW.payload IS DISTINCT FROM OLD.payload THEN 'payload'
		WHEN NEW.depth IS DISTINCT FROM OLD.depth THEN 'depth'
		WHEN NEW.run_as IS DISTINCT FROM OLD.run_as THEN 'run_as'
		WHEN NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key THEN 'idempotency_key'
		WHEN NEW.created_at IS DISTINCT FROM OLD.created_at THEN 'created_at'
	END;
	IF col IS NOT NULL THEN
		RAISE EXCEPTION 'permission denied to change column % of automation.jobs', col
			USING ERRCODE = '42501',
				  DETAIL = format('job %s: only the owner of extension automation changes who a job runs as, what it targets or what it does',
								  OLD.id),
				  HINT = 'a worker changes only status, attempts, max_attempts, run_after, locked_by, locked_until, last_error, result and finished_at';
	END IF;
	RAISE EXCEPTION 'permission denied to change the status of job %: it is %', OLD.id, OLD.status
		USING ERRCODE = '42501',
			  DETAIL = format('status %s -> %s', OLD.status, NEW.status),
			  HINT = 'a finished job stays finished; the engine enqueues a new one on the next change';
END
$$;
/* INSERT: the owner and superusers only (C: the engine pays it per job) */
CREATE FUNCTION automation._jobs_insert_guard()
RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_jobs_insert_guard';
CREATE TRIGGER jobs_insert_guard
	BEFORE INSERT ON automation.jobs
	FOR EACH ROW EXECUTE FUNCTION automation._jobs_insert_guard();
CREATE TRIGGER jobs_update_guard
	BEFORE UPDATE ON automation.jobs
	FOR EACH ROW
	WHEN ((OLD.id, OLD.source, OLD.workflow_id, OLD.rule_id, OLD.action_type, OLD.entity,
		   OLD.record_key, OLD.tenant_id, OLD.payload, OLD.depth, OLD.run_as,
		   OLD.idempotency_key, OLD.created_at)
		  IS DISTINCT FROM
		  (NEW.id, NEW.source, NEW.workflow_id, NEW.rule_id, NEW.action_type, NEW.entity,
		   NEW.record_key, NEW.tenant_id, NEW.payload, NEW.depth, NEW.run_as,
		   NEW.idempotency_key, NEW.created_at)
		  OR (OLD.status IN ('succeeded', 'dead') AND NEW.status IS DISTINCT FROM OLD.status))
	EXECUTE FUNCTION automation._jobs_guard();
REVOKE ALL ON FUNCTION automation._jobs_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION automation._jobs_insert_guard() FROM PUBLIC;

/*
 * Database actions (46_database_actions.sql): type names schema-qualified
 * (never resolved through the caller's pg_temp), keys compared with their
 * type's own equality operator, the record found by tenant and key, and
 * execute_job runs a job only for its definition, as the definition's
 * creator.  _set_column, _tag and _unwritten_reason take the entity row and
 * the job's tenant now.
 */
DROP FUNCTION automation._unwritten_reason(name, regclass, text, text);
DROP FUNCTION automation._set_column(name, regclass, text, text, text, text);
DROP FUNCTION automation._tag(name, regclass, text, text, text, text, boolean);
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
CREATE OR REPLACE FUNCTION automation._column_type(rel regclass, col text)
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
REVOKE ALL ON FUNCTION automation._type_sql(oid, integer), automation._eq_sql(regclass, text),
	automation._record_where(automation.entities, text),
	automation._unwritten_reason(name, automation.entities, text, text),
	automation._set_column(name, automation.entities, text, text, text, text),
	automation._tag(name, automation.entities, text, text, text, text, boolean) FROM PUBLIC;

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
CREATE OR REPLACE FUNCTION automation.execute_job(id bigint)
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
	IF job.action_type NOT IN ('update_field', 'change_stage', 'tag', 'untag',
							   'assign_user', 'create_task', 'notify') THEN
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

	config := job.payload -> 'config';
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
										  coalesce(config ->> 'stage_field', 'stage_id'),
										  config ->> 'stage_id');
		action_result := jsonb_build_object('updated', written, 'field', coalesce(config ->> 'stage_field', 'stage_id'),
									 'value', config -> 'stage_id');
	WHEN 'tag', 'untag' THEN
		written := automation._tag(def_role, ent, job.record_key, job.tenant_id,
								   coalesce(config ->> 'tags_field', 'tags'), config ->> 'tag',
								   job.action_type = 'tag');
		action_result := jsonb_build_object('updated', written, 'field', coalesce(config ->> 'tags_field', 'tags'),
									 'tag', config ->> 'tag');
	WHEN 'assign_user' THEN
		member := automation._next_pool_member((config ->> 'assign_pool_id')::uuid);
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  coalesce(config ->> 'assign_field', 'owner_id'), member);
		action_result := jsonb_build_object('updated', written, 'field', coalesce(config ->> 'assign_field', 'owner_id'),
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

/* NOTIFY automation_alerts carries {"id", "kind"} only (00_schema.sql). */
/*
 * _raise_alert: record an alert and wake its listeners.  Alerts are rare, so
 * a NOTIFY per alert is fine here (unlike jobs).  The payload is
 * {"id", "kind"} only: any role may LISTEN, so it carries nothing a tenant
 * must not see; listeners read the row from automation.alerts, where
 * row-level security applies.
 */
CREATE OR REPLACE FUNCTION automation._raise_alert(kind text, message text,
	details jsonb DEFAULT '{}', workflow_id text DEFAULT NULL,
	rule_id uuid DEFAULT NULL, job_id bigint DEFAULT NULL,
	tenant_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	alert_id bigint;
BEGIN
	INSERT INTO automation.alerts (kind, message, details, workflow_id,
								   rule_id, job_id, tenant_id)
	VALUES (kind, message, coalesce(details, '{}'), workflow_id, rule_id,
			job_id, tenant_id)
	RETURNING id INTO alert_id;
	/* any role may LISTEN: ids only; listeners read the row under RLS */
	PERFORM pg_notify('automation_alerts',
					  json_build_object('id', alert_id, 'kind', kind)::text);
	RETURN alert_id;
END
$$;

/*
 * Idempotency keys are per tenant: the primary key on (kind, key) becomes a
 * unique index on (tenant, kind, key).  Existing keys stay (they are unique
 * on the wider key too).
 */
ALTER TABLE automation.idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
CREATE UNIQUE INDEX idempotency_keys_key
	ON automation.idempotency_keys ((coalesce(tenant_id, '')), kind, key);
/*
 * _idempotency_lookup: the stored response of (kind, key) for request, or
 * NULL when the caller should create (after which it calls
 * _idempotency_store in the same transaction).
 */
CREATE OR REPLACE FUNCTION automation._idempotency_lookup(kind text, key uuid, request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.idempotency_keys;
	tenant constant text := coalesce(current_setting('automation.tenant', true), '');
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('automation.idempotency:' || tenant || ':' || kind || ':' || key::text, 0));
	SELECT * INTO r FROM automation.idempotency_keys i
	 WHERE coalesce(i.tenant_id, '') = tenant AND i.kind = _idempotency_lookup.kind AND i.key = _idempotency_lookup.key;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF r.created_at < now() - interval '24 hours' THEN
		DELETE FROM automation.idempotency_keys i
		 WHERE coalesce(i.tenant_id, '') = tenant AND i.kind = _idempotency_lookup.kind AND i.key = _idempotency_lookup.key;
		RETURN NULL;
	END IF;
	IF r.request IS DISTINCT FROM request THEN
		PERFORM automation._err('22023', 'idempotency_key was already used with a different body',
								format('key %s was first used at %s', key, automation._iso(r.created_at)),
								'send the same body again, or use a new key for a new request');
	END IF;
	RETURN r.response;
END
$$;

/*
 * watch(): the key column must be unique, alone or with the tenant column
 * (20_entities.sql).  Entities watched before 0.3.0 are left as they are
 * (no row is re-validated); a WARNING names each one whose key is not
 * unique, and database actions on it find the row by tenant and key.
 */
DO $$
DECLARE
	e record;
BEGIN
	FOR e IN SELECT x.name, x.relation, x.key_column, x.tenant_column FROM automation.entities x
			  WHERE NOT EXISTS (
				SELECT 1 FROM pg_catalog.pg_index i
				 WHERE i.indrelid = x.relation AND i.indisunique AND i.indisvalid
				   AND i.indpred IS NULL AND i.indexprs IS NULL
				   AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
						  FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) AS k(attnum)
						  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
					   IN (ARRAY[x.key_column::text],
						   (SELECT array_agg(c ORDER BY c) FROM unnest(ARRAY[x.key_column::text, x.tenant_column::text]) c
							 WHERE x.tenant_column IS NOT NULL AND x.tenant_column <> x.key_column)))
			  ORDER BY x.name
	LOOP
		RAISE WARNING 'automation: the key column % of watched entity % (%) is not unique', e.key_column, e.name, e.relation
			USING DETAIL = 'a database action updates every row with the job''s key (and tenant); 0.3.0 watch() would refuse this table',
				  HINT = 'create a unique index on the key column, or on the tenant and key columns';
	END LOOP;
END
$$;

/*
 * A tenant's worker records the 'job_dead' alert of its own tenant's dead
 * job (70_tenancy.sql).
 */
/* one job_dead alert per dead job from a tenant's worker (70_tenancy.sql) */
/*
 * _job_dead_alerted: has job_id its job_dead alert already?  SECURITY
 * DEFINER so that the INSERT policy on alerts can ask without reading alerts
 * under its own policies (a policy may not query its table).  Reads only.
 */
CREATE FUNCTION automation._job_dead_alerted(job_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM automation.alerts a
					WHERE a.kind = 'job_dead' AND a.job_id = _job_dead_alerted.job_id)
$$;

REVOKE ALL ON FUNCTION automation._job_dead_alerted(bigint) FROM PUBLIC;
CREATE POLICY tenant_insert ON automation.alerts FOR INSERT
	WITH CHECK (kind = 'job_dead' AND tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant())
				AND EXISTS (SELECT 1 FROM automation.jobs j WHERE j.id = job_id AND j.status = 'dead')
				AND NOT automation._job_dead_alerted(job_id));

/* grant_role: the exact grants of a role kind (75_grants.sql). */
/*
 * 75_grants.sql: automation.grant_role(role, kind), the exact grants of a
 * role kind (doc/security.md, doc/tenancy.md).
 *
 * Nothing in schema automation is granted to PUBLIC, and the public API
 * functions are SECURITY INVOKER: they call the internal automation._*
 * helpers as the caller, so a role needs EXECUTE on those helpers too, but
 * never on the internal functions that act with more than the caller's
 * rights.  grant_role computes the set from the catalog when it is called
 * (run it again after ALTER EXTENSION automation UPDATE):
 *
 *   helpers  = the automation._* functions that are SECURITY INVOKER SQL or
 *              PL/pgSQL and not trigger functions, plus the C helpers that
 *              run with the caller's rights or show only what the caller
 *              may see (_new_workflow_id, _form_key_parse,
 *              _merge_token_paths, _invoker, _breaker_state, _breaker_reset,
 *              _explain); never _execute_as, _check_preload, _wakeups_sent,
 *              a trigger function or a SECURITY DEFINER internal function;
 *   worker entry points = claim_jobs, complete_job, complete_jobs,
 *              fail_job, next_job_at, execute_job, run_database_jobs;
 *   admin    = USAGE on the schema; EXECUTE on the helpers and on every
 *              other public function; SELECT, INSERT, UPDATE, DELETE on the
 *              definition tables (entities, workflows, rules,
 *              rule_conditions, rule_actions, user_pools, user_pool_members,
 *              channels, idempotency_keys); SELECT and DELETE on the
 *              history (jobs, firings, alerts, notifications), UPDATE
 *              (read_at) on notifications; SELECT on circuit_breakers; USAGE
 *              on the sequences of rule_conditions and rule_actions;
 *   worker   = USAGE on the schema; EXECUTE on the helpers and the worker
 *              entry points; SELECT and UPDATE of the queue columns (status,
 *              attempts, max_attempts, run_after, locked_by, locked_until,
 *              last_error, result, finished_at) on jobs; SELECT on channels;
 *              SELECT and INSERT on alerts (a dead job's alert), USAGE on
 *              its sequence.
 *
 * Row-level security still applies: a role bound to a tenant
 * (automation_tenant_<id>) acts for that tenant only; a worker for every
 * tenant needs BYPASSRLS, which only a superuser can give (ALTER ROLE).
 * Only the extension owner or a superuser may call grant_role (42501).
 * Returns the statements it ran, in order.
 */
CREATE FUNCTION automation.grant_role(role regrole, kind text)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	worker_entry constant text[] := ARRAY['claim_jobs', 'complete_job', 'complete_jobs', 'fail_job',
										  'next_job_at', 'execute_job', 'run_database_jobs'];
	c_helpers constant text[] := ARRAY['_new_workflow_id', '_form_key_parse', '_merge_token_paths',
									   '_invoker', '_breaker_state', '_breaker_reset', '_explain',
									   '_value_parses_as_owner', '_input_type'];
	stmts text[] := '{}';
	funcs text;
	s text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r, pg_catalog.pg_extension e
					WHERE r.rolname = current_user AND e.extname = 'automation'
					  AND (r.rolsuper OR r.oid = e.extowner)) THEN
		PERFORM automation._err('42501', 'permission denied for function automation.grant_role',
								format('role %s is not the owner of extension automation', current_user),
								'call it as the extension owner or a superuser');
	END IF;
	IF role IS NULL THEN
		PERFORM automation._err('22023', 'role must not be null', NULL, NULL);
	END IF;
	IF kind IS NULL OR kind NOT IN ('admin', 'worker') THEN
		PERFORM automation._err('22023', format('invalid kind %s', automation._show(kind)),
								NULL, 'use ''admin'' (definitions) or ''worker'' (the queue)');
	END IF;
	SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.proname, p.oid::regprocedure::text) INTO funcs
	  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
	 WHERE p.pronamespace = 'automation'::regnamespace
	   AND CASE
		   WHEN p.proname LIKE '\_%' THEN
				(l.lanname IN ('sql', 'plpgsql') AND NOT p.prosecdef
				 AND p.prorettype <> 'pg_catalog.trigger'::regtype)
				OR (l.lanname = 'c' AND p.proname = ANY (c_helpers))
				/* watch() creates the row trigger as the caller; it acts only on watched tables */
				OR (kind = 'admin' AND p.proname = '_row_trigger')
				/* the INSERT policy on alerts asks it as the worker (fail_job's job_dead alert) */
				OR p.proname = '_job_dead_alerted'
		   WHEN kind = 'worker' THEN p.proname = ANY (worker_entry)
		   ELSE NOT (p.proname = ANY (worker_entry) OR p.proname = 'grant_role')
		   END;
	stmts := stmts || format('GRANT USAGE ON SCHEMA automation TO %s', role);
	stmts := stmts || format('GRANT EXECUTE ON FUNCTION %s TO %s', funcs, role);
	IF kind = 'admin' THEN
		stmts := stmts || format('GRANT SELECT, INSERT, UPDATE, DELETE ON automation.entities, automation.workflows, '
								 'automation.rules, automation.rule_conditions, automation.rule_actions, '
								 'automation.user_pools, automation.user_pool_members, automation.channels, '
								 'automation.idempotency_keys TO %s', role);
		stmts := stmts || format('GRANT SELECT, DELETE ON automation.jobs, automation.firings, automation.alerts, '
								 'automation.notifications TO %s', role);
		stmts := stmts || format('GRANT UPDATE (read_at) ON automation.notifications TO %s', role);
		stmts := stmts || format('GRANT SELECT ON automation.circuit_breakers TO %s', role);
		stmts := stmts || format('GRANT USAGE ON SEQUENCE automation.rule_conditions_id_seq, '
								 'automation.rule_actions_id_seq TO %s', role);
	ELSE
		stmts := stmts || format('GRANT SELECT, UPDATE (status, attempts, max_attempts, run_after, locked_by, '
								 'locked_until, last_error, result, finished_at) ON automation.jobs TO %s', role);
		stmts := stmts || format('GRANT SELECT ON automation.channels TO %s', role);
		stmts := stmts || format('GRANT SELECT, INSERT ON automation.alerts TO %s', role);
		stmts := stmts || format('GRANT USAGE ON SEQUENCE automation.alerts_id_seq TO %s', role);
	END IF;
	FOREACH s IN ARRAY stmts LOOP
		EXECUTE s;
	END LOOP;
	RETURN stmts;
END
$$;
REVOKE ALL ON FUNCTION automation.grant_role(regrole, text) FROM PUBLIC;

/*
 * A superuser's definition may run database actions only on tables of a
 * superuser: the table owner's triggers and casts would otherwise run as a
 * superuser (doc/security.md).  Checked at creation and when a job runs.
 * (Fresh installs: sql/install/15_actions_validate.sql, 46_database_actions.sql.)
 */
CREATE FUNCTION automation._check_target_owner(creator name, rel regclass, field text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	owner name;
BEGIN
	SELECT c.relowner::regrole::name INTO owner FROM pg_catalog.pg_class c WHERE c.oid = rel;
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = creator)
	   AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = owner) THEN
		PERFORM automation._err('42501', format('permission denied for %s', field),
								format('%s would write table %s of role %s as superuser %s: that role''s triggers and casts would run as a superuser',
									   field, rel::text, automation._show(owner), automation._show(creator)),
								format('create the definition as %s, or as a role with just the privileges it needs', automation._show(owner)));
	END IF;
END
$$;
REVOKE ALL ON FUNCTION automation._check_target_owner(name, regclass, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION automation._check_column_privilege(creator name, rel regclass, col name,
												   priv text, field text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n smallint;
BEGIN
	PERFORM automation._check_target_owner(creator, rel, field);
	SELECT a.attnum INTO n FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF n IS NULL OR NOT has_column_privilege(creator, rel, n, priv) THEN
		PERFORM automation._err('42501', format('permission denied for %s', field),
								format('role %s lacks %s on %s column %s', automation._show(creator), priv,
									   rel::text, automation._show(col)),
								format('grant %s on the column to that role, or create the definition as a role that has it', priv));
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION automation._validate_action(action text, config jsonb, entity text,
											kind text, field text, creator name, tenant text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cfg jsonb := config;
	allowed text[];
	required text[];
	k text;
	v jsonb;
	f automation._field;
	rel regclass;
	s text;
	n bigint;
	att record;
BEGIN
	IF cfg IS NULL OR jsonb_typeof(cfg) <> 'object' THEN
		PERFORM automation._err('22023', format('%s must be an object', field),
								format('got %s', automation._show_json(cfg)),
								'give the action''s keys as a JSON object');
	END IF;
	IF octet_length(cfg::text) > 65536 THEN
		PERFORM automation._err('22023', format('%s is too large', field),
								format('%s bytes, limit 65536', octet_length(cfg::text)));
	END IF;

	CASE action
		WHEN 'webhook' THEN
			allowed := '{url,method,headers,body}'; required := '{url}';
		WHEN 'send_channel_message' THEN
			allowed := '{channel,recipient,message}'; required := '{channel,message}';
		WHEN 'send_email' THEN
			allowed := '{to,subject,body,cc,bcc,reply_to}'; required := '{to,subject,body}';
		WHEN 'update_field' THEN
			allowed := '{field,value}'; required := '{field,value}';
		WHEN 'create_task' THEN
			allowed := NULL; required := '{}';
		WHEN 'assign_user' THEN
			allowed := '{assign_pool_id,assign_field}'; required := '{assign_pool_id}';
		WHEN 'change_stage' THEN
			allowed := '{stage_id,stage_field}'; required := '{stage_id}';
		WHEN 'tag', 'untag' THEN
			allowed := '{tag,tags_field}'; required := '{tag}';
		WHEN 'notify' THEN
			allowed := '{recipient,message}'; required := '{recipient,message}';
		ELSE
			PERFORM automation._err('22023', format('invalid action type %s', automation._show(action)));
	END CASE;
	IF allowed IS NOT NULL THEN
		PERFORM automation._check_keys(cfg, allowed || '{delay_minutes}'::text[], field);
	END IF;
	FOREACH k IN ARRAY required LOOP
		IF NOT cfg ? k THEN
			PERFORM automation._err('22023', format('%s.%s is required', field, k),
									format('%s for %s needs: %s', field, action, array_to_string(required, ', ')),
									format('add "%s" to %s', k, field));
		END IF;
	END LOOP;

	IF cfg ? 'delay_minutes' THEN
		n := automation._json_int(cfg, 'delay_minutes', field || '.delay_minutes', 0, 525600, true, true);
		IF n IS NULL THEN
			cfg := cfg - 'delay_minutes';
		ELSE
			cfg := jsonb_set(cfg, '{delay_minutes}', to_jsonb(n));
		END IF;
	END IF;

	IF action = 'webhook' THEN
		s := automation._check_template(cfg -> 'url', field || '.url', entity, kind, true, true);
		PERFORM automation._check_url(s, field || '.url');
		IF cfg ? 'method' THEN
			s := automation._json_text(cfg, 'method', field || '.method');
			IF s IS NULL OR upper(s) NOT IN ('POST', 'PUT', 'PATCH') THEN
				PERFORM automation._err('22023', format('invalid %s.method %s', field, automation._show(s)),
										NULL, 'use POST, PUT or PATCH');
			END IF;
			cfg := jsonb_set(cfg, '{method}', to_jsonb(upper(s)));
		END IF;
		IF cfg ? 'headers' THEN
			v := cfg -> 'headers';
			IF jsonb_typeof(v) <> 'object' THEN
				PERFORM automation._err('22023', format('%s.headers must be an object of strings', field),
										format('got %s', automation._show_json(v)));
			END IF;
			FOR k IN SELECT jsonb_object_keys(v) LOOP
				IF k !~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]{1,128}$' THEN
					PERFORM automation._err('22023', format('invalid header name %s in %s.headers', automation._show(k), field),
											NULL, 'header names are letters, digits and !#$%&''*+.^_`|~-');
				END IF;
				IF lower(k) IN ('host', 'content-length', 'transfer-encoding', 'connection',
								'idempotency-key', 'x-automation-signature') THEN
					PERFORM automation._err('22023', format('header %s in %s.headers is set by the worker', automation._show(k), field),
											NULL, 'remove it');
				END IF;
				PERFORM automation._check_template(v -> k, format('%s.headers.%s', field, k), entity, kind, true, false);
			END LOOP;
		END IF;
		IF cfg ? 'body' THEN
			BEGIN
				FOR v IN SELECT x FROM jsonb_path_query(cfg -> 'body', 'strict $.**') AS x
						  WHERE jsonb_typeof(x) = 'string' LOOP
					PERFORM automation._check_template(v, field || '.body', entity, kind);
				END LOOP;
			EXCEPTION WHEN statement_too_complex OR program_limit_exceeded THEN
				PERFORM automation._err('22023', format('%s.body is nested too deeply', field),
										'its nesting exhausted the stack while it was checked',
										'flatten the body');
			END;
		END IF;

	ELSIF action = 'send_channel_message' THEN
		s := automation._json_text(cfg, 'channel', field || '.channel', true);
		/* the definition's tenant's channel or a global one (25_channels.sql) */
		IF NOT EXISTS (SELECT 1 FROM automation.channels c
						WHERE c.name = s AND (c.tenant_id IS NULL OR c.tenant_id = tenant)) THEN
			PERFORM automation._err('22023', format('channel %s does not exist', automation._show(s)),
									CASE WHEN tenant IS NULL
										 THEN format('%s.channel names no global channel', field)
										 ELSE format('%s.channel names no channel of tenant %s nor a global one', field, automation._show(tenant)) END,
									'create it with automation.create_channel(name, url)');
		END IF;
		PERFORM automation._check_template(cfg -> 'recipient', field || '.recipient', entity, kind, true);
		PERFORM automation._check_template(cfg -> 'message', field || '.message', entity, kind, false, true);

	ELSIF action = 'send_email' THEN
		PERFORM automation._check_template(cfg -> 'to', field || '.to', entity, kind, true, true);
		PERFORM automation._check_template(cfg -> 'subject', field || '.subject', entity, kind, true, true);
		PERFORM automation._check_template(cfg -> 'body', field || '.body', entity, kind, false, true);
		PERFORM automation._check_template(cfg -> 'cc', field || '.cc', entity, kind, true);
		PERFORM automation._check_template(cfg -> 'bcc', field || '.bcc', entity, kind, true);
		PERFORM automation._check_template(cfg -> 'reply_to', field || '.reply_to', entity, kind, true);

	ELSIF action = 'update_field' THEN
		f := automation._column_field(entity, cfg -> 'field', field || '.field');
		PERFORM automation._check_db_value(f, cfg -> 'value', field || '.value', entity, kind);
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action = 'create_task' THEN
		SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = 'task';
		IF rel IS NULL THEN
			PERFORM automation._err('22023', format('%s: create_task needs an entity named task', field),
									'no table is watched as task',
									'call automation.watch(''task'', ''<schema>.<tasks table>'')');
		END IF;
		FOR k IN SELECT jsonb_object_keys(cfg) ORDER BY 1 LOOP
			CONTINUE WHEN k = 'delay_minutes';
			IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
							WHERE a.attrelid = rel AND a.attname = k AND a.attnum > 0
							  AND NOT a.attisdropped) THEN
				PERFORM automation._err('22023', format('unknown key %s in %s', automation._show(k), field),
										format('task table %s has no column %s', rel::text, automation._show(k)),
										'the keys of a create_task action are columns of the task table');
			END IF;
			f := automation._resolve_field('task', k, format('%s.%s', field, k));
			PERFORM automation._check_db_value(f, cfg -> k, format('%s.%s', field, k), entity, kind);
		END LOOP;
		FOR att IN SELECT a.attname FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
					  AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = ''
					  AND a.attgenerated = '' AND NOT cfg ? a.attname::text
					ORDER BY a.attnum LOOP
			PERFORM automation._err('22023', format('%s.%s is required', field, att.attname),
									format('column %s of %s is NOT NULL without a default', automation._show(att.attname), rel::text),
									format('add "%s" to %s', att.attname, field));
		END LOOP;
		PERFORM automation._check_target_owner(creator, rel, field);
		IF NOT has_table_privilege(creator, rel, 'INSERT') THEN
			PERFORM automation._err('42501', format('permission denied for %s', field),
									format('role %s lacks INSERT on %s', automation._show(creator), rel::text),
									'grant INSERT on the task table to that role, or create the definition as a role that has it');
		END IF;

	ELSIF action = 'assign_user' THEN
		s := automation._json_text(cfg, 'assign_pool_id', field || '.assign_pool_id', true);
		IF s !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
			PERFORM automation._err('22023', format('%s.assign_pool_id must be a uuid', field),
									format('got %s', automation._show(s)),
									'give the id returned by automation.create_user_pool()');
		END IF;
		IF NOT EXISTS (SELECT 1 FROM automation.user_pools p WHERE p.id = s::uuid) THEN
			PERFORM automation._err('22023', format('user pool %s does not exist', automation._show(s)),
									format('%s.assign_pool_id names no row of automation.user_pools', field),
									'create it with automation.create_user_pool(name, members)');
		END IF;
		cfg := jsonb_set(cfg, '{assign_pool_id}', to_jsonb(s::uuid::text));
		IF NOT cfg ? 'assign_field' THEN
			cfg := cfg || '{"assign_field": "owner_id"}';
		END IF;
		f := automation._column_field(entity, cfg -> 'assign_field', field || '.assign_field');
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action = 'change_stage' THEN
		IF NOT cfg ? 'stage_field' THEN
			cfg := cfg || '{"stage_field": "stage_id"}';
		END IF;
		f := automation._column_field(entity, cfg -> 'stage_field', field || '.stage_field');
		IF jsonb_typeof(cfg -> 'stage_id') = 'null' THEN
			PERFORM automation._err('22023', format('%s.stage_id must not be null', field));
		END IF;
		PERFORM automation._check_db_value(f, cfg -> 'stage_id', field || '.stage_id', entity, kind);
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action IN ('tag', 'untag') THEN
		IF NOT cfg ? 'tags_field' THEN
			cfg := cfg || '{"tags_field": "tags"}';
		END IF;
		f := automation._column_field(entity, cfg -> 'tags_field', field || '.tags_field');
		IF f.category <> 'A' THEN
			PERFORM automation._err('22023', format('%s.tags_field must name an array column', field),
									format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
									'tags live in an array column such as tags text[]');
		END IF;
		IF jsonb_typeof(cfg -> 'tag') <> 'string' THEN
			PERFORM automation._err('22023', format('%s.tag must be a string', field),
									format('got %s', automation._show_json(cfg -> 'tag')));
		END IF;
		IF btrim(cfg ->> 'tag') = '' THEN
			PERFORM automation._err('22023', format('%s.tag must not be empty', field));
		END IF;
		PERFORM automation._check_db_value(f, cfg -> 'tag', field || '.tag', entity, kind, true);
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action = 'notify' THEN
		PERFORM automation._check_template(cfg -> 'recipient', field || '.recipient', entity, kind, true, true);
		PERFORM automation._check_template(cfg -> 'message', field || '.message', entity, kind, false, true);
	END IF;
	RETURN cfg;
END
$$;

/*
 * Firings that still count are not deleted by anyone subject to row-level
 * security: today's (the breakers are rebuilt from them after a restart) and
 * those inside their rule's cooldown window.  prune() keeps them too.
 * (0.3.0; before, a tenant's DELETE lifted a global breaker after a restart
 * and ended a cooldown at once.)
 */
CREATE POLICY firings_settled ON automation.firings AS RESTRICTIVE FOR DELETE
	USING (fired_at < pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		   AND NOT EXISTS (SELECT 1 FROM automation.rules r
						    WHERE r.id = rule_id AND r.cooldown_hours > 0
							  AND fired_at > pg_catalog.now() - pg_catalog.make_interval(hours => r.cooldown_hours)));


/*
 * Watched tables' key and tenant columns are followed through renames and
 * cannot be dropped while watched: entities keep the columns' numbers, an
 * event trigger at the end of ALTER TABLE follows them.
 * (Fresh installs: sql/install/00_schema.sql, 20_entities.sql.)
 */
ALTER TABLE automation.entities ADD COLUMN key_attnum smallint;
ALTER TABLE automation.entities ADD COLUMN tenant_attnum smallint;
UPDATE automation.entities e
   SET key_attnum = (SELECT a.attnum FROM pg_catalog.pg_attribute a
					  WHERE a.attrelid = e.relation AND a.attname = e.key_column
						AND a.attnum > 0 AND NOT a.attisdropped),
	   tenant_attnum = (SELECT a.attnum FROM pg_catalog.pg_attribute a
						 WHERE a.attrelid = e.relation AND a.attname = e.tenant_column
						   AND a.attnum > 0 AND NOT a.attisdropped);
CREATE FUNCTION automation._follow_columns()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e automation.entities;
	key_name name;
	tenant_name name;
BEGIN
	IF TG_EVENT = 'sql_drop' THEN
		/* a column dropped by a cascade (DROP DOMAIN / TYPE ... CASCADE) */
		SELECT x.* INTO e FROM automation.entities x,
			   pg_catalog.pg_event_trigger_dropped_objects() d
		 WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = x.relation::oid
		   AND d.objsubid > 0 AND d.objsubid IN (x.key_attnum, x.tenant_attnum)
		   AND d.object_type = 'table column'
		 LIMIT 1;
		IF FOUND THEN
			PERFORM automation._err('2BP01',
				format('cannot drop a column of %s: it is the key or tenant column of watched entity %s',
					   e.relation::text, automation._show(e.name)),
				'the record key and the tenant of every firing are read from it',
				format('call automation.unwatch(%L) first', e.name));
		END IF;
		RETURN;
	END IF;
	FOR e IN SELECT x.* FROM automation.entities x
			  WHERE x.relation::oid IN (SELECT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
										 WHERE c.classid = 'pg_catalog.pg_class'::regclass)
	LOOP
		CONTINUE WHEN e.key_attnum IS NULL;		/* watched before 0.3.0 and never updated */
		SELECT a.attname INTO key_name FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = e.relation AND a.attnum = e.key_attnum AND NOT a.attisdropped;
		SELECT a.attname INTO tenant_name FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = e.relation AND a.attnum = e.tenant_attnum AND NOT a.attisdropped;
		IF key_name IS NULL OR (e.tenant_attnum IS NOT NULL AND tenant_name IS NULL) THEN
			PERFORM automation._err('2BP01',
				format('cannot drop column %s of %s: it is the %s column of watched entity %s',
					   CASE WHEN key_name IS NULL THEN e.key_column ELSE e.tenant_column END, e.relation::text,
					   CASE WHEN key_name IS NULL THEN 'key' ELSE 'tenant' END, automation._show(e.name)),
				'the record key and the tenant of every firing are read from it',
				format('call automation.unwatch(%L) first', e.name));
		END IF;
		IF key_name <> e.key_column OR tenant_name IS DISTINCT FROM e.tenant_column THEN
			UPDATE automation.entities x SET key_column = key_name, tenant_column = tenant_name
			 WHERE x.name = e.name;
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION automation._follow_columns() FROM PUBLIC;
/*
 * PostgreSQL lets RENAME COLUMN name the relation as a view, foreign table
 * or materialized view whatever it is: every such tag is followed.
 */
CREATE EVENT TRIGGER automation_follow_columns ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'ALTER VIEW', 'ALTER FOREIGN TABLE', 'ALTER MATERIALIZED VIEW')
	EXECUTE FUNCTION automation._follow_columns();
CREATE EVENT TRIGGER automation_keep_columns ON sql_drop
	EXECUTE FUNCTION automation._follow_columns();

/* explain: a dropped watched table is P0002, not a syntax error (sql/install/60_engine.sql) */
CREATE OR REPLACE FUNCTION automation.explain(entity text, new_row jsonb,
	old_row jsonb DEFAULT NULL)
RETURNS TABLE (source text, id text, name text, fires boolean, reason text,
			   conditions jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
BEGIN
	IF entity IS NULL THEN
		RAISE EXCEPTION 'entity must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = explain.entity;
	IF rel IS NULL THEN
		RAISE EXCEPTION 'entity "%" is not watched', entity
			USING ERRCODE = 'no_data_found',
				  HINT = 'Watch its table first with automation.watch().';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = rel) THEN
		RAISE EXCEPTION 'the table of entity "%" no longer exists', entity
			USING ERRCODE = 'no_data_found',
				  HINT = 'Unwatch the entity with automation.unwatch().';
	END IF;
	IF new_row IS NULL AND old_row IS NULL THEN
		RAISE EXCEPTION 'new_row and old_row must not both be null'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give new_row for an insert, both for an update, old_row alone for a delete.';
	END IF;
	/* each row is checked against the table by the C function, as the table's owner */
	RETURN QUERY SELECT * FROM automation._explain(entity, new_row, old_row);
END
$$;

/*
 * An active definition its table no longer fits (a dropped or retyped
 * column, a constant that no longer parses) is skipped by the engine, shown
 * by explain() and reported once as a 'definition_skipped' alert.
 * (Fresh installs: sql/install/00_schema.sql.)
 */
ALTER TABLE automation.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE automation.alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN
	('circuit_breaker', 'job_dead', 'depth_limit', 'definition_skipped'));

/*
 * watch() refuses a Citus distributed, reference or local table (0A000):
 * Citus writes their rows in shards, where no entity is watched, and nothing
 * fired, silently (issue 11 item 15; doc/citus.md).
 * (Fresh installs: sql/install/20_entities.sql.)
 */
/* _entities_validate: BEFORE INSERT OR UPDATE on automation.entities. */
CREATE OR REPLACE FUNCTION automation._entities_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cls record;
	pk name[];
	citus_type text;
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		/* the columns by number too: renames are followed (_follow_columns) */
		NEW.key_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
							WHERE a.attrelid = NEW.relation AND a.attname = NEW.key_column
							  AND a.attnum > 0 AND NOT a.attisdropped);
		NEW.tenant_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
							   WHERE a.attrelid = NEW.relation AND a.attname = NEW.tenant_column
								 AND a.attnum > 0 AND NOT a.attisdropped);
		RETURN NEW;
	END IF;
	IF NEW.name IS NULL OR NEW.name !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
		PERFORM automation._err('22023', format('invalid entity name %s', automation._show(NEW.name)),
								'an entity name is a lower-case identifier of at most 63 characters',
								'use letters a-z, digits and _, starting with a letter or _, e.g. deal');
	END IF;
	IF NEW.name IN ('old', 'event', 'workflow', 'rule') THEN
		PERFORM automation._err('22023', format('entity name %s is reserved', automation._show(NEW.name)),
								'old, event, workflow and rule are merge-token prefixes',
								'choose another name');
	END IF;
	IF TG_OP = 'UPDATE' AND (NEW.name <> OLD.name OR NEW.relation <> OLD.relation) THEN
		PERFORM automation._err('22023', 'the name and relation of a watched entity cannot change',
								format('entity %s', automation._show(OLD.name)),
								'unwatch it and watch again');
	END IF;
	SELECT c.relkind, c.relpersistence, n.nspname INTO cls
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = NEW.relation;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', 'relation does not exist',
								format('oid %s', NEW.relation::oid));
	END IF;
	IF cls.relkind NOT IN ('r', 'p') THEN
		PERFORM automation._err('22023', format('relation %s is not a table', NEW.relation::text),
								format('relkind is %s', automation._show(cls.relkind::text)),
								'watch an ordinary or partitioned table');
	END IF;
	IF cls.relpersistence = 't' THEN
		PERFORM automation._err('22023', format('relation %s is a temporary table', NEW.relation::text),
								NULL, 'watch a permanent table');
	END IF;
	IF cls.nspname IN ('automation', 'pg_catalog', 'information_schema') OR cls.nspname LIKE 'pg\_toast%' THEN
		PERFORM automation._err('22023', format('relation %s is in system schema %s', NEW.relation::text, cls.nspname),
								NULL, 'watch a table of the application');
	END IF;
	/*
	 * A Citus table (distributed, reference or Citus local) is refused
	 * (0A000): Citus writes its rows in shards, other relations (on the
	 * workers, or on the coordinator for a local table), where the row
	 * trigger finds no watched entity: nothing would ever fire, silently.
	 * Read through Citus's catalog only when citus is installed, by
	 * dynamic SQL: without Citus the table does not exist.  See doc/citus.md.
	 */
	IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension x WHERE x.extname = 'citus')
	   AND pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
		EXECUTE 'SELECT CASE WHEN p.partkey IS NOT NULL THEN ''distributed'' '
				'WHEN p.repmodel = ''t'' THEN ''reference'' '
				'WHEN p.colocationid = 0 THEN ''local'' ELSE ''distributed'' END '
				'FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1'
		   INTO citus_type USING NEW.relation;
		IF citus_type IS NOT NULL THEN
			PERFORM automation._err('0A000',
				format('cannot watch %s: it is a Citus %s table', NEW.relation::text, citus_type),
				'Citus writes the rows of its tables in shards, where no entity is watched: '
				'no write to it would fire automation',
				format('watch a table Citus does not manage (undistribute_table(%L) makes it one); see doc/citus.md',
					   NEW.relation::text));
		END IF;
	END IF;
	IF NEW.key_column IS NULL THEN
		SELECT array_agg(a.attname ORDER BY k.ord) INTO pk
		  FROM pg_catalog.pg_index i
		  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		 WHERE i.indrelid = NEW.relation AND i.indisprimary;
		IF pk IS NULL THEN
			PERFORM automation._err('22023', format('table %s has no primary key', NEW.relation::text),
									'key_column defaults to the single-column primary key',
									'pass key_column => ''<column>'' naming a unique column');
		END IF;
		IF cardinality(pk) > 1 THEN
			PERFORM automation._err('22023', format('table %s has a composite primary key', NEW.relation::text),
									format('primary key columns: %s', array_to_string(pk, ', ')),
									'pass key_column => ''<column>'' naming a single unique column');
		END IF;
		NEW.key_column := pk[1];
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = NEW.relation AND a.attname = NEW.key_column
					  AND a.attnum > 0 AND NOT a.attisdropped) THEN
		PERFORM automation._err('22023', format('key_column %s does not exist', automation._show(NEW.key_column)),
								format('table %s has no column %s', NEW.relation::text, automation._show(NEW.key_column)),
								'name an existing column (column names are case-sensitive)');
	END IF;
	IF NEW.tenant_column IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = NEW.relation AND a.attname = NEW.tenant_column
		   AND a.attnum > 0 AND NOT a.attisdropped) THEN
		PERFORM automation._err('22023', format('tenant_column %s does not exist', automation._show(NEW.tenant_column)),
								format('table %s has no column %s', NEW.relation::text, automation._show(NEW.tenant_column)),
								'name an existing column (column names are case-sensitive)');
	END IF;
	/*
	 * The key must identify one row: a database action writes the row of
	 * the job's key.  A valid, non-partial unique index (or the primary key)
	 * on exactly the key column, or, with a tenant column, on the tenant and
	 * key columns (in either order; then keys are unique per tenant and
	 * actions find the row by tenant and key).
	 */
	IF NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_index i
		 WHERE i.indrelid = NEW.relation AND i.indisunique AND i.indisvalid
		   AND i.indpred IS NULL AND i.indexprs IS NULL
		   AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
				  FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) AS k(attnum)
				  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
			   IN (ARRAY[NEW.key_column::text],
				   (SELECT array_agg(c ORDER BY c) FROM unnest(ARRAY[NEW.key_column::text, NEW.tenant_column::text]) c
					 WHERE NEW.tenant_column IS NOT NULL AND NEW.tenant_column <> NEW.key_column))) THEN
		PERFORM automation._err('22023', format('key_column %s is not unique', automation._show(NEW.key_column)),
								format('table %s has no primary key or unique index on (%s)%s', NEW.relation::text,
									   NEW.key_column,
									   CASE WHEN NEW.tenant_column IS NOT NULL AND NEW.tenant_column <> NEW.key_column
											THEN format(' or on (%s, %s)', NEW.tenant_column, NEW.key_column) ELSE '' END),
								CASE WHEN NEW.tenant_column IS NOT NULL AND NEW.tenant_column <> NEW.key_column
									 THEN format('create a unique index on (%I) or on (%I, %I), without WHERE or expressions',
												 NEW.key_column, NEW.tenant_column, NEW.key_column)
									 ELSE format('create a unique index on (%I) (without WHERE or expressions), or pass tenant_column when keys are unique per tenant',
												 NEW.key_column) END);
	END IF;
	IF TG_OP = 'INSERT' THEN
		IF EXISTS (SELECT 1 FROM automation.entities e WHERE e.name = NEW.name) THEN
			PERFORM automation._err('23505', format('entity %s is already watched', automation._show(NEW.name)),
									format('entity %s watches %s', automation._show(NEW.name),
										   (SELECT e.relation::text FROM automation.entities e WHERE e.name = NEW.name)),
									'call automation.unwatch() first');
		END IF;
		IF EXISTS (SELECT 1 FROM automation.entities e WHERE e.relation = NEW.relation) THEN
			PERFORM automation._err('23505', format('table %s is already watched', NEW.relation::text),
									format('watched as entity %s',
										   automation._show((SELECT e.name FROM automation.entities e WHERE e.relation = NEW.relation))),
									'a table is watched under one entity name');
		END IF;
	END IF;
	/* the columns by number too: renames are followed (_follow_columns) */
	NEW.key_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
						WHERE a.attrelid = NEW.relation AND a.attname = NEW.key_column
						  AND a.attnum > 0 AND NOT a.attisdropped);
	NEW.tenant_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
						   WHERE a.attrelid = NEW.relation AND a.attname = NEW.tenant_column
							 AND a.attnum > 0 AND NOT a.attisdropped);
	RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION automation._value_parses(v text, typ oid, typmod integer)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF v IS NULL THEN
		RETURN true;
	END IF;
	/* never a type whose input could reach another owner's code */
	IF automation._input_type(typ) IS NULL THEN
		RETURN false;
	END IF;
	/* a domain's CHECK runs as the domain's owner, not as the caller */
	RETURN automation._value_parses_as_owner(v, typ, typmod);
END
$$;

CREATE OR REPLACE FUNCTION automation._check_value(f automation._field, v text, field text,
										as_element boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ oid := f.type_oid;
	typmod integer := f.typmod;
BEGIN
	IF cardinality(f.json_path) > 0 THEN
		RETURN;
	END IF;
	IF as_element AND f.elem_type <> 0 THEN
		typ := f.elem_type;
		typmod := -1;
	END IF;
	IF automation._input_type(typ) IS NULL THEN
		PERFORM automation._err('22023', format('%s: values of column %s cannot be compared', field, automation._show(f.column_name)),
								format('column %s is %s: a domain inside an array, a composite or a range type runs its owner''s code when a value is parsed',
									   automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								'use a column of a built-in, enum or domain type');
	END IF;
	IF NOT automation._value_parses(v, typ, typmod) THEN
		PERFORM automation._err('22023', format('%s %s is not a valid %s', field, automation._show(v),
												format_type(typ, typmod)),
								format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								format('give a value that parses as %s', format_type(typ, typmod)));
	END IF;
END
$$;

/*
 * Values are validated as the engine parses them, never through a domain's
 * CHECK (the type owner's code, which must not run as the caller);
 * explain() builds its rows as the table's owner.  (sql/install/10_common.sql,
 * 60_engine.sql.)
 */
CREATE FUNCTION automation._input_type(typ oid)
RETURNS oid
	LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'automation_input_type';
REVOKE ALL ON FUNCTION automation._input_type(oid) FROM PUBLIC;
CREATE FUNCTION automation._value_parses_as_owner(v text, typ oid, typmod integer)
RETURNS boolean
	LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'automation_value_parses';
REVOKE ALL ON FUNCTION automation._value_parses_as_owner(text, oid, integer) FROM PUBLIC;
/*
 * Roles that may validate definitions (EXECUTE on _value_parses) need the
 * two new helpers it calls; grant them what they had.
 */
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT DISTINCT a.grantee::regrole::text AS grantee
			   FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
			  WHERE p.oid = 'automation._value_parses(text, oid, integer)'::regprocedure
				AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0
				AND a.grantee <> p.proowner
	LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION automation._value_parses_as_owner(text, oid, integer), '
					   'automation._input_type(oid) TO %s', r.grantee);
	END LOOP;
END
$$;

/*
 * Red team, pass 2: a long record key no longer fails the write (the
 * cooldown index hashes it); a tenant deletes only finished jobs.
 * (Fresh installs: sql/install/00_schema.sql, 70_tenancy.sql.)
 */
DROP INDEX automation.firings_rule_record_idx;
/* the key hashed: a record key of any length is indexable (a long key failed the write) */
CREATE INDEX firings_rule_record_idx ON automation.firings (rule_id, pg_catalog.md5(record_key), fired_at)
	WHERE rule_id IS NOT NULL;
/*
 * Jobs that have not finished are not deleted by anyone subject to
 * row-level security: a tenant cleans up its history (prune), it does not
 * cancel the queued work of global definitions.
 */
CREATE POLICY jobs_finished ON automation.jobs AS RESTRICTIVE FOR DELETE
	USING (status IN ('succeeded', 'dead'));

/*
 * payload_columns (issue 11, item 13): a workflow or rule chooses which
 * columns of its row a job's new / old carry (NULL: all of them).
 * (Fresh installs: sql/install/00_schema.sql, 30_workflows.sql, 35_rules.sql.)
 */
ALTER TABLE automation.workflows ADD COLUMN payload_columns text[];
ALTER TABLE automation.rules ADD COLUMN payload_columns text[];
CREATE OR REPLACE FUNCTION automation._workflow_json(w automation.workflows)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object(
		'id', w.id,
		'name', w.name,
		'enabled', w.enabled,
		'condition_entity', w.condition_entity,
		'condition_field', w.condition_field,
		'condition_operator', w.condition_operator,
		'condition_value', w.condition_value,
		'action_type', w.action_type,
		'action_config', w.action_config,
		'max_triggers_per_day', w.max_triggers_per_day,
		'payload_columns', w.payload_columns,
		'last_triggered_at', (SELECT automation._iso(max(f.fired_at)) FROM automation.firings f
							   WHERE f.workflow_id = w.id AND f.outcome = 'fired'),
		'triggers_today', (SELECT count(*) FROM automation.firings f
							WHERE f.workflow_id = w.id AND f.outcome = 'fired'
							  AND f.fired_at >= GREATEST(pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
													  w.breaker_reset_at)),
		'disabled_reason', w.disabled_reason,
		'created_at', automation._iso(w.created_at),
		'updated_at', automation._iso(w.updated_at))
$$;

CREATE FUNCTION automation._validate_payload_columns(entity text, cols text[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	i integer;
BEGIN
	IF cols IS NULL THEN
		RETURN;
	END IF;
	IF cardinality(cols) > 100 THEN
		PERFORM automation._err('22023', 'payload_columns must have at most 100 elements',
								format('got %s', cardinality(cols)),
								'name the columns the action needs, or pass null for all of them');
	END IF;
	SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = entity;
	IF rel IS NULL THEN
		RETURN;				/* the caller reports the unwatched entity */
	END IF;
	FOR i IN 1 .. coalesce(array_length(cols, 1), 0) LOOP
		IF cols[i] IS NULL THEN
			PERFORM automation._err('22023', format('payload_columns[%s] must not be null', i - 1),
									NULL, 'give column names as strings');
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = cols[i]
						 AND a.attnum > 0 AND NOT a.attisdropped) THEN
			PERFORM automation._err('22023', format('payload_columns[%s] %s is not a column of %s', i - 1,
													automation._show(cols[i]), automation._show(entity)),
									format('columns: %s', (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum)
															 FROM pg_attribute a WHERE a.attrelid = rel
															  AND a.attnum > 0 AND NOT a.attisdropped)),
									'name a column of the table (no entity prefix, no json keys)');
		END IF;
		IF cols[i] = ANY (cols[1:i - 1]) THEN
			PERFORM automation._err('22023', format('payload_columns[%s] %s is given twice', i - 1,
													automation._show(cols[i])),
									NULL, 'name each column once');
		END IF;
	END LOOP;
END
$$;

CREATE FUNCTION automation._json_text_array(body jsonb, key text, field text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := body -> key;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'array' THEN
		PERFORM automation._err('22023', format('%s must be an array of column names or null', field),
								'got ' || automation._json_desc(v),
								format('give e.g. "%s": ["id", "status"]', field));
	END IF;
	IF EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
		PERFORM automation._err('22023', format('%s elements must be strings', field),
								format('got %s', automation._show_json(v)));
	END IF;
	RETURN ARRAY(SELECT e #>> '{}' FROM jsonb_array_elements(v) WITH ORDINALITY AS t(e, o) ORDER BY o);
END
$$;

CREATE OR REPLACE FUNCTION automation._workflows_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	actions CONSTANT text[] := '{send_email,create_task,send_channel_message,webhook,update_field}';
	f automation._field;
	t automation._field;
	other text;
	v jsonb;
	tgt_type text;
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF NEW.id IS DISTINCT FROM OLD.id THEN
			PERFORM automation._err('22023', 'the id of a workflow cannot change',
									format('workflow %s', OLD.id));
		END IF;
		IF NEW.enabled AND NOT OLD.enabled THEN
			NEW.disabled_reason := NULL;
		END IF;
		IF (NEW.tenant_id, NEW.name, NEW.condition_entity, NEW.condition_field,
			NEW.condition_operator, NEW.condition_value, NEW.action_type,
			NEW.action_config, NEW.max_triggers_per_day, NEW.created_by, NEW.payload_columns)
		   IS NOT DISTINCT FROM
		   (OLD.tenant_id, OLD.name, OLD.condition_entity, OLD.condition_field,
			OLD.condition_operator, OLD.condition_value, OLD.action_type,
			OLD.action_config, OLD.max_triggers_per_day, OLD.created_by, OLD.payload_columns) THEN
			IF NEW IS DISTINCT FROM OLD AND NEW.updated_at = OLD.updated_at THEN
				NEW.updated_at := clock_timestamp();
			END IF;
			RETURN NEW;			/* enabled/disabled_reason only: no re-validation */
		END IF;
		NEW.updated_at := clock_timestamp();
	ELSIF NEW.id IS NULL OR NEW.id !~ '^wf_[0-9A-HJKMNP-TV-Z]{26}$' THEN
		PERFORM automation._err('22023', format('invalid workflow id %s', automation._show(NEW.id)),
								'an id is wf_ followed by a 26-character ULID',
								'leave id to its default');
	END IF;

	/* name: 1..120 characters, unique per tenant */
	IF NEW.name IS NULL OR length(NEW.name) NOT BETWEEN 1 AND 120 OR btrim(NEW.name) = '' THEN
		PERFORM automation._err('22023', 'name must be 1 to 120 characters',
								format('got %s', automation._show(NEW.name)),
								'give a non-blank name of at most 120 characters');
	END IF;
	SELECT w.id INTO other FROM automation.workflows w
	 WHERE coalesce(w.tenant_id, '') = coalesce(NEW.tenant_id, '') AND w.name = NEW.name
	   AND w.id <> NEW.id;
	IF other IS NOT NULL THEN
		PERFORM automation._err('23505', 'duplicate workflow name',
								format('name %s is taken by workflow %s', automation._show(NEW.name), other),
								'choose another name');
	END IF;

	IF NEW.condition_entity IS NULL OR NOT EXISTS (SELECT 1 FROM automation.entities e WHERE e.name = NEW.condition_entity) THEN
		PERFORM automation._err('22023', format('condition_entity %s is not watched', automation._show(NEW.condition_entity)),
								format('watched entities: %s', coalesce((SELECT string_agg(e.name, ', ' ORDER BY e.name) FROM automation.entities e), 'none')),
								'call automation.watch(entity, table) first');
	END IF;
	IF TG_OP = 'INSERT' OR NEW.created_by IS DISTINCT FROM OLD.created_by
	   OR (NEW.action_type, NEW.action_config, NEW.condition_entity)
		  IS DISTINCT FROM (OLD.action_type, OLD.action_config, OLD.condition_entity) THEN
		PERFORM automation._check_creator(NEW.created_by);
	END IF;

	f := automation._validate_workflow_condition(NEW.condition_entity, NEW.condition_field,
												 NEW.condition_operator, NEW.condition_value);

	IF NEW.action_type IS NULL OR NEW.action_type <> ALL (actions) THEN
		PERFORM automation._err('22023', format('invalid action_type %s', automation._show(NEW.action_type)),
								NULL, 'use one of: ' || array_to_string(actions, ', '));
	END IF;
	NEW.action_config := automation._validate_action(NEW.action_type, NEW.action_config,
													 NEW.condition_entity, 'workflow',
													 'action_config', NEW.created_by, NEW.tenant_id);

	/* an update_field that writes its own condition field re-triggers itself */
	IF NEW.action_type = 'update_field' THEN
		t := automation._resolve_field(NEW.condition_entity, NEW.action_config ->> 'field', 'action_config.field');
		IF t.attnum = f.attnum THEN
			v := NEW.action_config -> 'value';
			IF NEW.condition_operator <> 'changed_to' THEN
				PERFORM automation._err('22023', 'unsupported operator/action combination',
										format('update_field writes %s, the condition field, and condition_operator is %s',
											   automation._show(f.column_name), automation._show(NEW.condition_operator)),
										'the workflow would re-trigger itself; use changed_to with a different value, or write another field');
			END IF;
			IF jsonb_typeof(v) = 'string' AND automation._has_tokens(v #>> '{}') THEN
				PERFORM automation._err('22023', 'unsupported operator/action combination',
										format('update_field writes %s, the condition field, with merge tokens %s',
											   automation._show(f.column_name), automation._show(v #>> '{}')),
										'write a literal value different from condition_value');
			END IF;
			IF jsonb_typeof(v) <> 'null' THEN
				tgt_type := format_type(f.type_oid, f.typmod);
				IF automation._is_json_field(f) OR f.category = 'S' THEN
					IF lower(v #>> '{}') = lower(NEW.condition_value) THEN
						other := 'same';
					END IF;
				ELSE
					EXECUTE format('SELECT CASE WHEN CAST(%L AS %s) = CAST(%L AS %s) THEN ''same'' END',
								   v #>> '{}', tgt_type, NEW.condition_value, tgt_type) INTO other;
				END IF;
				IF other = 'same' THEN
					PERFORM automation._err('22023', 'unsupported operator/action combination',
											format('update_field writes %s = %s, the value the condition changes to',
												   automation._show(f.column_name), automation._show(v #>> '{}')),
											'write a value different from condition_value');
				END IF;
			END IF;
		END IF;
	END IF;

	PERFORM automation._validate_payload_columns(NEW.condition_entity, NEW.payload_columns);

	IF NEW.max_triggers_per_day IS NULL OR NEW.max_triggers_per_day < 1 THEN
		PERFORM automation._err('22023', 'max_triggers_per_day must be a positive integer',
								format('got %s', coalesce(NEW.max_triggers_per_day::text, 'null')),
								'give an integer from 1 to 2147483647 (default 100)');
	END IF;
	IF NEW.enabled IS NULL THEN
		PERFORM automation._err('22023', 'enabled must be a boolean', 'got null', 'give true or false');
	END IF;
	IF NEW.enabled THEN
		NEW.disabled_reason := NULL;
	END IF;
	RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION automation._workflow_apply(w automation.workflows, body jsonb, creating boolean)
RETURNS automation.workflows
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	req CONSTANT text[] := '{name,condition_entity,condition_field,condition_operator,condition_value,action_type,action_config}';
BEGIN
	IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
		PERFORM automation._err('22023', format('%s must be a JSON object', CASE WHEN creating THEN 'body' ELSE 'patch' END),
								format('got %s', automation._show_json(body)),
								'pass the seed''s JSON body, e.g. {"name": "...", "condition_entity": "deal", ...}');
	END IF;
	PERFORM automation._check_keys(body, req || '{max_triggers_per_day,enabled,payload_columns}'::text[],
								   CASE WHEN creating THEN 'body' ELSE 'patch' END);
	IF creating THEN
		FOREACH k IN ARRAY req LOOP
			IF NOT body ? k THEN
				PERFORM automation._err('22023', format('%s is required', k),
										format('the body has no key "%s"', k),
										format('required keys: %s', array_to_string(req, ', ')));
			END IF;
		END LOOP;
	END IF;
	IF body ? 'name' THEN w.name := automation._json_text(body, 'name', 'name'); END IF;
	IF body ? 'condition_entity' THEN w.condition_entity := automation._json_text(body, 'condition_entity', 'condition_entity'); END IF;
	IF body ? 'condition_field' THEN w.condition_field := automation._json_text(body, 'condition_field', 'condition_field'); END IF;
	IF body ? 'condition_operator' THEN w.condition_operator := automation._json_text(body, 'condition_operator', 'condition_operator'); END IF;
	IF body ? 'condition_value' THEN w.condition_value := automation._json_text(body, 'condition_value', 'condition_value'); END IF;
	IF body ? 'action_type' THEN w.action_type := automation._json_text(body, 'action_type', 'action_type'); END IF;
	IF body ? 'action_config' THEN
		IF jsonb_typeof(body -> 'action_config') <> 'object' THEN
			PERFORM automation._err('22023', 'action_config must be an object',
									'got ' || automation._json_desc(body -> 'action_config'),
									'give the action''s keys as a JSON object');
		END IF;
		w.action_config := body -> 'action_config';
	END IF;
	IF body ? 'max_triggers_per_day' THEN
		w.max_triggers_per_day := automation._json_int(body, 'max_triggers_per_day', 'max_triggers_per_day', 1, 2147483647);
	END IF;
	IF body ? 'enabled' THEN
		w.enabled := automation._json_bool(body, 'enabled', 'enabled');
	END IF;
	IF body ? 'payload_columns' THEN
		w.payload_columns := automation._json_text_array(body, 'payload_columns', 'payload_columns');
	END IF;
	RETURN w;
END
$$;

CREATE OR REPLACE FUNCTION automation.create_workflow(body jsonb, idempotency_key uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows;
	prior jsonb;
	res jsonb;
BEGIN
	IF idempotency_key IS NOT NULL THEN
		prior := automation._idempotency_lookup('workflow', idempotency_key, body);
		IF prior IS NOT NULL THEN
			RETURN prior;
		END IF;
	END IF;
	w.enabled := true;
	w.max_triggers_per_day := 100;
	w := automation._workflow_apply(w, body, true);
	INSERT INTO automation.workflows (tenant_id, name, enabled, condition_entity, condition_field,
									  condition_operator, condition_value, action_type,
									  action_config, max_triggers_per_day, payload_columns)
	VALUES (nullif(current_setting('automation.tenant', true), ''), w.name, w.enabled,
			w.condition_entity, w.condition_field, w.condition_operator, w.condition_value,
			w.action_type, w.action_config, w.max_triggers_per_day, w.payload_columns)
	RETURNING * INTO w;
	res := automation._workflow_json(w);
	IF idempotency_key IS NOT NULL THEN
		PERFORM automation._idempotency_store('workflow', idempotency_key, body, res);
	END IF;
	RETURN res;
END
$$;

CREATE OR REPLACE FUNCTION automation.update_workflow(id text, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows := automation._workflow_get(id, true);
BEGIN
	w := automation._workflow_apply(w, patch, false);
	UPDATE automation.workflows x
	   SET name = w.name, enabled = w.enabled, condition_entity = w.condition_entity,
		   condition_field = w.condition_field, condition_operator = w.condition_operator,
		   condition_value = w.condition_value, action_type = w.action_type,
		   action_config = w.action_config, max_triggers_per_day = w.max_triggers_per_day,
		   payload_columns = w.payload_columns, updated_at = clock_timestamp()
	 WHERE x.id = w.id
	RETURNING * INTO w;
	RETURN automation._workflow_json(w);
END
$$;
REVOKE ALL ON FUNCTION automation._validate_payload_columns(text, text[]),
	automation._json_text_array(jsonb, text, text) FROM PUBLIC;
/*
 * Roles that may write definitions (EXECUTE on _validate_workflow_condition,
 * which the workflow trigger calls as the writer) need the two new helpers;
 * grant them what they had (grant_role computes the same set).
 */
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT DISTINCT a.grantee::regrole::text AS grantee
			   FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
			  WHERE p.oid = 'automation._validate_workflow_condition(text, text, text, text)'::regprocedure
				AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0
				AND a.grantee <> p.proowner
	LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION automation._validate_payload_columns(text, text[]), '
					   'automation._json_text_array(jsonb, text, text) TO %s', r.grantee);
	END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION automation._rules_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	other uuid;
	c automation.rule_conditions;
	a automation.rule_actions;
	i integer;
	valid text[];
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF NEW.id IS DISTINCT FROM OLD.id THEN
			PERFORM automation._err('22023', 'the id of a rule cannot change', format('rule %s', OLD.id));
		END IF;
		IF NEW IS NOT DISTINCT FROM OLD THEN
			RETURN NEW;
		END IF;
		NEW.updated_at := clock_timestamp();
	ELSIF NEW.id IS NULL THEN
		PERFORM automation._err('22023', 'id must not be null', NULL, 'leave id to its default');
	END IF;
	IF NEW.name IS NULL OR length(NEW.name) NOT BETWEEN 1 AND 191 OR btrim(NEW.name) = '' THEN
		PERFORM automation._err('22023', 'name must be 1 to 191 characters',
								format('got %s', automation._show(NEW.name)),
								'give a non-blank name of at most 191 characters');
	END IF;
	SELECT r.id INTO other FROM automation.rules r
	 WHERE coalesce(r.tenant_id, '') = coalesce(NEW.tenant_id, '') AND r.name = NEW.name
	   AND r.id <> NEW.id;
	IF other IS NOT NULL THEN
		PERFORM automation._err('23505', 'duplicate rule name',
								format('name %s is taken by rule %s', automation._show(NEW.name), other),
								'choose another name');
	END IF;
	IF length(NEW.description) > 1000 THEN
		PERFORM automation._err('22023', 'description must be at most 1000 characters',
								format('got %s characters', length(NEW.description)));
	END IF;
	IF NEW.entity_type IS NULL OR NOT EXISTS (SELECT 1 FROM automation.entities e WHERE e.name = NEW.entity_type) THEN
		PERFORM automation._err('22023', format('entity_type %s is not watched', automation._show(NEW.entity_type)),
								format('watched entities: %s', coalesce((SELECT string_agg(e.name, ', ' ORDER BY e.name) FROM automation.entities e), 'none')),
								'call automation.watch(entity, table) first');
	END IF;
	valid := ARRAY[upper(NEW.entity_type) || '_CREATED', upper(NEW.entity_type) || '_UPDATED',
				   upper(NEW.entity_type) || '_DELETED'];
	IF NEW.trigger_type IS NULL OR NEW.trigger_type <> ALL (valid) THEN
		PERFORM automation._err('22023', format('invalid trigger_type %s', automation._show(NEW.trigger_type)),
								format('entity_type %s allows %s', automation._show(NEW.entity_type), array_to_string(valid, ', ')),
								'use one of those');
	END IF;
	IF NEW.priority IS NULL OR NEW.priority NOT BETWEEN 0 AND 100 THEN
		PERFORM automation._err('22023', 'priority is out of range',
								format('got %s, allowed 0 to 100', coalesce(NEW.priority::text, 'null')),
								'give an integer from 0 (first) to 100 (last); default 50');
	END IF;
	IF NEW.is_active IS NULL THEN
		PERFORM automation._err('22023', 'is_active must be a boolean', 'got null', 'give true or false');
	END IF;
	IF NEW.stop_subsequent_rules IS NULL THEN
		PERFORM automation._err('22023', 'stop_subsequent_rules must be a boolean', 'got null', 'give true or false');
	END IF;
	IF NEW.cooldown_hours < 0 OR NEW.cooldown_hours > 87600 THEN
		PERFORM automation._err('22023', 'cooldown_hours is out of range',
								format('got %s, allowed 0 to 87600 or null', NEW.cooldown_hours),
								'give a number of hours, or null for no cooldown');
	END IF;
	IF TG_OP = 'INSERT' OR NEW.created_by IS DISTINCT FROM OLD.created_by
	   OR NEW.entity_type IS DISTINCT FROM OLD.entity_type THEN
		PERFORM automation._check_creator(NEW.created_by);
	END IF;
	PERFORM automation._validate_payload_columns(NEW.entity_type, NEW.payload_columns);

	/* a new entity, trigger type or creator: the existing rows must still fit */
	IF TG_OP = 'UPDATE' AND (NEW.entity_type, NEW.trigger_type, NEW.created_by)
	   IS DISTINCT FROM (OLD.entity_type, OLD.trigger_type, OLD.created_by) THEN
		i := 0;
		FOR c IN SELECT * FROM automation.rule_conditions x WHERE x.rule_id = NEW.id ORDER BY x.sort_order, x.id LOOP
			PERFORM automation._validate_rule_condition(NEW.entity_type, NEW.trigger_type, c, format('conditions[%s]', i));
			i := i + 1;
		END LOOP;
		i := 0;
		FOR a IN SELECT * FROM automation.rule_actions x WHERE x.rule_id = NEW.id ORDER BY x.sort_order, x.id LOOP
			PERFORM automation._validate_action(lower(a.action_type), a.config, NEW.entity_type, 'rule',
												format('actions[%s]', i), NEW.created_by, NEW.tenant_id);
			i := i + 1;
		END LOOP;
	END IF;
	RETURN NEW;
END
$$;

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
		RETURN body;
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
	RETURN top || coalesce(lists, '{}');
END
$$;

CREATE OR REPLACE FUNCTION automation._rule_apply(r automation.rules, b jsonb, creating boolean)
RETURNS automation.rules
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	what text := CASE WHEN creating THEN 'body' ELSE 'patch' END;
	req CONSTANT text[] := '{name,entity_type,trigger_type,conditions,actions}';
BEGIN
	PERFORM automation._check_keys(b, '{name,description,entity_type,trigger_type,priority,is_active,stop_subsequent_rules,cooldown_hours,conditions,actions,payload_columns}', what);
	IF creating THEN
		FOREACH k IN ARRAY req LOOP
			IF NOT b ? k THEN
				PERFORM automation._err('22023', format('%s is required', k),
										format('the body has no key "%s"', k),
										format('required keys: %s', array_to_string(req, ', ')));
			END IF;
		END LOOP;
	END IF;
	IF b ? 'name' THEN r.name := automation._json_text(b, 'name', 'name'); END IF;
	IF b ? 'description' THEN r.description := automation._json_text(b, 'description', 'description', false, true); END IF;
	IF b ? 'entity_type' THEN r.entity_type := automation._json_text(b, 'entity_type', 'entity_type'); END IF;
	IF b ? 'trigger_type' THEN r.trigger_type := automation._json_text(b, 'trigger_type', 'trigger_type'); END IF;
	IF b ? 'priority' THEN r.priority := automation._json_int(b, 'priority', 'priority', 0, 100); END IF;
	IF b ? 'is_active' THEN r.is_active := automation._json_bool(b, 'is_active', 'is_active'); END IF;
	IF b ? 'stop_subsequent_rules' THEN
		r.stop_subsequent_rules := automation._json_bool(b, 'stop_subsequent_rules', 'stop_subsequent_rules');
	END IF;
	IF b ? 'cooldown_hours' THEN
		r.cooldown_hours := automation._json_int(b, 'cooldown_hours', 'cooldown_hours', 0, 87600, true, true);
	END IF;
	IF b ? 'payload_columns' THEN
		r.payload_columns := automation._json_text_array(b, 'payload_columns', 'payload_columns');
	END IF;
	RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION automation._rule_json(rid uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object(
		'id', r.id,
		'name', r.name,
		'description', r.description,
		'entity_type', r.entity_type,
		'trigger_type', r.trigger_type,
		'priority', r.priority,
		'is_active', r.is_active,
		'stop_subsequent_rules', r.stop_subsequent_rules,
		'cooldown_hours', r.cooldown_hours,
		'payload_columns', r.payload_columns,
		'conditions', coalesce((
			SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'id', c.id, 'field_path', c.field_path, 'operator', c.operator,
						'sort_order', c.sort_order, 'value_int', c.value_int,
						'value_string', c.value_string, 'value_bool', c.value_bool,
						'value_datetime', automation._iso(c.value_datetime),
						'value_array', c.value_array)) ORDER BY c.sort_order, c.id)
			  FROM automation.rule_conditions c WHERE c.rule_id = r.id), '[]'),
		'actions', coalesce((
			SELECT pg_catalog.jsonb_agg(a.config || pg_catalog.jsonb_build_object(
						'id', a.id, 'action_type', a.action_type, 'sort_order', a.sort_order)
						ORDER BY a.sort_order, a.id)
			  FROM automation.rule_actions a WHERE a.rule_id = r.id), '[]'),
		'created_at', automation._iso(r.created_at),
		'updated_at', automation._iso(r.updated_at))
	  FROM automation.rules r WHERE r.id = rid
$$;

CREATE OR REPLACE FUNCTION automation.create_rule(body jsonb, idempotency_key uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	b jsonb;
	r automation.rules;
	conds jsonb;
	acts jsonb;
	prior jsonb;
	res jsonb;
BEGIN
	IF idempotency_key IS NOT NULL THEN
		prior := automation._idempotency_lookup('rule', idempotency_key, body);
		IF prior IS NOT NULL THEN
			RETURN prior;
		END IF;
	END IF;
	b := automation._rule_body(body, 'body');
	r.priority := 50;
	r.is_active := true;
	r.stop_subsequent_rules := false;
	r := automation._rule_apply(r, b, true);
	conds := automation._rule_list(b, 'conditions');
	acts := automation._rule_list(b, 'actions');
	INSERT INTO automation.rules (tenant_id, name, description, entity_type, trigger_type, priority,
								  is_active, stop_subsequent_rules, cooldown_hours, payload_columns)
	VALUES (nullif(current_setting('automation.tenant', true), ''), r.name, r.description,
			r.entity_type, r.trigger_type, r.priority, r.is_active, r.stop_subsequent_rules,
			r.cooldown_hours, r.payload_columns)
	RETURNING * INTO r;
	PERFORM automation._rule_insert_children(r.id, conds, acts);
	res := automation._rule_json(r.id);
	IF idempotency_key IS NOT NULL THEN
		PERFORM automation._idempotency_store('rule', idempotency_key, body, res);
	END IF;
	RETURN res;
END
$$;

CREATE OR REPLACE FUNCTION automation.update_rule(id uuid, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.rules := automation._rule_get(id, true);
	b jsonb := automation._rule_body(patch, 'patch');
	conds jsonb;
	acts jsonb;
BEGIN
	r := automation._rule_apply(r, b, false);
	conds := automation._rule_list(b, 'conditions');
	acts := automation._rule_list(b, 'actions');
	IF conds IS NOT NULL THEN
		DELETE FROM automation.rule_conditions c WHERE c.rule_id = r.id;
	END IF;
	IF acts IS NOT NULL THEN
		DELETE FROM automation.rule_actions a WHERE a.rule_id = r.id;
	END IF;
	UPDATE automation.rules x
	   SET name = r.name, description = r.description, entity_type = r.entity_type,
		   trigger_type = r.trigger_type, priority = r.priority, is_active = r.is_active,
		   stop_subsequent_rules = r.stop_subsequent_rules, cooldown_hours = r.cooldown_hours,
		   payload_columns = r.payload_columns, updated_at = clock_timestamp()
	 WHERE x.id = r.id;
	PERFORM automation._rule_insert_children(r.id, conds, acts);
	RETURN automation._rule_json(r.id);
END
$$;

/* at most 100 conditions and 100 actions per rule, direct SQL included (35_rules.sql) */
CREATE OR REPLACE FUNCTION automation._rule_conditions_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.rules;
	label text;
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	SELECT * INTO r FROM automation.rules x WHERE x.id = NEW.rule_id;
	IF NOT FOUND THEN
		RETURN NEW;				/* the foreign key reports it */
	END IF;
	IF TG_OP = 'INSERT' THEN
		label := format('conditions[%s]', (SELECT count(*) FROM automation.rule_conditions x WHERE x.rule_id = NEW.rule_id));
		/* the API's limit holds for direct SQL too (the engine loads every one) */
		IF (SELECT count(*) FROM automation.rule_conditions x WHERE x.rule_id = NEW.rule_id) >= 100 THEN
			PERFORM automation._err('22023', format('a rule has at most 100 conditions'),
									format('rule %s already has 100', NEW.rule_id),
									'split it into several rules');
		END IF;
	ELSE
		label := format('condition %s', OLD.id);
	END IF;
	IF NEW.sort_order IS NULL THEN
		PERFORM automation._err('22023', format('%s.sort_order must be an integer', label), 'got null');
	END IF;
	PERFORM automation._validate_rule_condition(r.entity_type, r.trigger_type, NEW, label);
	RETURN NEW;
END
$$;

/* at most 100 conditions and 100 actions per rule, direct SQL included (35_rules.sql) */
CREATE OR REPLACE FUNCTION automation._rule_actions_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.rules;
	label text;
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	SELECT * INTO r FROM automation.rules x WHERE x.id = NEW.rule_id;
	IF NOT FOUND THEN
		RETURN NEW;				/* the foreign key reports it */
	END IF;
	IF TG_OP = 'INSERT' THEN
		label := format('actions[%s]', (SELECT count(*) FROM automation.rule_actions x WHERE x.rule_id = NEW.rule_id));
		/* the API's limit holds for direct SQL too (the engine loads every one) */
		IF (SELECT count(*) FROM automation.rule_actions x WHERE x.rule_id = NEW.rule_id) >= 100 THEN
			PERFORM automation._err('22023', format('a rule has at most 100 actions'),
									format('rule %s already has 100', NEW.rule_id),
									'split it into several rules');
		END IF;
	ELSE
		label := format('action %s', OLD.id);
	END IF;
	IF NEW.sort_order IS NULL THEN
		PERFORM automation._err('22023', format('%s.sort_order must be an integer', label), 'got null');
	END IF;
	IF NEW.action_type IS NULL OR NEW.action_type <> ALL (automation._rule_action_types()) THEN
		PERFORM automation._err('22023', format('invalid %s.action_type %s', label, automation._show(NEW.action_type)),
								NULL, 'use one of: ' || array_to_string(automation._rule_action_types(), ', '));
	END IF;
	PERFORM automation._check_creator(r.created_by);
	NEW.config := automation._validate_action(lower(NEW.action_type), NEW.config, r.entity_type, 'rule',
											  label, r.created_by, r.tenant_id);
	RETURN NEW;
END
$$;
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT DISTINCT a.grantee::regrole::text AS grantee
			   FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
			  WHERE p.oid = 'automation.fail_job(bigint, text, boolean, interval)'::regprocedure
				AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
	LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION automation._job_dead_alerted(bigint) TO %s', r.grantee);
	END LOOP;
END
$$;
