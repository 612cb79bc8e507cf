-- The event_days item the rollup writes: the contract's columns, deliveries, and the month
-- (YYYY-MM of the day) the files are partitioned by.
-- Grain: one row per user, UTC day and event name with an event. Key: user_id, day, event_name.
select
    user_id,
    event_date as "day",
    event_name,
    events,
    first_event_at,
    last_event_at,
    deliveries,
    strftime(event_date, '%Y-%m') as "month"
from core.user_event_days
