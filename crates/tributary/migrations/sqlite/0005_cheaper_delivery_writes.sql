-- A delivery changes status at every claim and every outcome. The index on
-- (instance_id, status) had two entries rewritten each time, on pages spread over as many
-- instances as a batch touched: most of what a group commit wrote. The instance alone (for
-- deleting an instance's deliveries) never changes. The parked statuses, released and listed
-- by instance, get partial indexes that deliveries on their way through never enter; they
-- serve statements that name the status as a literal, as the planner needs.
DROP INDEX deliveries_instance;
CREATE INDEX deliveries_instance ON deliveries (instance_id);
CREATE INDEX deliveries_queued ON deliveries (instance_id, created_at) WHERE status = 'queued';
CREATE INDEX deliveries_failed ON deliveries (instance_id, created_at) WHERE status = 'failed';
