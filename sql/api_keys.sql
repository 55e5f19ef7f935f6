-- api_keys: the keys and rate limits of the HTTP API (SPEC section 13;
-- issue 13, items 2 and 3; doc/security.md "The HTTP API").
--   * create_api_key validates every argument (22023), refuses a role its
--     creator is not a member of and the API login role (42501); no API
--     login role becomes a member of a superuser role; the key is shown
--     once and stored only as its sha256;
--   * the API login role (grant_role(role, 'api')) becomes a member of each
--     key's role, NOINHERIT: it may SET ROLE to it, holds nothing otherwise;
--   * _api_authenticate: only API login roles may call it; unknown,
--     malformed, revoked and expired keys are invalid at once; scopes;
--     the tenant of the key against the header's; the token bucket;
--   * revoke_api_key: the creator or a member of the key's role; others
--     see no such key; api_keys shows no secret and only one's own keys.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP ROLE IF EXISTS regress_ak_api;
DROP ROLE IF EXISTS regress_ak_admin;
DROP ROLE IF EXISTS regress_ak_member;
DROP ROLE IF EXISTS regress_ak_other;
DROP ROLE IF EXISTS regress_ak_super;
DROP ROLE IF EXISTS regress_ak_lender;
RESET client_min_messages;
CREATE SCHEMA ak;
SET search_path = ak, public;
\i sql/include/helpers.sql
CREATE FUNCTION mask(t text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(t, 'ak_[0-9A-Z]{26}', 'ak_<id>', 'g'), 'wbk_[0-9a-f]{64}', 'wbk_<key>', 'g')
$$;

CREATE ROLE regress_ak_api LOGIN;
CREATE ROLE regress_ak_admin;
CREATE ROLE regress_ak_member IN ROLE regress_ak_admin;
CREATE ROLE regress_ak_other;
CREATE ROLE regress_ak_super SUPERUSER;
GRANT USAGE ON SCHEMA ak TO PUBLIC;
GRANT CREATE ON SCHEMA ak TO regress_ak_api;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ak TO PUBLIC;
SELECT automation.grant_role('regress_ak_admin', 'admin') IS NOT NULL AS admin_granted;
SELECT automation.grant_role('regress_ak_other', 'admin') IS NOT NULL AS other_granted;
SELECT automation.grant_role('regress_ak_member', 'admin') IS NOT NULL AS member_granted;

-- 1. the API login role: never a superuser; exactly these grants; NOINHERIT
SELECT try($$SELECT automation.grant_role('regress_ak_super', 'api')$$);
SELECT try($$SELECT automation.grant_role('regress_ak_api', 'apis')$$);
SELECT unnest(automation.grant_role('regress_ak_api', 'api')) AS api_grants;
SELECT rolinherit FROM pg_roles WHERE rolname = 'regress_ak_api';
SELECT role FROM automation.api_roles;

-- 2. create_api_key: validation (22023) and who may name which role (42501)
SET ROLE regress_ak_member;
SELECT try($$SELECT automation.create_api_key('', '{read:workflows}')$$);
SELECT try($$SELECT automation.create_api_key(repeat('n', 121), '{read:workflows}')$$);
SELECT try($$SELECT automation.create_api_key('k', '{}')$$);
SELECT try($$SELECT automation.create_api_key('k', NULL)$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:workflows,admin}')$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:workflows,NULL}')$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:jobs}', tenant_id => 'a b')$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:jobs}', expires_at => now() - interval '1 second')$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:jobs}', rate_limit => 0)$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:jobs}', rate_limit => NULL)$$);
-- a role it is not a member of, a superuser, the API login role
SELECT try($$SELECT automation.create_api_key('k', '{read:jobs}', 'regress_ak_other')$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:jobs}', 'regress_ak_super')$$);
SELECT try($$SELECT automation.create_api_key('k', '{read:jobs}', 'regress_ak_api')$$);
-- a role it is a member of, and (default) itself
SELECT automation.create_api_key('admin key', '{write:workflows,read:workflows,read:workflows}',
	'regress_ak_admin', rate_limit => 2) AS k \gset
SELECT mask((:'k'::jsonb - 'created_at' - 'key_prefix')::text) AS created,
	   :'k'::jsonb ->> 'key_prefix' = substr(:'k'::jsonb ->> 'key', 1, 12) AS prefix_of_key;
