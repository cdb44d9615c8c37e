-- Subscription names are scoped per owning institution (issue 19): two institutions may each
-- have a subscription named `inbox`, and one cannot learn of or take another's name. The key
-- becomes (owner, name); names were unique before, so every existing row keeps its place.
ALTER TABLE handoff.subscriptions DROP CONSTRAINT subscriptions_pkey;
ALTER TABLE handoff.subscriptions ADD CONSTRAINT subscriptions_pkey PRIMARY KEY (owner, name);
