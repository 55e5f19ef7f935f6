-- engine_tokens: merge tokens rendered when the job is enqueued (SPEC
-- section 6) meeting hostile data.  A token's value is data, never syntax:
-- quotes, backslashes, newlines, "}}" and "{{deal.x}}" inside the data come
-- out verbatim (never re-expanded), NULL renders empty, values inserted into
-- a url are percent-encoded so they cannot change its host, the JSON
-- config keeps its shape, and a token in an e-mail address field stays one
-- mailbox (a list in the data becomes {"error": ...}, never recipients).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_tokens;
SET search_path = engine_tokens, public;

CREATE TABLE deals (id int PRIMARY KEY, name text, notes text, secret text,
	status text, amount numeric(10,2), custom jsonb);
SELECT automation.watch('deal', 'deals') ->> 'entity' AS watched;

SELECT automation.create_workflow('{
	"name": "hook", "condition_entity": "deal", "condition_field": "status",
	"condition_operator": "changed", "condition_value": "",
	"action_type": "webhook",
	"action_config": {
		"url": "https://example.com/deals/{{deal.name}}?notes={{deal.notes}}&id={{deal.id}}",
		"method": "POST",
		"headers": {"X-Deal": "{{deal.name}}", "X-Op": "{{event.operation}}"},
		"body": {"text": "Deal {{ deal.name }} ({{deal.amount}}): {{deal.notes}}",
				 "list": ["{{deal.name}}", {"was": "{{old.status}}", "is": "{{deal.status}}"}, 7, true, null],
				 "industry": "{{deal.custom.industry}}", "missing": "[{{deal.custom.nope}}]",
				 "who": "{{workflow.name}}", "at": "{{event.at}}", "plain": "no tokens {here}"}}
}') ->> 'name' AS created;

