-- materialized: view
-- The usable event rows whose event was not counted by the build this one extends (every
-- usable row in a full build): what the events model counts. landing.counted_event_keys holds
-- the previous file's event_keys in an incremental build, nothing in a full one.
-- Grain: one row per usable input row. Key: source_file, row_number.
select keyed.*
from core.keyed_events as keyed
anti join landing.counted_event_keys as counted on keyed.event_key = counted.event_key
