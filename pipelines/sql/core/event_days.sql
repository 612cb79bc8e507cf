-- Each user's events per UTC day, each counted once: what user_weeks, as_of and the
-- users' first and last use are computed from. The file keeps these instead of every
-- event (a tenth of the rows at 20 million events), which is all that is read later.
-- Grain: one row per user and day with an event. Key: user_id, event_date.
select
    user_id,
    occurred_at::date as event_date,
    count(*) as events,
    min(occurred_at) as first_event_at,
    max(occurred_at) as last_event_at,
    sum(n_deliveries)::bigint as deliveries
from core.events
group by user_id, occurred_at::date
order by user_id, event_date
