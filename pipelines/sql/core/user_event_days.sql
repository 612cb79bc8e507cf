-- Each user's events per UTC day and event name, each counted once: the grain of the
-- contract's event_days item, which features and journeys read; the rest of the build
-- reads its sum per user and day, event_days. Counted here from the events, or given as the
-- event_days input (an input has one or the other); a day given without its first or last
-- event's time has the start of the day for it. An incremental build adds its new events to
-- the days of the file it extends (pipelines/load/previous_build.py).
-- Grain: one row per user, day and event name with an event. Key: user_id, event_date, event_name.
with events as (
    select
        user_id,
        cast(occurred_at as date) as event_date,
        event_name,
        1 as events,
        occurred_at as first_event_at,
        occurred_at as last_event_at,
        n_deliveries as deliveries
    from core.events
),

counted_before as (
    -- an incremental build: the days of the file it extends (nothing in a full build), and
    -- new deliveries of the events counted there
    select user_id, event_date, event_name, events, first_event_at, last_event_at, deliveries
    from landing.counted_user_event_days
    union all
    select user_id, event_date, event_name, 0, null, null, deliveries
    from core.recounted_event_days
),

from_events as (
    select
        user_id,
        event_date,
        event_name,
        cast(sum(events) as bigint) as events,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        cast(sum(deliveries) as bigint) as deliveries
    from (select * from events union all select * from counted_before)
    group by user_id, event_date, event_name
),

from_event_days as (
    select
        user_id,
        event_date,
        event_name,
        events,
        coalesce(first_event_at, cast(event_date as timestamp)) as first_event_at,
        coalesce(last_event_at, cast(event_date as timestamp)) as last_event_at,
        deliveries
    from core.event_day_checks
    where reject_reason is null
),

final as (
    select * from from_events
    union all
    select * from from_event_days
)

select * from final
order by user_id, event_date, event_name
