-- The week the build reports on: `as_of` is the Monday of the last complete week in
-- the events (a week ends on Sunday, UTC), unless the build was given a date.
-- Grain: one row.
with latest as (
    select max(last_event_at) as last_event_at from core.event_days
),

final as (
    select
        coalesce(
            date_trunc('week', $as_of::date),
            date_trunc('week', last_event_at::date + 1) - interval 7 day
        )::date as as_of,
        last_event_at
    from latest
)

select
    as_of,
    (as_of + interval 7 day)::timestamp as window_end,
    last_event_at
from final
