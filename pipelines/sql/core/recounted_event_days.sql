-- materialized: view
-- Deliveries of events the build this one extends counted already (none in a full build),
-- per user, UTC day and event name: they add to user_event_days' deliveries, never to its
-- events. A repeat counts on its own day, which is its first delivery's unless the repeat
-- names another user, day or event name (pipelines.load.previous_build checks for a day the
-- previous build did not count).
-- Grain: one row per user, day and event name. Key: user_id, event_date, event_name.
select
    keyed.user_id,
    cast(keyed.occurred_at as date) as event_date,
    keyed.event_name,
    count(*) as deliveries
from core.keyed_events as keyed
semi join landing.counted_event_keys as counted on keyed.event_key = counted.event_key
group by keyed.user_id, cast(keyed.occurred_at as date), keyed.event_name
