-- materialized: view
-- Every typed feature row with the reason it cannot be used, if any: an event name mapped
-- twice keeps its first row (in file order), so that one event belongs to one feature.
-- Grain: one row per input row. Key: source_file, row_number.
with features as (
    select * from staging.features
),

ranked as (
    select
        *,
        first_value('row ' || row_number || ' of ' || source_file) over by_event_name as first_defined_at,
        row_number() over by_event_name as n_defined
    from features
    window by_event_name as (partition by event_name order by source_file, row_number)
),

final as (
    select
        * exclude (first_defined_at, n_defined),
        case when n_defined > 1
            then 'event_name ' || event_name || ' is already mapped by ' || first_defined_at
        end as reject_reason
    from ranked
)

select * from final
