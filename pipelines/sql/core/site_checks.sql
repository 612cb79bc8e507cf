-- materialized: view
-- Every typed site row with the reason it cannot be used, if any.
-- Grain: one row per input row. Key: source_file, row_number.
with sites as (
    select * from staging.sites
),

ranked as (
    select
        *,
        first_value(source_file || ' row ' || row_number) over by_site as first_defined_at,
        row_number() over by_site as n_defined
    from sites
    window by_site as (partition by site_id order by source_file, row_number)
),

final as (
    select
        * exclude (first_defined_at, n_defined),
        case when n_defined > 1
            then 'duplicate site_id ' || site_id || ' (first defined at ' || first_defined_at || ')'
        end as reject_reason
    from ranked
)

select * from final
