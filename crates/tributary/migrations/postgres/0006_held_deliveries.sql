-- Notifications held until their instance has a callback URL: events may be turned on before
-- there is one, as in Cloud Elements. They are released by instance once a URL is set; like
-- the other parked statuses they get a partial index of their own, which deliveries on their
-- way through never enter.
CREATE INDEX deliveries_held ON deliveries (instance_id, created_at) WHERE status = 'held';
