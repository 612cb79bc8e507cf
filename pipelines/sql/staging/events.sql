-- Product usage events that passed type checks, as loaded (repeats still in).
-- Grain: one row per input row. Key: source_file, row_number.
select
    event_id,
    user_id,
    site_id as reported_site_id,
    event_name,
    "timestamp" as occurred_at,
    properties,
    source_file,
    row_number
from landing.events
where reason is null
