-- Each user's events per UTC day and event name, each counted once: the grain of the
-- contract's event_days item, which features and journeys read; the rest of the build
-- reads its sum per user and day, event_days. Counted here from the events, or given as the
-- event_days input (an input has one or the other); a day given without its first or last
-- event's time has the start of the day for it. An incremental build adds its new events to
-- the days of the file it extends (pipelines/load/previous_build.py).
-- Grain: one row per user, day and event name with an event. Key: user_id, event_date, event_name.
with new_deliveries as (
    -- each event read by this build, and (in an incremental build) new deliveries of the
    -- events the file it extends counted, which add to deliveries only
    select
        user_id,
        cast(occurred_at as date) as event_date,
        event_name,
        1 as events,
        occurred_at as first_event_at,
        occurred_at as last_event_at,
        n_deliveries as deliveries
    from core.events
    union all
    select user_id, event_date, event_name, 0, null, null, deliveries
    from core.recounted_event_days
),

new_days as (
    select
        user_id,
        event_date,
        event_name,
        cast(sum(events) as bigint) as events,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        cast(sum(deliveries) as bigint) as deliveries
    from new_deliveries
    group by user_id, event_date, event_name
),

counted_before as (
    -- an incremental build: the days of the file it extends; nothing in a full build
    select * from landing.counted_user_event_days
),

from_events as (
    -- the new days added to the same days counted before, and the days on either side alone
    -- as they are: one join that reads each side once, not a second count of all the days
    select
        coalesce(new_days.user_id, counted_before.user_id) as user_id,
        coalesce(new_days.event_date, counted_before.event_date) as event_date,
        coalesce(new_days.event_name, counted_before.event_name) as event_name,
        coalesce(new_days.events, 0) + coalesce(counted_before.events, 0) as events,
        least(new_days.first_event_at, counted_before.first_event_at) as first_event_at,
        greatest(new_days.last_event_at, counted_before.last_event_at) as last_event_at,
        coalesce(new_days.deliveries, 0) + coalesce(counted_before.deliveries, 0) as deliveries
    from new_days
    full join counted_before
        on new_days.user_id = counted_before.user_id
        and new_days.event_date = counted_before.event_date
        and new_days.event_name = counted_before.event_name
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

-- not sorted: sorting 12 million rows (the 20M-event demo) doubled the time to count them,
-- and no reader needs an order
select * from final
