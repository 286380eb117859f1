-- The URL other nodes reach this node's API at (`--advertise-url`): container calls that
-- arrive at another node are forwarded there. Empty until the node has started serving.
ALTER TABLE nodes ADD COLUMN url TEXT NOT NULL DEFAULT '';
