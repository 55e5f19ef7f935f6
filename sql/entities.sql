-- entities: watch / unwatch (SPEC section 2) and channels, every accepted
-- and rejected value.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA entities;
SET search_path = entities, public;
\pset format unaligned
\pset tuples_only on
-- try(q): run q; 'ok' (rolled back unless keep) or the error's SQLSTATE,
-- message, detail and hint, with ids masked.
\set try_style verbose
\set try_keep param
\i sql/include/helpers.sql
CREATE TABLE deals (id bigserial PRIMARY KEY, name text, status text, org_id text);
CREATE TABLE "Mixed Case" ("Id" int PRIMARY KEY, "Org" text);
CREATE TABLE nopk (a int UNIQUE, b int);
CREATE TABLE twopk (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE parted (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE VIEW deals_v AS SELECT * FROM deals;
CREATE SEQUENCE seq;
CREATE TEMP TABLE tmp (id int PRIMARY KEY);

-- accepted: default key column is the single-column primary key
SELECT automation.watch('deal', 'deals') - 'created_at';
SELECT tgname, tgrelid::regclass, tgenabled FROM pg_trigger WHERE tgname = 'automation_row_trigger';
-- accepted: explicit key and tenant columns, quoted identifiers
SELECT automation.watch('mixed', '"Mixed Case"', key_column => 'Id', tenant_column => 'Org') - 'created_at';
-- accepted: a partitioned table with an explicit key column, unique per
-- region (its primary key), the region as the tenant column (0.3.0: the key
-- must be unique, alone or with the tenant column)
SELECT automation.watch('parted', 'parted', key_column => 'id', tenant_column => 'region') - 'created_at';
SELECT name, relation, key_column, tenant_column FROM automation.entities ORDER BY name;

-- rejected entity names
SELECT try($$SELECT automation.watch('Deal', 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch('1deal', 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch('', 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch(NULL, 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch('a-b', 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch(repeat('a', 64), 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch(repeat('a', 63), 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch('old', 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch('event', 'nopk', 'a')$$);
-- rejected relations
SELECT try($$SELECT automation.watch('v', 'deals_v', 'id')$$);
SELECT try($$SELECT automation.watch('s', 'seq', 'last_value')$$);
SELECT try($$SELECT automation.watch('t', 'tmp')$$);
SELECT try($$SELECT automation.watch('w', 'automation.workflows', 'id')$$);
SELECT try($$SELECT automation.watch('c', 'pg_catalog.pg_class', 'oid')$$);
SELECT try($$SELECT automation.watch('x', NULL)$$);
SELECT try($$SELECT automation.watch('x', 'no_such_table')$$);
-- rejected key and tenant columns
SELECT try($$SELECT automation.watch('x', 'nopk')$$);
SELECT try($$SELECT automation.watch('x', 'twopk')$$);
SELECT try($$SELECT automation.watch('x', 'parted')$$);
SELECT try($$SELECT automation.watch('x', 'nopk', 'c')$$);
SELECT try($$SELECT automation.watch('x', 'nopk', 'A')$$);
SELECT try($$SELECT automation.watch('x', 'nopk', 'a', 'org')$$);
-- accepted: key column given for a table without a primary key (a unique column)
SELECT try($$SELECT automation.watch('x', 'nopk', 'a', 'b')$$);
-- duplicates (23505)
SELECT try($$SELECT automation.watch('deal', 'nopk', 'a')$$);
SELECT try($$SELECT automation.watch('deal2', 'deals')$$);
-- direct SQL gets the same checks
SELECT try($$INSERT INTO automation.entities (name, relation, key_column) VALUES ('y', 'nopk', 'zz')$$);
SELECT try($$INSERT INTO automation.entities (name, relation) VALUES ('y', 'twopk')$$);
SELECT try($$INSERT INTO automation.entities (name, relation) VALUES ('Y', 'deals')$$);
SELECT try($$UPDATE automation.entities SET tenant_column = 'nope' WHERE name = 'deal'$$);
SELECT try($$UPDATE automation.entities SET relation = 'nopk' WHERE name = 'deal'$$);
SELECT try($$UPDATE automation.entities SET tenant_column = 'org_id' WHERE name = 'deal'$$);

-- unwatch
SELECT try($$SELECT automation.unwatch('nope')$$);
SELECT try($$SELECT automation.unwatch(NULL)$$);
SELECT automation.create_workflow('{"name": "w", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}') ->> 'name';
SELECT try($$SELECT automation.unwatch('deal')$$);
SELECT try($$DELETE FROM automation.entities WHERE name = 'deal'$$);
SELECT automation.unwatch('deal', cascade => true);
SELECT count(*) AS workflows_left FROM automation.workflows;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'deals'::regclass AND tgname = 'automation_row_trigger';
SELECT automation.unwatch('mixed');
SELECT name FROM automation.entities ORDER BY name;
-- a dropped table can still be unwatched
CREATE TABLE gone (id int PRIMARY KEY);
SELECT automation.watch('gone', 'gone') ->> 'entity';
DROP TABLE gone;
SELECT automation.unwatch('gone');

-- channels
SELECT automation.create_channel('slack', 'https://hooks.slack.com/services/T/B/x') - 'created_at';
SELECT automation.create_channel('ops', 'http://ops.example.com:8080/in', 'json') - 'created_at';
SELECT try($$SELECT automation.create_channel('slack', 'https://other.example.com/')$$);
SELECT try($$SELECT automation.create_channel('', 'https://a.example.com/')$$);
SELECT try($$SELECT automation.create_channel(repeat('c', 121), 'https://a.example.com/')$$);
SELECT try($$SELECT automation.create_channel('c', 'ftp://a.example.com/')$$);
SELECT try($$SELECT automation.create_channel('c', 'https://')$$);
SELECT try($$SELECT automation.create_channel('c', 'https://user:pw@a.example.com/')$$);
SELECT try($$SELECT automation.create_channel('c', 'https://a.example.com/{{deal.name}}')$$);
SELECT try($$SELECT automation.create_channel('c', 'https://a.example.com/ x')$$);
SELECT try($$SELECT automation.create_channel('c', NULL)$$);
SELECT try($$SELECT automation.create_channel('c', 'https://a.example.com/', 'xml')$$);
SELECT try($$SELECT automation.create_channel('c', 'https://a.example.com/', NULL)$$);
SELECT try($$INSERT INTO automation.channels (name, url) VALUES ('d', 'gopher://x')$$);
SELECT try($$UPDATE automation.channels SET name = 'slack2' WHERE name = 'slack'$$);
SELECT try($$SELECT automation.delete_channel('nope')$$);
SELECT automation.delete_channel('ops');
SELECT name, format, url FROM automation.channels ORDER BY name;

SET client_min_messages = warning;
DROP SCHEMA entities CASCADE;
DROP EXTENSION automation;
