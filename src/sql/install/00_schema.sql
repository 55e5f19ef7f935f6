
\echo Use "CREATE EXTENSION automation" to load this file. \quit

/*
 * 00_schema.sql: the tables every other part of the extension stands on.
 *
 * Nothing here is granted to PUBLIC.  Definition tables are validated by
 * BEFORE triggers (10_validation.sql), so the API functions and direct SQL
 * share one source of truth.  Every definition and job table is registered
 * with pg_extension_config_dump so pg_dump keeps its rows.
 */

-- Fails with a clear error unless the library was preloaded (SPEC §2).
CREATE FUNCTION automation._check_preload() RETURNS void
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_check_preload';
SELECT automation._check_preload();

REVOKE ALL ON SCHEMA automation FROM PUBLIC;

/* wf_ + a ULID: 48-bit milliseconds and 80 random bits, Crockford base32. */
CREATE FUNCTION automation._new_workflow_id() RETURNS text
	LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'automation_new_workflow_id';

/* Watched tables. */
CREATE TABLE automation.entities (
	name text PRIMARY KEY
		CONSTRAINT entities_name_check CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
	relation regclass NOT NULL UNIQUE,
	key_column name NOT NULL,
	tenant_column name,
	created_at timestamptz NOT NULL DEFAULT now(),
	key_attnum smallint,		-- the columns by number: renames are followed
	tenant_attnum smallint
);

/* Workflows: one condition, one action, a daily circuit breaker (SPEC §4). */
CREATE TABLE automation.workflows (
	id text PRIMARY KEY DEFAULT automation._new_workflow_id(),
	tenant_id text,
	name text NOT NULL,
	enabled boolean NOT NULL DEFAULT true,
	condition_entity text NOT NULL,
	condition_field text NOT NULL,
	condition_operator text NOT NULL,
	condition_value text NOT NULL DEFAULT '',
	action_type text NOT NULL,
	action_config jsonb NOT NULL DEFAULT '{}',
	max_triggers_per_day integer NOT NULL DEFAULT 100,
	disabled_reason text,
	breaker_reset_at timestamptz,	-- enable_workflow: fresh budget from here
	created_by name NOT NULL DEFAULT current_user,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	payload_columns text[],			-- columns a job's new/old carry; NULL: all (0.3.0)
	fire_when text NOT NULL DEFAULT 'every_change'	-- every_change | becomes_true (0.4.0)
);
CREATE UNIQUE INDEX workflows_name_key
	ON automation.workflows ((coalesce(tenant_id, '')), name);
CREATE INDEX workflows_entity_idx ON automation.workflows (condition_entity);

/* Rules: many conditions and actions, priority, stop, cooldown (SPEC §5). */
CREATE TABLE automation.rules (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id text,
	name text NOT NULL,
	description text,
	entity_type text NOT NULL,
	trigger_type text NOT NULL,
	priority integer NOT NULL DEFAULT 50,
	is_active boolean NOT NULL DEFAULT true,
	stop_subsequent_rules boolean NOT NULL DEFAULT false,
	cooldown_hours integer,
	created_by name NOT NULL DEFAULT current_user,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	payload_columns text[],			-- columns a job's new/old carry; NULL: all (0.3.0)
	fire_when text NOT NULL DEFAULT 'every_change'	-- every_change | becomes_true (0.4.0)
);
CREATE UNIQUE INDEX rules_name_key
	ON automation.rules ((coalesce(tenant_id, '')), name);
CREATE INDEX rules_entity_idx ON automation.rules (entity_type);

CREATE TABLE automation.rule_conditions (
	id bigserial PRIMARY KEY,
	rule_id uuid NOT NULL REFERENCES automation.rules (id) ON DELETE CASCADE,
	sort_order integer NOT NULL DEFAULT 0,
	field_path text NOT NULL,
	operator text NOT NULL,
	value_int bigint,
	value_string text,
	value_bool boolean,
	value_datetime timestamptz,
	value_array text[],
	"group" integer NOT NULL DEFAULT 0	-- condition group 0..24: ANDed within, ORed across (0.4.0)
);
CREATE INDEX rule_conditions_rule_idx ON automation.rule_conditions (rule_id);

