-- materialized: view
-- The events and event_days rows that cannot be used, with the reason: mistyped, or naming a
-- user the build does not know or a time before the user's invitation week. What adoption
-- rollup hands the build beside event_days (unreadable rows come from the reader's rejects),
-- and the events' share of the quarantine table.
-- Grain: one row per rejected event row. Key: source_file, row_number.
with mistyped as (
    select source_file, row_number, reason, raw
    from landing.events
    where reason is not null
    union all
    select source_file, row_number, reason, raw
    from landing.event_days
    where reason is not null
),

inconsistent as (
    select
        source_file,
        row_number,
        reject_reason as reason,
        -- times as text: each engine writes a timestamp in JSON its own way
        to_json(struct_pack(
            user_id,
            "timestamp" := cast(occurred_at as varchar),
            event_name,
            event_id,
            site_id := reported_site_id
        )) as raw
    from core.event_checks
    where reject_reason is not null
    union all
    select
        source_file,
        row_number,
        reject_reason,
        to_json(struct_pack(
            user_id,
            "day" := cast(event_date as varchar),
            event_name,
            events,
            first_event_at := cast(first_event_at as varchar),
            last_event_at := cast(last_event_at as varchar)
        ))
    from core.event_day_checks
    where reject_reason is not null
),

final as (
    select * from mistyped
    union all
    select * from inconsistent
)

select source_file, row_number, reason, cast(raw as varchar) as raw from final
