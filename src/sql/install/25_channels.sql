/*
 * 25_channels.sql: delivery channels for send_channel_message (SPEC section 7).
 *
 *   automation.create_channel(name, url, format DEFAULT 'slack') -> jsonb
 *   automation.delete_channel(name) -> void
 *
 * Invariants: a channel has a name of 1..120 characters, a format of slack
 * or json, and an http(s) url with a real host; the BEFORE trigger checks
 * this for the API and direct SQL.  Names are unique per tenant: a tenant's
 * channel shadows a global channel of the same name for that tenant's
 * actions (the worker resolves own first, then global).  A channel that some
 * workflow or rule action resolves to cannot be deleted (2BP01).
 */

/* _channel_json: the API shape of a channels row. */
CREATE FUNCTION automation._channel_json(c automation.channels)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object('name', c.name, 'format', c.format, 'url', c.url,
										 'tenant_id', c.tenant_id,
										 'created_at', automation._iso(c.created_at))
$$;

/* _channels_validate: BEFORE INSERT OR UPDATE on automation.channels. */
CREATE FUNCTION automation._channels_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	IF NEW.name IS NULL OR length(NEW.name) NOT BETWEEN 1 AND 120 OR NEW.name ~ '[[:cntrl:]]' THEN
		PERFORM automation._err('22023', 'channel name must be 1 to 120 characters',
								format('got %s', automation._show(NEW.name)),
								'give a short name without control characters, e.g. slack');
	END IF;
	IF NEW.format IS NULL OR NEW.format NOT IN ('slack', 'json') THEN
		PERFORM automation._err('22023', format('invalid channel format %s', automation._show(NEW.format)),
								NULL, 'use slack or json');
	END IF;
	IF automation._has_tokens(NEW.url) THEN
		PERFORM automation._err('22023', 'channel url must not contain merge tokens',
								format('got %s', automation._show(NEW.url)));
	END IF;
	PERFORM automation._check_url(NEW.url, 'channel url');
	IF TG_OP = 'UPDATE' AND NEW.name <> OLD.name THEN
		PERFORM automation._err('22023', 'a channel cannot be renamed',
								format('channel %s', automation._show(OLD.name)),
								'create a new channel and point the actions at it');
	END IF;
	/* actions resolve channels by tenant: moving one would redirect them */
	IF TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
		PERFORM automation._err('22023', 'a channel cannot move to another tenant',
								format('channel %s of %s', automation._show(OLD.name),
									   CASE WHEN OLD.tenant_id IS NULL THEN 'no tenant (global)'
											ELSE 'tenant ' || automation._show(OLD.tenant_id) END),
								'create the channel in the other tenant instead');
	END IF;
	IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM automation.channels c
									 WHERE c.name = NEW.name
									   AND coalesce(c.tenant_id, '') = coalesce(NEW.tenant_id, '')) THEN
		PERFORM automation._err('23505', format('channel %s already exists', automation._show(NEW.name)),
								format('name %s', automation._show(NEW.name))
								|| CASE WHEN NEW.tenant_id IS NOT NULL
										THEN format(', tenant %s', automation._show(NEW.tenant_id)) ELSE '' END,
								'choose another name or delete the channel first');
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER channels_validate
	BEFORE INSERT OR UPDATE ON automation.channels
	FOR EACH ROW EXECUTE FUNCTION automation._channels_validate();

/*
 * _channels_in_use: BEFORE DELETE on automation.channels.  Counts the
 * definitions whose channel resolves to this row: a tenant's channel serves
 * that tenant's actions; a global channel serves the global actions and those
 * of every tenant without a channel of that name.  SECURITY DEFINER: the
 * count covers every tenant, not just the rows the caller can see.
 */
CREATE FUNCTION automation._channels_in_use()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nwf bigint;
	nrule bigint;
BEGIN
	/* it reads every tenant's definitions: only as the trigger it was made for */
	IF TG_RELID IS DISTINCT FROM 'automation.channels'::regclass OR TG_OP <> 'DELETE'
	   OR TG_LEVEL <> 'ROW' OR TG_WHEN <> 'BEFORE' THEN
		PERFORM automation._err('42501', 'automation._channels_in_use() is only the BEFORE DELETE trigger of automation.channels',
								format('called by %s %s %s on %s', TG_WHEN, TG_OP, TG_LEVEL, TG_RELID::regclass));
	END IF;
	SELECT count(*) INTO nwf FROM automation.workflows w
	 WHERE w.action_type = 'send_channel_message' AND w.action_config ->> 'channel' = OLD.name
	   AND CASE WHEN OLD.tenant_id IS NOT NULL THEN w.tenant_id = OLD.tenant_id
				ELSE w.tenant_id IS NULL
					 OR NOT EXISTS (SELECT 1 FROM automation.channels o
									 WHERE o.name = OLD.name AND o.tenant_id = w.tenant_id) END;
	SELECT count(DISTINCT a.rule_id) INTO nrule
	  FROM automation.rule_actions a JOIN automation.rules r ON r.id = a.rule_id
	 WHERE a.action_type = 'SEND_CHANNEL_MESSAGE' AND a.config ->> 'channel' = OLD.name
	   AND CASE WHEN OLD.tenant_id IS NOT NULL THEN r.tenant_id = OLD.tenant_id
				ELSE r.tenant_id IS NULL
					 OR NOT EXISTS (SELECT 1 FROM automation.channels o
									 WHERE o.name = OLD.name AND o.tenant_id = r.tenant_id) END;
	IF nwf + nrule > 0 THEN
		PERFORM automation._err('2BP01', format('channel %s is still used', automation._show(OLD.name)),
								format('%s workflow(s) and %s rule(s) send to it', nwf, nrule),
								'delete or change them first');
	END IF;
	RETURN OLD;
END
$$;

CREATE TRIGGER channels_in_use
	BEFORE DELETE ON automation.channels
	FOR EACH ROW EXECUTE FUNCTION automation._channels_in_use();

/* create_channel: add a delivery channel; returns it as jsonb. */
CREATE FUNCTION automation.create_channel(name text, url text, format text DEFAULT 'slack')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c automation.channels;
BEGIN
	INSERT INTO automation.channels (name, url, format, tenant_id)
	VALUES (create_channel.name, create_channel.url, create_channel.format,
			nullif(current_setting('automation.tenant', true), ''))
	RETURNING * INTO c;
	RETURN automation._channel_json(c);
END
$$;

/*
 * delete_channel: remove the session's tenant's channel of that name (the
 * global one without a tenant), if no action uses it.
 */
CREATE FUNCTION automation.delete_channel(name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM automation.channels c
	 WHERE c.name = delete_channel.name
	   AND c.tenant_id IS NOT DISTINCT FROM nullif(current_setting('automation.tenant', true), '');
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('channel %s not found', automation._show(delete_channel.name)),
								NULL, 'see automation.channels for the channels');
	END IF;
END
$$;
