-- engine_partitions: a watched partitioned table fires for rows of every
-- partition, including one attached later whose columns are in another order
-- (conditions and tokens resolve columns by name on each partition).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_partitions;
SET search_path = engine_partitions, public;
CREATE TABLE deals (id int, status text, region text, PRIMARY KEY (id, region))
	PARTITION BY LIST (region);
CREATE TABLE deals_eu PARTITION OF deals FOR VALUES IN ('eu');
-- the key is unique per region (the primary key), so the region is the
-- tenant column (0.3.0: the key must be unique, alone or with the tenant)
SELECT automation.watch('deal', 'engine_partitions.deals', key_column => 'id', tenant_column => 'region') ->> 'entity' AS watched;
SELECT automation.create_workflow('{"name": "won", "condition_entity": "deal",
	"condition_field": "status", "condition_operator": "changed_to", "condition_value": "won",
	"action_type": "webhook",
	"action_config": {"url": "https://example.com/won", "body": {"region": "{{deal.region}}", "id": "{{deal.id}}"}}}') IS NOT NULL AS created;
-- a partition attached after watch(), with its columns in another order
CREATE TABLE deals_us (region text NOT NULL, status text, id int NOT NULL);
ALTER TABLE deals ATTACH PARTITION deals_us FOR VALUES IN ('us');
INSERT INTO deals VALUES (1, 'open', 'eu'), (2, 'open', 'us'), (3, 'won', 'us');
UPDATE deals SET status = 'won' WHERE id IN (1, 2);
SELECT record_key, payload -> 'config' -> 'body' AS body, payload -> 'event' ->> 'operation' AS op
  FROM automation.jobs ORDER BY id;
-- explain speaks of the partitioned table
SELECT name, fires, reason FROM automation.explain('deal',
	'{"id": 9, "status": "won", "region": "us"}', '{"id": 9, "status": "open", "region": "us"}');
DROP SCHEMA engine_partitions CASCADE;
DROP EXTENSION automation;
