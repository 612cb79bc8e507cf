-- materialized: view
-- Every typed user row with the reason it cannot be used, if any.
-- Grain: one row per input row. Key: source_file, row_number.
with users as (
    select * from staging.users
),

sites as (
    select site_id from core.sites
),

ranked as (
    select
        users.*,
        sites.site_id is not null as has_known_site,
        first_value(users.source_file || ' row ' || users.row_number) over by_user as first_defined_at,
        row_number() over by_user as n_defined
    from users
    left join sites on users.site_id = sites.site_id
    window by_user as (partition by users.user_id order by users.source_file, users.row_number)
),

final as (
    select
        * exclude (has_known_site, first_defined_at, n_defined),
        case
            when n_defined > 1
                then 'duplicate user_id ' || user_id || ' (first defined at ' || first_defined_at || ')'
            when not has_known_site
                then 'site_id ' || site_id || ' is not in the sites input'
            when deactivated_at < invited_at
                then 'deactivated_at ' || deactivated_at || ' is before invited_at ' || invited_at
        end as reject_reason
    from ranked
)

select * from final
