-- Usable events, each counted once: a repeated event_id, or a whole row repeated where
-- there is no event_id, is one event; its first delivery in file order is kept.
-- The site is the user's site.
-- Grain: one row per event. Key: event_key.
with usable as (
    select * from core.event_checks
    where reject_reason is null
),

files as (
    select source_file, row_number() over (order by source_file) as file_ordinal
    from (select distinct source_file from usable)
),

deliveries as (
    -- one integer per delivery that sorts in file order: cheaper to compare than text
    select usable.*, files.file_ordinal * 4294967296 + usable.row_number as delivery
    from usable
    inner join files on usable.source_file = files.source_file
),

with_event_id as (
    select
        'id:' || event_id as event_key,
        arg_min(user_id, delivery) as user_id,
        arg_min(event_name, delivery) as event_name,
        arg_min(occurred_at, delivery) as occurred_at
    from deliveries
    where event_id is not null
    group by event_id
),

without_event_id as (
    select
        'row:' || min(delivery) as event_key,
        user_id,
        event_name,
        occurred_at
    from deliveries
    where event_id is null
    group by user_id, event_name, occurred_at, reported_site_id, properties
),

first_deliveries as (
    select * from with_event_id
    union all
    select * from without_event_id
),

final as (
    select
        first_deliveries.event_key,
        first_deliveries.user_id,
        users.site_id,
        first_deliveries.event_name,
        first_deliveries.occurred_at
    from first_deliveries
    inner join core.users as users on first_deliveries.user_id = users.user_id
)

select * from final
