-- materialized: view
-- Usable events, each counted once: a repeated event_id, or a whole row repeated where
-- there is no event_id, is one event; its first delivery in file order is kept, and
-- n_deliveries counts the rows it came in. A view: the build
-- reads it once, into the events per user and day, and does not keep the events themselves.
-- Grain: one row per event. Key: source_file, row_number (of the first delivery).
with usable as not materialized (
    -- read again by each use below: cheaper than holding millions of rows for all of them;
    -- in an incremental build, without the rows whose event an earlier build counted
    select * from core.uncounted_events
),

repeated_event_ids as (
    -- few: every event_id that repeats among the usable rows repeats among all typed rows,
    -- which need no join to find; every other event passes through without being ranked.
    -- Grouped rather than sorted: a window over all rows would hold every event in one
    -- partition on Spark, which runs this model too (adoption rollup).
    select event_id
    from staging.events
    where event_id is not null
    group by event_id
    having count(*) > 1
),

delivered_once as (
    select
        usable.source_file,
        usable.row_number,
        usable.user_id,
        usable.event_name,
        usable.occurred_at,
        1 as n_deliveries
    from usable
    anti join repeated_event_ids on usable.event_id = repeated_event_ids.event_id
    where usable.event_id is not null
),

repeated_deliveries as (
    select
        usable.event_id,
        usable.user_id,
        usable.event_name,
        usable.occurred_at,
        {'source_file': usable.source_file, 'row_number': usable.row_number} as delivery
    from usable
    semi join repeated_event_ids on usable.event_id = repeated_event_ids.event_id
    where usable.event_id is not null
),

first_of_repeated as (
    select
        min(delivery) as delivery,
        arg_min(user_id, delivery) as user_id,
        arg_min(event_name, delivery) as event_name,
        arg_min(occurred_at, delivery) as occurred_at,
        count(*) as n_deliveries
    from repeated_deliveries
    group by event_id
),

first_without_event_id as (
    select
        min({'source_file': source_file, 'row_number': row_number}) as delivery,
        user_id,
        event_name,
        occurred_at,
        count(*) as n_deliveries
    from usable
    where event_id is null
    group by user_id, event_name, occurred_at, reported_site_id, properties
),

first_deliveries as (
    select * from delivered_once
    union all
    select delivery.source_file, delivery.row_number, user_id, event_name, occurred_at, n_deliveries
    from first_of_repeated
    union all
    select delivery.source_file, delivery.row_number, user_id, event_name, occurred_at, n_deliveries
    from first_without_event_id
),

final as (
    -- every user here is in core.users: event_checks rejects the others
    select
        source_file,
        row_number,
        user_id,
        event_name,
        occurred_at,
        n_deliveries
    from first_deliveries
)

select * from final
