-- materialized: view
-- Every typed feature row with the reason it cannot be used, if any: an event name mapped
-- twice keeps its first row (in file order), so that one event belongs to one feature.
-- Grain: one row per input row. Key: source_file, row_number.
with features as (
    select
        *,
        first({'source_file': source_file, 'row_number': row_number}) over (
            partition by event_name order by source_file, row_number
        ) as first_row
    from staging.features
),

final as (
    select
        * exclude (first_row),
        case
            when first_row.source_file <> source_file or first_row.row_number <> row_number
                then 'event_name ' || event_name || ' is already mapped by row ' || first_row.row_number
                    || ' of ' || first_row.source_file
        end as reject_reason
    from features
)

select * from final