/* config holds the action-specific keys of SPEC §6 (assign_pool_id, tag, ...). */
CREATE TABLE automation.rule_actions (
	id bigserial PRIMARY KEY,
	rule_id uuid NOT NULL REFERENCES automation.rules (id) ON DELETE CASCADE,
	sort_order integer NOT NULL DEFAULT 0,
	action_type text NOT NULL,
	config jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX rule_actions_rule_idx ON automation.rule_actions (rule_id);

/* User pools for ASSIGN_USER; next_position is the round-robin cursor. */
CREATE TABLE automation.user_pools (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id text,
	name text NOT NULL,
	next_position integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_pools_name_key
	ON automation.user_pools ((coalesce(tenant_id, '')), name);

CREATE TABLE automation.user_pool_members (
	pool_id uuid NOT NULL REFERENCES automation.user_pools (id) ON DELETE CASCADE,
	position integer NOT NULL,
	member text NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (pool_id, position)
);

/*
 * Delivery channels for send_channel_message.  Names are unique per tenant;
 * a tenant's channel shadows a global one of the same name (since 0.2.0).
 */
CREATE TABLE automation.channels (
	name text NOT NULL,
	tenant_id text,
	format text NOT NULL DEFAULT 'slack'
		CONSTRAINT channels_format_check CHECK (format IN ('slack', 'json')),
	url text NOT NULL
		CONSTRAINT channels_url_check CHECK (url ~* '^https?://[^/?#@[:space:]]+'),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channels_name_key
	ON automation.channels (name, (coalesce(tenant_id, '')));

/*
 * Idempotency-Key: the first response of a (kind, key) within 24 hours.
 * Keys are per tenant: the tenant_id column and the unique index on
 * (tenant, kind, key) are added in 70_tenancy.sql (0.3.0; 0.2.0 had a
 * primary key on (kind, key), so a second tenant's key collided).
 */
CREATE TABLE automation.idempotency_keys (
	kind text NOT NULL,
	key uuid NOT NULL,
	request jsonb NOT NULL,
	response jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

/*
 * The fixed vocabularies of jobs and firings are domains, not table CHECK
 * constraints: a domain's check is compiled once per backend (typcache),
 * a table CHECK is re-read from the catalog by every INSERT the trigger
 * runs.
 */
CREATE DOMAIN automation.definition_source AS text
	CONSTRAINT definition_source_check CHECK (VALUE IN ('workflow', 'rule'));
CREATE DOMAIN automation.job_action_type AS text
	CONSTRAINT job_action_type_check CHECK (VALUE IN
		('webhook', 'send_channel_message', 'send_email', 'update_field',
		 'create_task', 'assign_user', 'change_stage', 'tag', 'untag', 'notify'));
CREATE DOMAIN automation.job_status AS text
	CONSTRAINT job_status_check CHECK (VALUE IN ('queued', 'running', 'succeeded', 'dead'));
CREATE DOMAIN automation.firing_outcome AS text
	CONSTRAINT firing_outcome_check CHECK (VALUE IN
		('fired', 'cooldown', 'circuit_breaker', 'depth_limit'));

/* One row per action to run (SPEC §7). */
CREATE TABLE automation.jobs (
	id bigserial PRIMARY KEY,
	source automation.definition_source NOT NULL,
	workflow_id text,
	rule_id uuid,
	action_type automation.job_action_type NOT NULL,
	entity text NOT NULL,
	record_key text,
	tenant_id text,
	payload jsonb NOT NULL,
	status automation.job_status NOT NULL DEFAULT 'queued',
	attempts integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL DEFAULT 5,
	run_after timestamptz NOT NULL DEFAULT now(),
	locked_by text,
	locked_until timestamptz,
	last_error text,
	result jsonb,
	depth integer NOT NULL DEFAULT 0,
	run_as name NOT NULL,
	idempotency_key uuid NOT NULL DEFAULT gen_random_uuid(),
	created_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz
);
/* Claiming looks only at unfinished jobs, however long the history. */
CREATE INDEX jobs_due_idx ON automation.jobs (run_after, id)
	WHERE status = 'queued';
CREATE INDEX jobs_lease_idx ON automation.jobs (locked_until)
	WHERE status = 'running';
CREATE INDEX jobs_finished_idx ON automation.jobs (finished_at)
	WHERE status IN ('succeeded', 'dead');

/* Every match, whether or not it ran (SPEC §8). */
CREATE TABLE automation.firings (
	id bigserial PRIMARY KEY,
	source automation.definition_source NOT NULL,
	workflow_id text,
	rule_id uuid,
	entity text NOT NULL,
	record_key text,
	tenant_id text,
	operation text NOT NULL,
	outcome automation.firing_outcome NOT NULL,
	depth integer NOT NULL DEFAULT 0,
	fired_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX firings_workflow_idx ON automation.firings (workflow_id, fired_at)
	WHERE workflow_id IS NOT NULL;
/* the key hashed: a record key of any length is indexable (a long key failed the write) */
CREATE INDEX firings_rule_record_idx ON automation.firings (rule_id, pg_catalog.md5(record_key), fired_at)
	WHERE rule_id IS NOT NULL;
/* no index on fired_at alone: prune scans, firings stay cheap to insert */

CREATE TABLE automation.alerts (
	id bigserial PRIMARY KEY,
	kind text NOT NULL
		CONSTRAINT alerts_kind_check CHECK (kind IN
			('circuit_breaker', 'job_dead', 'depth_limit', 'definition_skipped')),
	workflow_id text,
	rule_id uuid,
	job_id bigint,
	tenant_id text,
	message text NOT NULL,
	details jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE automation.notifications (
	id bigserial PRIMARY KEY,
	job_id bigint,
	workflow_id text,
	rule_id uuid,
	tenant_id text,
	entity text,
	record_key text,
	recipient text NOT NULL,
	message text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	read_at timestamptz
);

SELECT pg_catalog.pg_extension_config_dump('automation.entities', '');
SELECT pg_catalog.pg_extension_config_dump('automation.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rules', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_conditions', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_conditions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_actions', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_actions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.user_pools', '');
SELECT pg_catalog.pg_extension_config_dump('automation.user_pool_members', '');
SELECT pg_catalog.pg_extension_config_dump('automation.channels', '');
SELECT pg_catalog.pg_extension_config_dump('automation.idempotency_keys', '');
SELECT pg_catalog.pg_extension_config_dump('automation.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('automation.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.firings', '');
SELECT pg_catalog.pg_extension_config_dump('automation.firings_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('automation.alerts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('automation.notifications_id_seq', '');

/*
 * _raise_alert: record an alert and wake its listeners.  Alerts are rare, so
 * a NOTIFY per alert is fine here (unlike jobs).  The payload is
 * {"id", "kind"} only: any role may LISTEN, so it carries nothing a tenant
 * must not see; listeners read the row from automation.alerts, where
 * row-level security applies.
 */
CREATE FUNCTION automation._raise_alert(kind text, message text,
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
