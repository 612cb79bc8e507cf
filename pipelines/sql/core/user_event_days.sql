-- Each user's events per UTC day and event name, each counted once: the grain of the
-- contract's event_days item, which features and journeys read; the rest of the build
-- reads its sum per user and day, event_days.
-- Grain: one row per user, day and event name with an event. Key: user_id, event_date, event_name.
select
    user_id,
    occurred_at::date as event_date,
    event_name,
    count(*) as events,
    min(occurred_at) as first_event_at,
    max(occurred_at) as last_event_at,
    sum(n_deliveries)::bigint as deliveries
from core.events
group by user_id, occurred_at::date, event_name
order by user_id, event_date, event_name
