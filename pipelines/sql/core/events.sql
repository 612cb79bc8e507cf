-- Usable events, each counted once: a repeated event_id, or a whole row repeated where
-- there is no event_id, is one event; its first delivery in file order is kept.
-- The site is the user's site.
-- Grain: one row per event. Key: event_key.
with usable as (
    select
        *,
        struct_pack(source_file, row_number, user_id, event_name, occurred_at) as delivery
    from core.event_checks
    where reject_reason is null
),

with_event_id as (
    select
        'id:' || event_id as event_key,
        min(delivery) as delivery
    from usable
    where event_id is not null
    group by event_id
),

without_event_id as (
    select min(delivery) as delivery
    from usable
    where event_id is null
    group by user_id, event_name, occurred_at, reported_site_id, properties
),

deliveries as (
    select event_key, delivery from with_event_id
    union all
    select 'row:' || delivery.source_file || ':' || delivery.row_number as event_key, delivery
    from without_event_id
),

final as (
    select
        deliveries.event_key,
        deliveries.delivery.user_id as user_id,
        users.site_id,
        deliveries.delivery.event_name as event_name,
        deliveries.delivery.occurred_at as occurred_at
    from deliveries
    inner join core.users as users on deliveries.delivery.user_id = users.user_id
)

select * from final
