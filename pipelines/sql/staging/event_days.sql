-- Events already counted per user, UTC day and event name (the event_days input item, made
-- by adoption rollup or a warehouse), that passed type checks, as loaded.
-- Grain: one row per input row. Key: source_file, row_number.
select
    user_id,
    "day" as event_date,
    event_name,
    events,
    first_event_at,
    last_event_at,
    coalesce(deliveries, events) as deliveries,
    source_file,
    row_number
from landing.event_days
where reason is null