SELECT :'k'::jsonb ->> 'key' AS key \gset
SELECT :'k'::jsonb ->> 'id' AS key_id \gset
SELECT automation.create_api_key('own key', '{read:rules}', tenant_id => 'acme', rate_limit => 5) ->> 'key' AS own_key \gset
RESET ROLE;
-- the key is not stored, its sha256 is
SELECT count(*) AS rows_holding_the_key FROM automation.api_key_store s
 WHERE s::text LIKE '%' || substr(:'key', 5) || '%';
SELECT key_hash = sha256(convert_to(:'key', 'UTF8')) AS hash_stored, key_prefix = substr(:'key', 1, 12) AS prefix_stored
  FROM automation.api_key_store WHERE id = :'key_id';
-- the API login role may SET ROLE to both keys' roles, and inherits neither
SELECT r.rolname, pg_has_role('regress_ak_api', r.oid, 'MEMBER') AS member, pg_has_role('regress_ak_api', r.oid, 'USAGE') AS inherits
  FROM pg_roles r WHERE r.rolname IN ('regress_ak_admin', 'regress_ak_member', 'regress_ak_other') ORDER BY 1;
-- a login role granted later gets the existing keys' roles
CREATE ROLE regress_ak_api2 LOGIN;
SELECT unnest(automation.grant_role('regress_ak_api2', 'api')) AS api2_grants;
DROP OWNED BY regress_ak_api2;
DROP ROLE regress_ak_api2;
DELETE FROM automation.api_roles WHERE role = 'regress_ak_api2';

-- a superuser's own key: allowed, but no API login role becomes a member of
-- a superuser role (such a key works only for a server logged in as a superuser)
SELECT automation.create_api_key('super key', '{read:jobs}') ->> 'key' AS super_key \gset
SELECT role = current_user AS runs_as_creator, pg_has_role('regress_ak_api', current_user, 'MEMBER') AS api_role_member
  FROM automation.api_keys WHERE name = 'super key';
SELECT outcome, role = current_user AS as_superuser FROM automation._api_authenticate(:'super_key', 'read:jobs', NULL);

-- 3. api_keys: no secret; each role sees its own keys and its roles' keys
SELECT string_agg(attname, ' ' ORDER BY attnum) AS api_keys_columns
  FROM pg_attribute WHERE attrelid = 'automation.api_keys'::regclass AND attnum > 0;
SET ROLE regress_ak_admin;
SELECT name, scopes, role, tenant_id, rate_limit, created_by, active FROM automation.api_keys ORDER BY name;
SET ROLE regress_ak_other;
SELECT count(*) AS others_see FROM automation.api_keys;
SELECT try($$SELECT * FROM automation.api_key_store$$);
RESET ROLE;

-- 4. _api_authenticate: API login roles only
SET ROLE regress_ak_admin;
SELECT try($$SELECT * FROM automation._api_authenticate('x', NULL, NULL)$$);
SELECT try($$SELECT * FROM automation._ratelimit_take('x', 1)$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION automation._api_authenticate(text, text, text, text, integer), automation._ratelimit_take(text, integer) TO regress_ak_other;
SET ROLE regress_ak_other;
SELECT try($$SELECT * FROM automation._api_authenticate('x', NULL, NULL)$$);
SELECT try($$SELECT * FROM automation._ratelimit_take('x', 1)$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION automation._api_authenticate(text, text, text, text, integer), automation._ratelimit_take(text, integer) FROM regress_ak_other;

SET ROLE regress_ak_api;
CREATE FUNCTION auth(key text, scope text, tenant text) RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' ', a.outcome, a.role, 'tenant=' || coalesce(a.tenant_id, '-'),
					 'limit=' || a.rate_limit, 'remaining=' || a.remaining, 'reset=' || a.reset_seconds,
					 'retry_after=' || a.retry_after)
	  FROM automation._api_authenticate(key, scope, tenant) a
$$;
CREATE FUNCTION auth2(key text, client text, anonymous_limit int) RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' ', a.outcome, 'key=' || coalesce(a.key_id, '-'), 'limit=' || a.rate_limit,
					 'remaining=' || a.remaining, 'retry_after=' || a.retry_after)
	  FROM automation._api_authenticate(key, 'read:jobs', NULL, client, anonymous_limit) a
