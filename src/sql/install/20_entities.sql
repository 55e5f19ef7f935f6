/*
 * 20_entities.sql: watched tables (SPEC section 2).
 *
 *   automation.watch(entity, relation, key_column, tenant_column) -> jsonb
 *   automation.unwatch(entity, cascade) -> void
 *
 * Invariants: a row of automation.entities names an ordinary or partitioned
 * permanent table outside the system schemas, a key column and an optional
 * tenant column that exist; the BEFORE trigger below checks this for the API
 * and for direct SQL alike.  An entity used by a workflow or a rule cannot be
 * removed (2BP01) unless unwatch(..., cascade => true) removes those first.
 */

/* _entity_json: the API shape of an entities row. */
CREATE FUNCTION automation._entity_json(e automation.entities)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object(
		'entity', e.name,
		'relation', e.relation::text,
		'key_column', e.key_column,
		'tenant_column', e.tenant_column,
		'created_at', automation._iso(e.created_at))
$$;

/* _entities_validate: BEFORE INSERT OR UPDATE on automation.entities. */
CREATE FUNCTION automation._entities_validate()
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

CREATE TRIGGER entities_validate
	BEFORE INSERT OR UPDATE ON automation.entities
	FOR EACH ROW EXECUTE FUNCTION automation._entities_validate();

/*
 * _entities_in_use: BEFORE DELETE on automation.entities; refuses while a
 * workflow or rule uses the entity (or, for the entity task, a create_task
 * action).
 */
CREATE FUNCTION automation._entities_in_use()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nwf bigint;
	nrule bigint;
BEGIN
	SELECT count(*) INTO nwf FROM automation.workflows w
	 WHERE w.condition_entity = OLD.name
		OR (OLD.name = 'task' AND w.action_type = 'create_task');
	SELECT count(*) INTO nrule FROM automation.rules r
	 WHERE r.entity_type = OLD.name
		OR (OLD.name = 'task' AND EXISTS (SELECT 1 FROM automation.rule_actions a
										   WHERE a.rule_id = r.id AND a.action_type = 'CREATE_TASK'));
	IF nwf + nrule > 0 THEN
		PERFORM automation._err('2BP01', format('entity %s is still used', automation._show(OLD.name)),
								format('%s workflow(s) and %s rule(s) use it', nwf, nrule),
								'delete them first, or call automation.unwatch(entity, cascade => true)');
	END IF;
	RETURN OLD;
END
$$;

CREATE TRIGGER entities_in_use
	BEFORE DELETE ON automation.entities
	FOR EACH ROW EXECUTE FUNCTION automation._entities_in_use();

/*
 * watch: record a watched table and install the row trigger on it.
 * Returns the entity as jsonb {entity, relation, key_column, tenant_column,
 * created_at}.
 */
CREATE FUNCTION automation.watch(entity text, relation regclass,
								 key_column name DEFAULT NULL,
								 tenant_column name DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e automation.entities;
BEGIN
	IF relation IS NULL THEN
		PERFORM automation._err('22023', 'relation is required', NULL,
								'pass the table, e.g. ''public.deals''');
	END IF;
	IF NOT has_table_privilege(relation, 'TRIGGER') THEN
		PERFORM automation._err('42501', format('permission denied to watch %s', relation::text),
								format('role %s lacks the TRIGGER privilege on %s', current_user, relation::text),
								'ask the table owner to watch it or to grant TRIGGER');
	END IF;
	INSERT INTO automation.entities (name, relation, key_column, tenant_column)
	VALUES (entity, relation, key_column, tenant_column)
	RETURNING * INTO e;
	EXECUTE format('CREATE TRIGGER automation_row_trigger AFTER INSERT OR UPDATE OR DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION automation._row_trigger()', relation::text);
	RETURN automation._entity_json(e);
END
$$;

/*
 * unwatch: remove the row trigger and the entity.  With cascade, first
 * deletes the workflows and rules that use it; without, refuses (2BP01)
 * while any does.
 */
CREATE FUNCTION automation.unwatch(entity text, "cascade" boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e automation.entities;
BEGIN
	SELECT * INTO e FROM automation.entities x WHERE x.name = entity FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('entity %s is not watched', automation._show(entity)),
								NULL, 'see automation.entities for the watched entities');
	END IF;
	IF "cascade" THEN
		DELETE FROM automation.workflows w
		 WHERE w.condition_entity = entity
			OR (entity = 'task' AND w.action_type = 'create_task');
		DELETE FROM automation.rules r
		 WHERE r.entity_type = entity
			OR (entity = 'task' AND EXISTS (SELECT 1 FROM automation.rule_actions a
											 WHERE a.rule_id = r.id AND a.action_type = 'CREATE_TASK'));
	END IF;
	DELETE FROM automation.entities x WHERE x.name = entity;
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
				WHERE t.tgrelid = e.relation AND t.tgname = 'automation_row_trigger') THEN
		EXECUTE format('DROP TRIGGER automation_row_trigger ON %s', e.relation::text);
	END IF;
END
$$;

/*
 * _follow_columns: event trigger at the end of every ALTER TABLE (and the
 * other ALTER tags RENAME COLUMN accepts) and at every drop.  A watched
 * table's key and tenant columns are followed through a rename (the entity
 * keeps their numbers); dropping either, directly or by a cascade, is
 * refused (2BP01) while the table is watched: the record key and the tenant
 * of every firing come from them.
 * SECURITY DEFINER: entities are the owner's; it reads only the catalog and
 * automation.entities.
 */
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

/*
 * PostgreSQL lets RENAME COLUMN name the relation as a view, foreign table
 * or materialized view whatever it is: every such tag is followed.
 */
CREATE EVENT TRIGGER automation_follow_columns ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'ALTER VIEW', 'ALTER FOREIGN TABLE', 'ALTER MATERIALIZED VIEW')
	EXECUTE FUNCTION automation._follow_columns();
CREATE EVENT TRIGGER automation_keep_columns ON sql_drop
	EXECUTE FUNCTION automation._follow_columns();
