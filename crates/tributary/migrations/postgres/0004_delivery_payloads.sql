-- A notification's body moves out of `deliveries` into a table of its own. The body is
-- written once and never changes, while a delivery's row changes at every claim and every
-- attempt; with the body inside, each of those changes rewrote the whole ~1 KiB row (and
-- its page), which made delivery mostly a matter of copying bodies around.
CREATE TABLE delivery_payloads (
    delivery_id TEXT PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
    -- The exact bytes every attempt sends.
    payload TEXT NOT NULL
);
INSERT INTO delivery_payloads (delivery_id, payload) SELECT id, payload FROM deliveries;
ALTER TABLE deliveries DROP COLUMN payload;