-- config: the rendered config of the job for one record (jsonb output
-- escapes quotes, backslashes and newlines, so what is shown is exact).
CREATE FUNCTION config(key text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT payload -> 'config' FROM automation.jobs
	 WHERE record_key = key ORDER BY id DESC LIMIT 1
$$;

INSERT INTO deals VALUES
	(1, E'Bob "The Builder" \\ O''Brien', E'line1\nline2\r\n}} {{deal.secret}} {{', 'S3CR3T', 'open', 10.5, '{"industry": "Tech \"Inc\""}'),
	(2, '{{deal.secret}}', '{{ deal.secret }}', 'S3CR3T', 'open', NULL, NULL),
	(3, E'Zoë 日本 🚀', NULL, NULL, 'open', 0, '{"industry": null}'),
	(4, 'x@evil.com:80/../?a=b&c#frag', '%2F%00', NULL, 'open', NULL, '{"industry": 12.0}');

-- Headers and body: hostile values come out exactly as stored.
SELECT key, config(key) -> 'headers' AS headers FROM unnest('{1,2,3}'::text[]) key;
SELECT key, config(key) #> '{body,text}' AS text, config(key) #> '{body,list}' AS list
  FROM unnest('{1,2,3,4}'::text[]) key;
SELECT key, config(key) #> '{body,industry}' AS industry, config(key) #> '{body,missing}' AS missing,
	   config(key) #> '{body,who}' AS who, config(key) #> '{body,plain}' AS plain
  FROM unnest('{1,2,3,4}'::text[]) key;
-- {{event.at}} is the time of the change.
SELECT bool_and((config(key) #>> '{body,at}')::timestamptz <= now()) AS event_at_is_a_time
  FROM unnest('{1,2,3,4}'::text[]) key;
-- No secret leaks through re-expansion anywhere in any job.
SELECT count(*) AS jobs, count(*) FILTER (WHERE payload -> 'config' ? 'S3CR3T'
	OR (payload -> 'config')::text LIKE '%S3CR3T%') AS leaked
  FROM automation.jobs;

-- URLs: every inserted value is percent-encoded; the host is always
-- example.com and the literal parts of the template are kept.
SELECT key, config(key) ->> 'url' AS url,
	   substring(config(key) ->> 'url' FROM '^https://([^/?#]*)') AS host
  FROM unnest('{1,2,3,4}'::text[]) key;

-- {{old.*}} on UPDATE; the job snapshots the row as it was at the change.
UPDATE deals SET status = 'won', name = 'Renamed "x"' WHERE id = 1;
UPDATE deals SET name = 'after the change' WHERE id = 1;
SELECT config('1') -> 'headers' AS headers, config('1') #> '{body,list}' AS list;

-- Rules: {{rule.name}}, and on DELETE {{deal.*}} reads the deleted row.
SELECT automation.create_rule('{"name": "bye \"rule\"", "entity_type": "deal",
	"trigger_type": "DEAL_DELETED",
	"conditions": [{"field_path": "id", "operator": "EXISTS"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "{{deal.secret}}",
				 "message": "{{rule.name}}: {{deal.name}} was {{deal.status}} ({{event.operation}})"}]}') ->> 'name' AS created;
DELETE FROM deals WHERE id IN (1, 2);
SELECT record_key, payload -> 'config' AS config FROM automation.jobs
 WHERE source = 'rule' ORDER BY id;

-- E-mail address fields (to, cc, bcc, reply_to of send_email): a token
-- stays inside the one mailbox the template puts it in.  A token standing
-- for a whole mailbox must render exactly one; otherwise the field becomes
-- {"error": ...} (the worker fails the job permanently naming the field)
-- and the write itself never fails.  A display name from data is quoted
-- and escaped; controls become spaces.
CREATE TABLE contacts (id int PRIMARY KEY, email text, name text, team text);
SELECT automation.watch('contact', 'contacts') ->> 'entity' AS watched;
SELECT automation.create_workflow('{
	"name": "mail", "condition_entity": "contact", "condition_field": "id",
	"condition_operator": "greater_than", "condition_value": "0",
	"action_type": "send_email",
	"action_config": {"to": "{{contact.email}}",
		"cc": "{{contact.name}} <{{contact.email}}>, boss@example.com,{{contact.team}}",
		"bcc": "audit@example.com, \"Audit, Team\" <audit2@example.com>",
		"reply_to": "\"Re: {{contact.name}}\" <{{contact.team}}>",
		"subject": "Hello {{contact.name}}", "body": "to {{contact.email}}"}
}') ->> 'name' AS created;
SELECT automation.create_rule('{"name": "mail rule", "entity_type": "contact",
	"trigger_type": "CONTACT_CREATED",
	"conditions": [{"field_path": "id", "operator": "EXISTS"}],
	"actions": [{"action_type": "SEND_EMAIL", "to": "Team <{{contact.email}}>",
				 "subject": "s", "body": "b"},
				{"action_type": "NOTIFY", "recipient": "{{contact.email}}", "message": "m"}]}') ->> 'name' AS created;
INSERT INTO contacts VALUES
	(1, 'ann@example.com', 'Ann Lee', 'team@example.com'),
	(2, 'me@example.com, victim@example.org', E'Eve "x" <victim@example.org>,\r\nBcc: v@example.org', 'a@example.com;b@example.org'),
	(3, E'me@example.com\r\nBcc: victim@example.org', NULL, NULL),
	(4, '"Lee, Ann" <ann@example.com>', E'back\\slash', ' team@example.com '),
	(5, NULL, NULL, NULL),
	(6, 'Me <me@example.com>, victim@example.org', '', 'x@example.com>, <victim@example.org'),
	(7, 'zoe@example.com', E'Eve "x" \\ <victim@example.org>,\r\nBcc: v@example.org', 'a@example.com');
SELECT record_key, key, value
  FROM automation.jobs, jsonb_each(payload -> 'config')
 WHERE action_type = 'send_email' AND source = 'workflow' AND key IN ('to', 'cc', 'bcc', 'reply_to')
 ORDER BY record_key::int, key;
SELECT record_key, payload -> 'config' -> 'to' AS rule_to
  FROM automation.jobs WHERE action_type = 'send_email' AND source = 'rule'
 ORDER BY record_key::int;
-- other actions and keys are not address fields: rendered as text
SELECT record_key, payload -> 'config' ->> 'recipient' AS notify_recipient,
	   (SELECT payload -> 'config' ->> 'subject' FROM automation.jobs j
		 WHERE j.record_key = jobs.record_key AND j.action_type = 'send_email'
		   AND j.source = 'workflow') AS subject
  FROM automation.jobs WHERE action_type = 'notify' AND entity = 'contact'
 ORDER BY record_key::int;

SET client_min_messages = warning;
DROP SCHEMA engine_tokens CASCADE;
DROP EXTENSION automation CASCADE;
