-- Each user's events per UTC day, each counted once: what user_weeks, as_of and the
-- users' first and last use are computed from.
-- Grain: one row per user and day with an event. Key: user_id, event_date.
select
    user_id,
    event_date,
    sum(events)::bigint as events,
    min(first_event_at) as first_event_at,
    max(last_event_at) as last_event_at,
    sum(deliveries)::bigint as deliveries
from core.user_event_days
group by user_id, event_date
order by user_id, event_date