$$;
SELECT auth(NULL, 'read:workflows', NULL) AS missing;
SELECT auth('wbk_' || repeat('0', 64), 'read:workflows', NULL) AS unknown;
SELECT auth(upper(:'key'), 'read:workflows', NULL) AS malformed;
SELECT auth(:'key' || ' ', 'read:workflows', NULL) AS trailing_space;
-- the admin key, limit 2 per minute: two pass, the third is refused
SELECT auth(:'key', 'read:workflows', 'acme') AS first;
SELECT auth(:'key', 'read:rules', NULL) AS second_missing_scope;
SELECT auth(:'key', 'read:workflows', NULL) AS third_rate_limited;
-- without a valid key: the client's bucket, when the server names the client
SELECT auth2(NULL, '127.0.0.9', 2) AS anonymous_1, auth2('wbk_x', '127.0.0.9', 2) AS anonymous_2;
SELECT auth2(NULL, '127.0.0.9', 2) AS anonymous_3, auth2(NULL, '127.0.0.8', 2) AS another_client;
-- the tenant key: its tenant, and a header naming another
SELECT auth(:'own_key', 'read:rules', NULL) AS own_tenant;
SELECT auth(:'own_key', 'read:rules', 'acme') AS same_header;
SELECT auth(:'own_key', 'read:rules', 'globex') AS other_header;
-- the key's role is what the request runs as
BEGIN;
SELECT set_config('role', 'regress_ak_member', true) AS role_set, current_user;
ROLLBACK;
-- expiry and revocation: invalid at the next request
RESET ROLE;
UPDATE automation.api_key_store SET expires_at = clock_timestamp() - interval '1 second' WHERE name = 'own key';
SET ROLE regress_ak_api;
SELECT auth(:'own_key', 'read:rules', NULL) AS expired;
RESET ROLE;

-- 5. revoke_api_key: creator or a member of the key's role; others see nothing
SET ROLE regress_ak_other;
SELECT mask(try(format('SELECT automation.revoke_api_key(%L)', :'key_id')));
SELECT try($$SELECT automation.revoke_api_key('ak_nothing')$$);
SET ROLE regress_ak_admin;
SELECT revoked_at IS NOT NULL AS revoked, active FROM jsonb_to_record(automation.revoke_api_key(:'key_id')) AS x(revoked_at text, active boolean);
SELECT (automation.revoke_api_key(:'key_id') ->> 'active')::boolean AS active_after_second_revoke;
SET ROLE regress_ak_api;
SELECT auth(:'key', 'read:workflows', NULL) AS revoked;
RESET ROLE;
-- a role dropped under a key: the key is invalid
CREATE ROLE regress_ak_gone;
GRANT regress_ak_gone TO CURRENT_USER;
SELECT automation.create_api_key('gone', '{read:jobs}', 'regress_ak_gone') ->> 'key' AS gone_key \gset
DROP ROLE regress_ak_gone;
SET ROLE regress_ak_api;
SELECT auth(:'gone_key', 'read:jobs', NULL) AS role_dropped;
RESET ROLE;

-- a creator that is no longer a member of the key's role: the key stops
CREATE ROLE regress_ak_lender;
GRANT regress_ak_lender TO regress_ak_member;
SET ROLE regress_ak_member;
SELECT automation.create_api_key('borrowed', '{read:jobs}', 'regress_ak_lender') ->> 'key' AS borrowed_key \gset
RESET ROLE;
SET ROLE regress_ak_api;
SELECT auth(:'borrowed_key', 'read:jobs', NULL) AS while_member;
RESET ROLE;
REVOKE regress_ak_lender FROM regress_ak_member;
SET ROLE regress_ak_api;
SELECT auth(:'borrowed_key', 'read:jobs', NULL) AS membership_revoked;
RESET ROLE;

-- 6. a burst: exactly the limit passes (the next token is 10 s away)
SELECT automation.create_api_key('burst', '{read:jobs}', 'regress_ak_admin', rate_limit => 6) ->> 'key' AS burst_key \gset
SET ROLE regress_ak_api;
SELECT count(*) FILTER (WHERE auth(:'burst_key', 'read:jobs', NULL) LIKE 'ok %') AS passed_of_10 FROM generate_series(1, 10);
RESET ROLE;

DROP SCHEMA ak CASCADE;
DROP EXTENSION automation CASCADE;
DROP OWNED BY regress_ak_api, regress_ak_admin, regress_ak_member, regress_ak_other, regress_ak_lender;
DROP ROLE regress_ak_lender;
DROP ROLE regress_ak_api;
DROP ROLE regress_ak_member;
DROP ROLE regress_ak_admin;
DROP ROLE regress_ak_other;
DROP ROLE regress_ak_super;
